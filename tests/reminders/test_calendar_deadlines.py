"""China's official calendar in the deadlines and the ladder: the 2025 National Day holiday
(with its make-up Sunday 09-28 and Saturday 10-11) and the 2025 Spring Festival (make-up
Sunday 01-26 and Saturday 02-08). The sweep takes each step on the right working day."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Period
from app.reminders.deadlines import due_date, periods_for_span
from app.reminders.ladder import step_date
from app.reminders.models import LadderStep
from app.reminders.sweep import due_cutoff, sweep
from app.workflow import workflows

from .conftest import D


@pytest.mark.parametrize(("day", "workday"), [
    ("2025-09-28", True),  # Sunday, make-up working day
    ("2025-09-30", True),
    *((f"2025-10-0{d}", False) for d in range(1, 9)),  # 国庆节、中秋节 10-01 … 10-08
    ("2025-10-11", True),  # Saturday, make-up working day
    ("2025-10-12", False),
    ("2025-01-26", True),  # Sunday before the Spring Festival, make-up working day
    *((f"2025-01-{d}", False) for d in (28, 29, 30, 31)),
    *((f"2025-02-0{d}", False) for d in (1, 2, 3, 4)),  # 春节 01-28 … 02-04
    ("2025-02-08", True),  # Saturday, make-up working day
    ("2025-02-09", False),
])
def test_official_working_days(ctx, day, workday):
    assert workflows().calendar.is_workday(D(day)) is workday


def test_due_dates_around_the_holidays(ctx):
    wf = workflows()
    cal, cadence = wf.calendar, wf.cadence
    periods = {p.key: p for p in periods_for_span(cadence, D("2025-01-01"), D("2025-12-31"))}
    # September report: 5th working day of October = 10-09, 10-10, 10-11 (Sat), 10-13, 10-14
    assert due_date(periods["2025-09"], cal, cadence["monthly"]) == D("2025-10-14")
    # January report: 5th working day of February = 02-05, 02-06, 02-07, 02-08 (Sat), 02-10
    assert due_date(periods["2025-01"], cal, cadence["monthly"]) == D("2025-02-10")
    # Q3: the 10th working day after 09-30 skips the holiday and counts Saturday 10-11
    assert due_date(periods["2025-Q3"], cal, cadence["quarterly"]) == D("2025-10-21")
    remind = wf.ladder.step("remind")
    # three working days before 10-14: 10-13, 10-11 (Sat), 10-10
    assert step_date(D("2025-10-14"), remind, cal) == D("2025-10-10")
    # three working days before 02-10: 02-08 (Sat), 02-07, 02-06
    assert step_date(D("2025-02-10"), remind, cal) == D("2025-02-06")
    # the first working day after 09-30 is 10-09
    assert step_date(D("2025-09-30"), wf.ladder.step("urge"), cal) == D("2025-10-09")


def test_the_cut_off_agrees_with_step_date_every_day_of_two_years(ctx):
    wf = workflows()
    for step in wf.ladder:
        for n in range(730):
            today = date(2025, 1, 1) + timedelta(days=n)
            cutoff = due_cutoff(today, step, wf.calendar)
            assert step_date(cutoff, step, wf.calendar) <= today
            assert step_date(cutoff + timedelta(days=1), step, wf.calendar) > today


def test_the_sweep_reminds_on_the_right_day_around_national_day(scenario):
    september = db.session.execute(select(Period).where(
        Period.plan_id == scenario.plan.id, Period.kind == "monthly", Period.start == D("2025-09-01"))).scalar_one()
    assert september.due == D("2025-10-14")
    submitted_all_but_september(scenario, september)
    assert sweep(D("2025-10-09")).taken == Counter()
    db.session.commit()
    assert set(sweep(D("2025-10-10")).taken) == {"remind"}
    db.session.commit()
    # Saturday 10-11 is a working day, but nothing else is due; urge on 10-15
    assert sweep(D("2025-10-14")).taken == Counter()
    assert set(sweep(D("2025-10-15")).taken) == {"urge"}
    db.session.commit()
    days = {(s.step, s.day) for s in db.session.execute(
        select(LadderStep).where(LadderStep.period_id == september.id)).scalars()}
    assert days == {("remind", D("2025-10-10")), ("urge", D("2025-10-15"))}


def submitted_all_but_september(scenario, september: Period) -> None:
    """Mark every other period's steps as taken so that only September's ladder moves."""
    from app.plans.models import Assignment
    from app.reminders.dbutil import utcnow

    assignments = db.session.execute(select(Assignment.id).where(Assignment.plan_id == scenario.plan.id)
                                     ).scalars().all()
    others = db.session.execute(select(Period).where(Period.plan_id == scenario.plan.id,
                                                     Period.id != september.id)).scalars().all()
    now = utcnow()
    for p in others:
        for a in assignments:
            for key in workflows().ladder.keys:
                db.session.add(LadderStep(assignment_id=a, period_id=p.id, step=key, due=p.due, day=p.due,
                                          taken_at=now))
    db.session.commit()
