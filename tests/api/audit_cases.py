"""The API's state-changing routes for the audit walk of tests/audit/test_routes_audited.py.

That table is the audit area's; it takes these with one line beside its CASES:
    CASES.update(api_audit_cases(Case))
"""

from __future__ import annotations

from typing import Any


def _token_for(username: str):
    def setup(world: dict[str, Any]) -> dict[str, Any]:
        from sqlalchemy import select

        from app.api.services import create_token
        from app.auth.models import User
        from app.extensions import db

        user = db.session.execute(select(User).where(User.username == username)).scalar_one()
        new = create_token(user, f"{username} 的推送系统", None)
        return {"token": new.secret, "token_id": new.token.id}

    return setup


def api_audit_cases(case: type) -> dict[str, list[Any]]:
    """`case` is the walk's Case class: (user, url, data, method=, actor=, setup=, headers=, json=)."""
    return {
        "tokens.mine": [case("lx-own", "/account/tokens", {"name": "统计系统推送", "expires_on": ""})],
        "tokens.revoke": [case("admin", lambda w: f"/account/tokens/{w['token_id']}/revoke", {"reason": "停用"},
                               setup=_token_for("lx-own"))],
        "api.save_report": [case(
            None, lambda w: f"/api/v1/assignments/{w['item']}/reports/{w['free_period']}",
            lambda w: {"version": 0, "progress_text": "本月发布岗位 3 万个。",
                       "figures": {"t2-jobs": 12.5}, "submit": True},
            method="PUT", json=True, actor="lx-own", setup=_token_for("lx-own"),
            headers=lambda w: {"Authorization": f"Bearer {w['token']}"})],
    }
