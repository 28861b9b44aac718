"""The brief pages and the issue of each kind of brief run the same number of SQL statements on a small data set
and on one ten times larger (tests/review/test_statement_counts.py does the same for the review pages)."""

from __future__ import annotations

from sqlalchemy import select

from app.demo.synth import synthesize
from app.extensions import db
from app.plans.models import Period
from app.plans.services import find_plan
from tests.statement_counts import assert_flat, count_statements, warm_counts


def _measure(app, login, factory, scale: int) -> dict[str, int]:
    stats = synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=5, months=12, echo=lambda s: None)
    factory.user("office", role="staff")
    staff = login(app.test_client(), "office")
    plan = find_plan(stats["largest_plan"])
    months = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                .order_by(Period.start)).scalars().all()
    db.session.rollback()
    counts = {}
    kinds = {"monthly": months[10], "quarterly": months[8], "annual": months[11]}  # Nov; Sep (Q3); Dec (the year)
    for kind, period in kinds.items():
        data = {"plan": str(plan.id), "kind": kind, "period": str(period.id)}
        count_statements(app, staff, "/briefs/issue", data=data)  # warm up (and a first brief of the kind)
        counts[f"issue {kind}"] = count_statements(app, staff, "/briefs/issue", data=data)
    from app.briefs.models import Brief

    brief = db.session.execute(select(Brief.id).order_by(Brief.id.desc())).scalars().first()
    db.session.rollback()
    pages = {"index": f"/briefs?plan={plan.id}", "index all": "/briefs", "show": f"/briefs/{brief}",
             "download": f"/briefs/{brief}.docx"}
    return {**counts, **warm_counts(app, staff, pages)}


def test_statements_do_not_grow_with_the_data(app, login, factory):
    assert_flat(app, lambda scale: _measure(app, login, factory, scale), limit=40)
