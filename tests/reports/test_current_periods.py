"""current_periods (one query for many plans, the liaison's item list) picks for each plan the period that
current_period (one plan) picks: the one containing the day, else the last that started, else the first."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Period, Plan
from app.reports.services import current_period, current_periods


@pytest.mark.parametrize(("on", "kind", "label_start"), [
    (date(2025, 1, 15), "monthly", date(2025, 2, 1)),    # before the first period: the first
    (date(2025, 2, 1), "monthly", date(2025, 2, 1)),     # its first day
    (date(2025, 6, 30), "monthly", date(2025, 6, 1)),    # its last day
    (date(2025, 7, 1), "monthly", date(2025, 7, 1)),     # the next one's first day
    (date(2026, 3, 5), "monthly", date(2025, 12, 1)),    # after the last: the last that started
    (date(2025, 5, 10), "quarterly", date(2025, 4, 1)),
    (date(2024, 12, 1), "annual", date(2025, 1, 1)),     # before the year: the (only) annual period
])
def test_current_periods_agrees_with_current_period(factory, on, kind, label_start):
    plan = factory.plan()
    chosen = current_periods({plan.id}, on, kind)
    assert set(chosen) == {plan.id}
    assert chosen[plan.id].start == label_start
    assert chosen[plan.id].id == current_period(plan, on, kind).id


def test_current_periods_for_several_plans_and_none(factory):
    plan = factory.plan()
    assert current_periods(set(), date(2025, 6, 1)) == {}
    assert current_periods({plan.id, 999_999}, date(2025, 6, 1))[plan.id].start == date(2025, 6, 1)
    assert set(current_periods({plan.id, 999_999}, date(2025, 6, 1))) == {plan.id}  # a plan without periods: absent
    monthly = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")).scalars()
    assert len(list(monthly)) == 11 and db.session.get(Plan, plan.id) is plan


def test_current_among_loaded_periods_agrees_with_current_period(factory):
    """The item page picks the current period among the plan's periods it has loaded (no query)."""
    from app.reports.services import current_among

    plan = factory.plan()
    every = list(db.session.execute(select(Period).where(Period.plan_id == plan.id)
                                    .order_by(Period.kind, Period.start.desc())).scalars())  # any order
    for on in (date(2025, 1, 15), date(2025, 3, 1), date(2025, 8, 31), date(2026, 2, 1)):
        for kind in ("monthly", "quarterly", "half_year", "annual"):
            assert current_among(every, on, kind) is current_period(plan, on, kind), (on, kind)
    assert current_among([], date(2025, 3, 1)) is None
    assert current_among([p for p in every if p.kind == "annual"], date(2025, 3, 1)) is None  # no monthly
