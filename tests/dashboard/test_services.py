"""The dashboard's numbers: totals of accepted figures only, filters that narrow, and item lists
whose lengths are the counts shown."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from app.dashboard import services
from app.extensions import db
from app.plans.models import Section, Task
from app.units.models import Unit
from tests.conftest import FROZEN_TODAY
from tests.dashboard.conftest import item_of

pytestmark = pytest.mark.usefixtures("ctx")


def build(world, **args):
    args.setdefault("period", world["october"].id)
    return services.build(world["plan"], MultiDict({k: str(v) for k, v in args.items()}), FROZEN_TODAY)


def panel(d, key):
    return next(p for p in d.indicators if p.indicator.key == key)


# --- pure rules ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("figures, value, basis, counted", [
    ([], None, None, ()),
    ([(1, Decimal(8), True)], Decimal(8), "whole", (1,)),
    ([(1, Decimal(8), True), (2, Decimal(3), False)], Decimal(8), "whole", (1,)),  # the region's figure, not 11
    ([(2, Decimal(3), False), (3, Decimal("2.5"), False)], Decimal("5.5"), "parts", (2, 3)),
    ([(1, Decimal(1), True), (4, Decimal(2), True)], Decimal(3), "whole", (1, 4)),  # per-unit: each is whole
])
def test_total_of(figures, value, basis, counted):
    total = services.total_of(figures)
    assert (total.value, total.basis, total.counted) == (value, basis, counted)


@pytest.mark.parametrize("submitted_at, state, due, expected", [
    (datetime(2025, 11, 7, 15, 59), "submitted", date(2025, 11, 7), True),   # 23:59 in Shanghai
    (datetime(2025, 11, 7, 16, 0), "submitted", date(2025, 11, 7), False),   # 00:00 the next day there
    (datetime(2025, 11, 1), "accepted", date(2025, 11, 7), True),
    (datetime(2025, 11, 1), "returned", date(2025, 11, 7), False),
    (None, "draft", date(2025, 11, 7), False),
])
def test_on_time(submitted_at, state, due, expected):
    assert services.on_time(submitted_at, state, due, {"submitted", "accepted"}) is expected


def test_bullet_scales_to_the_largest_value():
    bar = services.bullet(Decimal(5), 7.5, Decimal(15))
    assert bar.target_x == pytest.approx(services.BULLET_WIDTH / 1.1, abs=0.1)
    assert bar.value_x < bar.expected_x < bar.target_x


# --- totals ---------------------------------------------------------------------------------------------

def test_total_is_the_accepted_whole_figure(world):
    d = build(world)
    jobs = panel(d, "t2-jobs")
    assert jobs.total.value == Decimal("8.5") and jobs.total.basis == "whole"
    assert jobs.total.counted == (item_of(2, "自治区工业和信息化厅").id,)
    assert jobs.accepted == 2  # the lead's and 甲市's; 乙盟's is submitted only
    assert jobs.target == Decimal(15)
    # pace: from the plan's reporting start (Feb 1) to the due date (Dec 31), as of Oct 31
    span = (date(2025, 12, 31) - date(2025, 2, 1)).days + 1
    elapsed = (date(2025, 10, 31) - date(2025, 2, 1)).days + 1
    assert jobs.pace == pytest.approx(elapsed / span, abs=1e-6)
    assert jobs.expected == pytest.approx(15 * elapsed / span, abs=1e-4)
    assert jobs.ratio == pytest.approx(8.5 / jobs.expected, abs=1e-4)
    assert jobs.light is not None and jobs.light.colour in ("green", "yellow", "red")


def test_league_city_total_sums_accepted_parts_only(world):
    d = build(world, kind="league_city")
    jobs = panel(d, "t2-jobs")
    # 甲市 accepted 3; 乙盟's 2 is submitted but not accepted: not counted
    assert jobs.total.value == Decimal(3) and jobs.total.basis == "parts"
    assert jobs.total.counted == (item_of(2, "甲市").id,)


def test_submitted_and_returned_figures_are_not_counted(world):
    from app.reports import services as reports

    staff = world["staff"]
    reports.transition(world["reports"]["yi"], "return", staff, reason="请核实")
    db.session.commit()
    assert panel(build(world, kind="league_city"), "t2-jobs").total.value == Decimal(3)
    # no accepted figure at all: no total, no light
    d = build(world, unit=item_of(2, "乙盟").unit_id)
    jobs = panel(d, "t2-jobs")
    assert jobs.total.value is None and jobs.light is None and jobs.ratio is None


def test_total_equals_the_sum_of_accepted_figures_in_the_database(world):
    from app.reports.models import Figure, Report

    d = build(world)
    for p in d.indicators:
        if p.total.value is None:
            continue
        stored = db.session.execute(
            select(Figure.value).join(Report, Report.id == Figure.report_id)
            .where(Figure.indicator_id == p.indicator.id, Report.state == "accepted",
                   Report.period_id == world["october"].id, Report.assignment_id.in_(p.total.counted))).scalars().all()
        assert sum(stored) == p.total.value


def test_another_period_has_no_total(world):
    november = next(p for p in services.plan_options(world["plan"]).periods if p.label.endswith("11月"))
    assert panel(build(world, period=november.id), "t2-jobs").total.value is None


def test_trend_has_the_accepted_total_in_its_period(world):
    d = build(world)
    totals = d.trend.indicator_totals[world["jobs"].id]
    assert totals[world["october"].id].value == Decimal("8.5")
    assert all(t.value is None for pid, t in totals.items() if pid != world["october"].id)
    october = next(t for t in d.trend.points if t.period.id == world["october"].id)
    assert october.accepted == 2 and october.submitted == 3
    assert october.on_time == d.counts["on_time"] and october.items == d.counts["items"]


# --- filters --------------------------------------------------------------------------------------------

def test_filters_narrow(world):
    everything = build(world)
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    by_task = build(world, task=task2.id)
    assert {r.task_number for r in by_task.rows} == {2} and len(by_task.rows) < len(everything.rows)
    section2 = db.session.execute(select(Section).where(Section.number == "二")).scalar_one()
    assert {r.task_number for r in build(world, section=section2.id).rows} == {3}
    leagues = build(world, kind="league_city")
    assert leagues.rows and {r.unit_kind for r in leagues.rows} == {"league_city"}
    jia = db.session.execute(select(Unit).where(Unit.name == "甲市")).scalar_one()
    assert {r.unit_name for r in build(world, unit=jia.id).rows} == {"甲市"}
    green = build(world, light="green")
    assert green.rows and all(r.light.colour == "green" for r in green.rows)
    assert len(green.rows) == everything.light_counts["green"]
    assert sum(everything.light_counts.values()) == len(everything.rows)


def test_bad_filter_values_are_ignored_with_a_note(world):
    d = build(world, unit="999999", light="purple", kind="planet", section="x")
    assert d.filters.unit_id is None and d.filters.light is None and d.filters.unit_kind is None
    assert len(d.notes) == 4 and all("无效" in n for n in d.notes)
    assert len(d.rows) == len(build(world).rows)


# --- the items behind the numbers -------------------------------------------------------------------------

def test_counts_equal_their_item_lists(world):
    from app.reminders.models import LadderStep

    gxt = item_of(2, "自治区工业和信息化厅")
    # an item escalated in October (the ladder's escalate step) and one with an open flag
    db.session.add(LadderStep(assignment_id=item_of(1, "甲市").id, period_id=world["october"].id, step="escalate",
                              due=world["october"].due, day=FROZEN_TODAY, taken_at=datetime(2025, 11, 15)))
    _flag(world, world["reports"]["gxt"])
    db.session.commit()
    for args in ({}, {"kind": "league_city"}, {"light": "red"}, {"task": gxt.task_id}):
        d = build(world, **args)
        for what in ("overdue", "escalated", "flagged", "accepted", "on_time"):
            assert len(services.items(d, what)) == d.counts[what], (args, what)
        assert len(services.items(d, "all")) == d.counts["items"]
        for p in d.indicators:
            assert len(services.items(d, "indicator", p.indicator.id)) == len(p.total.counted)
    d = build(world)
    assert d.counts["escalated"] == 1 and d.counts["flagged"] == 1 and d.counts["overdue"] > 0
    assert [r.assignment_id for r in services.items(d, "flagged")] == [gxt.id]


def test_unknown_list_is_refused(world):
    d = build(world)
    for what, indicator in (("nope", None), ("indicator", 999999), ("light", None)):
        with pytest.raises(services.FilterError):
            services.items(d, what, indicator)


def _flag(world, report):
    from app.integrity.models import Flag

    figure = report.figures[0]
    db.session.add(Flag(rule="jump", plan_id=world["plan"].id, unit_id=report.assignment.unit_id,
                        indicator_id=figure.indicator_id, period_id=report.period_id, figure_id=figure.id,
                        figure_ids=[figure.id], message="突增", evidence={}, state="open",
                        raised_at=datetime(2025, 11, 10)))


def test_each_cell_has_the_item_pages_light(world):
    """The matrix light of every assignment is the one its item page shows (reminders.services.item_status)."""
    from app.plans.models import Assignment
    from app.reminders.services import item_status, set_due_override
    from app.reports.models import Report
    from app.reports.services import indicators_for

    period = world["october"]
    postponed = item_of(1, "甲市")
    set_due_override(world["staff"], period, postponed, date(2025, 11, 28), "延期报送")  # the office's override
    db.session.commit()
    d = build(world)
    assert {r.light.colour for r in d.rows} >= {"red", "green"}
    moved = next(r for r in d.rows if r.assignment_id == postponed.id)
    assert moved.due == date(2025, 11, 28) and not moved.overdue and moved.light.colour != "red"
    assert moved not in services.items(d, "overdue")
    for row in d.rows:
        item = db.session.get(Assignment, row.assignment_id)
        reports = {r.period_id: r for r in db.session.execute(
            select(Report).where(Report.assignment_id == item.id, Report.period_id == period.id)).scalars()}
        expected = item_status(item, [period], reports, indicators_for(item), FROZEN_TODAY)[period.id].light
        assert (row.light.colour, row.light.rule, row.light.explanation) == (
            expected.colour, expected.rule, expected.explanation), row.unit_name


def test_on_time_is_the_same_in_sql_and_in_python(world):
    """The trend counts on-time reports in SQL, the item list in Python: the same local-day rule
    (a report at 23:59 in Shanghai on the due day is on time, one at 00:00 the next day is late)."""
    from datetime import time

    due = world["october"].due  # no override: the period's own due date
    world["reports"]["gxt"].first_submitted_at = datetime.combine(due, time(15, 59))
    world["reports"]["jia"].first_submitted_at = datetime.combine(due, time(16, 0))
    world["reports"]["yi"].first_submitted_at = datetime.combine(due, time(0, 0))
    db.session.commit()
    d = build(world)
    on_time = {r.unit_name for r in services.items(d, "on_time")}
    assert on_time == {"自治区工业和信息化厅", "乙盟"}
    october = next(t for t in d.trend.points if t.period.id == world["october"].id)
    assert october.on_time == d.counts["on_time"] == 2
