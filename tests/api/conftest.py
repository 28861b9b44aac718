"""Fixtures for the API tests: the mini plan, a user of each role with a token, and a client
that sends `Authorization: Bearer` for a named user."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.units.models import Unit

USERS = {
    "liaison": ("lx-own", "liaison", "自治区工业和信息化厅"),
    "other_liaison": ("lx-other", "liaison", "自治区教育厅"),
    "staff": ("staff", "staff", None),
    "admin": ("admin", "admin", None),
    "auditor": ("auditor", "auditor", None),
}


class Api:
    """Bearer-token requests for the users of the world."""

    def __init__(self, client, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    def get(self, who: str | None, url: str, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.get(url, headers={**self.headers(who), **(headers or {})}, **kwargs)

    def put(self, who: str | None, url: str, body: Any, headers: dict[str, str] | None = None, **kwargs: Any):
        return self.client.put(url, json=body, headers={**self.headers(who), **(headers or {})}, **kwargs)

    def open(self, who: str | None, method: str, url: str, **kwargs: Any):
        return self.client.open(url, method=method, headers=self.headers(who), **kwargs)


@pytest.fixture
def world(factory) -> dict[str, Any]:
    """The mini plan; lx-own liaises for 工业和信息化厅 (lead of task 2), lx-other for 教育厅."""
    from app.api.services import create_token

    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    users = {role: factory.user(name, role=r, unit=unit) for role, (name, r, unit) in USERS.items()}
    tokens = {role: create_token(u, f"{role} token", None).secret for role, u in users.items()}
    db.session.commit()
    own = users["liaison"]
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                       Assignment.unit_id == own.unit_id)).scalar_one()
    other_unit = db.session.execute(select(Unit).where(Unit.name == "自治区教育厅")).scalar_one()
    other_item = db.session.execute(select(Assignment).where(Assignment.unit_id == other_unit.id)).scalars().first()
    periods = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().all()
    return {"plan": plan.slug, "plan_id": plan.id, "item": item.id, "other_item": other_item.id,
            "unit": own.unit_id, "other_unit": other_unit.id, "periods": [p.id for p in periods],
            "period": periods[0].id, "users": {k: u.id for k, u in users.items()}, "tokens": tokens,
            "task2": task2.id}


@pytest.fixture
def api(app, world) -> Api:
    return Api(app.test_client(), world["tokens"])
