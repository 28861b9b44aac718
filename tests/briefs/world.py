"""A small world for the brief tests: the mini plan, liaisons of five units, staff and an auditor, and the
October reports in known states with known figures (the hand-computed figures are in test_content.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.plans.models import Assignment, Indicator, Period, Task
from app.reports import services as reports
from app.units.models import Unit

UNITS = {"lx-gxt": "自治区工业和信息化厅", "lx-rs": "自治区人力资源社会保障厅", "lx-jia": "甲市", "lx-yi": "乙盟",
         "lx-jy": "自治区教育厅"}


def user(name: str) -> User:
    return db.session.execute(select(User).where(User.username == name)).scalar_one()


def item(task: int, unit: str) -> Assignment:
    return db.session.execute(
        select(Assignment).join(Task, Task.id == Assignment.task_id).join(Unit, Unit.id == Assignment.unit_id)
        .where(Task.number == task, Unit.name == unit)).scalar_one()


def month(label: str) -> Period:
    return db.session.execute(select(Period).where(Period.label == label, Period.kind == "monthly")).scalar_one()


def indicator(key: str) -> Indicator:
    return db.session.execute(select(Indicator).where(Indicator.key == key)).scalar_one()


def report(task: int, unit: str, period: Period, figures: dict[str, str], *, submitted: datetime | None = None,
           then: str | None = None, text: str = "本月推进顺利。"):
    """A report with figures (by indicator key); submitted at ``submitted`` (the time recorded), then
    accepted or returned by staff when ``then`` says so."""
    a = item(task, unit)
    liaison = next(u for u, n in UNITS.items() if n == unit)
    data = reports.ReportInput(text, "", "", {indicator(k).id: Decimal(v) for k, v in figures.items()})
    r = reports.save_report(a, period, user(liaison), data, None)
    if submitted is not None:
        reports.transition(r, "submit", user(liaison))
        r.first_submitted_at = r.submitted_at = submitted
        if then == "accept":
            reports.transition(r, "accept", user("staff"))
        elif then == "return":
            reports.transition(r, "return", user("staff"), reason="请补充说明。")
    db.session.flush()
    return r


def build(factory) -> dict[str, Any]:
    plan = factory.plan()
    for name, unit in UNITS.items():
        factory.user(name, unit=unit)
    factory.user("staff", role="staff")
    factory.user("staff2", role="staff")
    factory.user("admin", role="admin")
    factory.user("auditor", role="auditor")
    october = month("2025年10月")
    on_time, late = datetime(2025, 11, 3, 2), datetime(2025, 11, 10, 2)  # due 2025-11-07
    gxt = report(2, "自治区工业和信息化厅", october, {"t2-jobs": "8"}, submitted=on_time, then="accept")
    report(2, "甲市", october, {"t2-jobs": "3"}, submitted=late, then="accept")
    report(2, "乙盟", october, {"t2-jobs": "2"}, submitted=datetime(2025, 11, 5, 2))  # submitted, not accepted
    rs = report(1, "自治区人力资源社会保障厅", october, {"new-jobs": "10"}, submitted=on_time, then="accept")
    report(3, "自治区人力资源社会保障厅", october, {"t3-rate": "5.2"}, submitted=on_time, then="return")
    db.session.commit()
    return {"plan": plan, "october": october, "gxt_report": gxt, "rs_report": rs}
