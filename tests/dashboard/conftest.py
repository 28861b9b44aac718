"""A small world for the dashboard: the mini plan, the liaisons of the task-2 units, staff, and the
October reports of task 2 in every state (accepted, submitted, returned)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Indicator, Period, Task
from app.units.models import Unit


def item_of(task_number: int, unit_name: str) -> Assignment:
    return db.session.execute(
        select(Assignment).join(Task, Task.id == Assignment.task_id).join(Unit, Unit.id == Assignment.unit_id)
        .where(Task.number == task_number, Unit.name == unit_name)).scalar_one()


def report(item: Assignment, period: Period, user, values: dict[str, Decimal], then: tuple[str, ...], staff):
    """A report with figures (indicator key → value), moved along `then` (submit, accept, return)."""
    from app.reports import services

    inds = services.indicators_for(item)
    data = services.ReportInput("进展", "", "", {i.id: values.get(i.key, Decimal(1)) for i in inds})
    r = services.save_report(item, period, user, data, None)
    for action in then:
        who = user if action == "submit" else staff
        services.transition(r, action, who, reason="口径不一致" if action == "return" else None)
    db.session.commit()
    return r


@pytest.fixture
def world(factory):
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    users = {name: factory.user(f"lx-{i}", unit=name) for i, name in enumerate(
        ("自治区工业和信息化厅", "甲市", "乙盟", "自治区商务厅"))}
    staff = factory.user("staff", role="staff")
    factory.user("auditor", role="auditor")
    october = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly",
                                                      Period.label.like("%10月"))).scalar_one()
    jobs = db.session.execute(select(Indicator).where(Indicator.key == "t2-jobs")).scalar_one()
    reports = {
        "gxt": report(item_of(2, "自治区工业和信息化厅"), october, users["自治区工业和信息化厅"],
                      {"t2-jobs": Decimal("8.5")}, ("submit", "accept"), staff),
        "jia": report(item_of(2, "甲市"), october, users["甲市"], {"t2-jobs": Decimal(3)}, ("submit", "accept"), staff),
        "yi": report(item_of(2, "乙盟"), october, users["乙盟"], {"t2-jobs": Decimal(2)}, ("submit",), staff),
        "sw": report(item_of(2, "自治区商务厅"), october, users["自治区商务厅"], {}, ("submit", "return"), staff),
    }
    return {"plan": plan, "october": october, "jobs": jobs, "staff": staff, "reports": reports, "users": users}
