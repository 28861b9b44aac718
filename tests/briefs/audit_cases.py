"""The briefs area's state-changing routes for the audit walk of tests/audit/test_routes_audited.py.

That table is the audit area's; it takes these with one line beside its CASES:
    CASES.update(briefs_audit_cases(Case))
"""

from __future__ import annotations

from typing import Any


def _issue_form(world: dict[str, Any]) -> dict[str, str]:
    from app.plans.services import find_plan

    plan = find_plan(world["plan"])
    return {"plan": str(plan.id), "kind": "monthly", "period": str(world["period"])}


def _marked(world: dict[str, Any]) -> None:
    """The world's (submitted) report marked as a good practice, so that the mark can be taken away."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.briefs.services import mark_practice
    from app.extensions import db
    from app.reports.models import Report

    staff = db.session.execute(select(User).where(User.username == "staff")).scalar_one()
    mark_practice(db.session.get(Report, world["report"]), staff, "岗位归集", "统一归集发布。")


def briefs_audit_cases(case: type) -> dict[str, list[Any]]:
    """`case` is the walk's Case class: (user, url, data, method=, actor=, setup=, headers=, json=)."""
    return {
        "briefs.issue": [case("staff", "/briefs/issue", _issue_form)],
        "briefs.mark": [case("staff", lambda w: f"/briefs/practice/{w['report']}",
                             {"title": "岗位归集“一张网”", "note": "全区岗位信息统一归集发布。"})],
        "briefs.unmark": [case("staff", lambda w: f"/briefs/practice/{w['report']}/unmark", setup=_marked)],
    }
