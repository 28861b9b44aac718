"""A hand-counted world for the ranking: the mini plan, reports with chosen submission times,
returns, ladder steps and flags, and what each unit's measures must be."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.extensions import db
from app.integrity.models import Flag
from app.plans.models import Assignment, Indicator, Period, Plan
from app.reminders.models import DueOverride, LadderStep
from app.reports.models import Report, ReportTransition
from app.units.models import Unit

T0 = datetime(2025, 3, 1)


def _unit(name: str) -> Unit:
    return db.session.execute(select(Unit).where(Unit.name == name)).scalar_one()


def _assignment(unit: str, task: int) -> Assignment:
    from app.plans.models import Task

    return db.session.execute(select(Assignment).join(Task, Task.id == Assignment.task_id).where(
        Assignment.unit_id == _unit(unit).id, Task.number == task)).scalar_one()


def add_report(assignment: Assignment, period: Period, state: str, submitted: datetime | None) -> Report:
    report = Report(assignment_id=assignment.id, period_id=period.id, state=state, submitted_at=submitted,
                    first_submitted_at=submitted, created_at=T0, updated_at=T0)
    db.session.add(report)
    db.session.flush()
    return report


@pytest.fixture
def ranked(factory) -> dict[str, Any]:
    """Ranking up to 2025年3月 covers three periods (Feb, Mar, Q1): each unit's due reports are
    its assignments × 3. Submission times are UTC; the due day ends at 16:00 UTC (Asia/Shanghai)."""
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    factory.user("staff", role="staff")
    factory.user("admin", role="admin")
    factory.user("auditor", role="auditor")
    factory.user("lx-own", unit="自治区工业和信息化厅")
    periods = {p.label: p for p in db.session.execute(select(Period).where(Period.plan_id == plan.id)).scalars()}
    feb, mar, q1 = periods["2025年2月"], periods["2025年3月"], periods["2025年第1季度"]
    staff = db.session.execute(select(User).where(User.username == "staff")).scalar_one()
    # 工信厅 (task 2): Feb on time, returned once and resubmitted; Mar late; Q1 never submitted,
    # urged and escalated (plus a step after the cut-off and a reminder, neither counted)
    it = _assignment("自治区工业和信息化厅", 2)
    r = add_report(it, feb, "submitted", datetime(2025, 3, 5, 2, 0))
    db.session.add_all([
        ReportTransition(report_id=r.id, action="return", from_state="submitted", to_state="returned",
                         user_id=staff.id, at=datetime(2025, 3, 6), reason="口径"),
        ReportTransition(report_id=r.id, action="submit", from_state="returned", to_state="submitted",
                         user_id=staff.id, at=datetime(2025, 3, 6, 5)),
    ])
    add_report(it, mar, "accepted", datetime(2025, 4, 10, 3, 0))
    add_report(it, q1, "draft", None)
    for step, taken in (("remind", datetime(2025, 4, 10)), ("urge", datetime(2025, 4, 16)),
                        ("escalate", datetime(2025, 4, 22)), ("refer", datetime(2025, 12, 1))):
        db.session.add(LadderStep(assignment_id=it.id, period_id=q1.id, step=step, due=q1.due, day=taken.date(),
                                  taken_at=taken))
    # 发展改革委 (task 1): all three on time
    ndrc = _assignment("自治区发展改革委", 1)
    for p in (feb, mar, q1):
        add_report(ndrc, p, "accepted", datetime.combine(p.due, datetime.min.time()))
    # 教育厅 (task 3): Feb submitted at 00:00 local on the day after the due date (late by a second);
    # Mar and Q1 on time at 15:59 UTC (23:59 local) on the due day; one open flag, one dismissed
    edu = _assignment("自治区教育厅", 3)
    add_report(edu, feb, "submitted", datetime(feb.due.year, feb.due.month, feb.due.day, 16, 0))
    for p in (mar, q1):
        add_report(edu, p, "submitted", datetime(p.due.year, p.due.month, p.due.day, 15, 59))
    indicator = db.session.execute(select(Indicator).where(Indicator.plan_id == plan.id)).scalars().first()
    for state in ("open", "dismissed"):
        db.session.add(Flag(rule="jump" if state == "open" else "negative", plan_id=plan.id,
                            unit_id=_unit("自治区教育厅").id, indicator_id=indicator.id, period_id=mar.id,
                            message="测试", evidence={}, state=state, raised_at=datetime(2025, 4, 20)))
    db.session.commit()
    return {"plan": plan, "periods": periods, "feb": feb, "mar": mar, "q1": q1, "it": it, "edu": edu,
            "ndrc": ndrc}


# unit → (due, on_time, overdue, urges, open_flags, returned), ranking up to 2025年3月 on 2025-11-20
EXPECTED = {
    "自治区工业和信息化厅": (3, 1, 1, 2, 0, 1),
    "自治区发展改革委": (3, 3, 0, 0, 0, 0),
    "自治区教育厅": (3, 2, 0, 0, 1, 0),
    "自治区人力资源社会保障厅": (6, 0, 6, 0, 0, 0),
    "自治区商务厅": (6, 0, 6, 0, 0, 0),
    "甲市": (9, 0, 9, 0, 0, 0),
    "乙盟": (9, 0, 9, 0, 0, 0),
}


def override(period: Period, assignment: Assignment | None, due: date) -> None:
    db.session.add(DueOverride(period_id=period.id, assignment_id=assignment.id if assignment else None, due=due,
                               reason="测试", set_at=T0))


def plan_of(world: dict[str, Any]) -> Plan:
    return db.session.get(Plan, world["plan"].id)
