"""The daily sweep: which steps fall due, each taken once, one digest per recipient per day
per kind, nothing new on a second run, every missed step after an outage, none once submitted.

The mini plan's monthly report for February 2025 is due on 2025-03-07 (the 5th working day
of March): remind on 03-04, urge on 03-10, escalate on 03-14, refer on 03-21."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date

import pytest
from sqlalchemy import event, func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Period
from app.reminders import services
from app.reminders.models import InboxEntry, LadderStep, Notice
from app.reminders.sweep import sweep
from tests.conftest import Factory

from .conftest import D, build_scenario, submit

FEB_DUE = D("2025-03-07")


def feb(plan) -> Period:
    return db.session.execute(select(Period).where(
        Period.plan_id == plan.id, Period.kind == "monthly", Period.start == D("2025-02-01"))).scalar_one()


def steps() -> Counter:
    return Counter(db.session.execute(select(LadderStep.step)).scalars())


def notice_keys() -> list[tuple]:
    return sorted(db.session.execute(select(Notice.channel, Notice.recipient, Notice.day, Notice.kind)).all())


def test_the_february_report_is_due_on_the_fifth_working_day_of_march(scenario):
    assert feb(scenario.plan).due == FEB_DUE


def test_effective_due_date_precedence(scenario):
    period = feb(scenario.plan)
    a1, a2 = db.session.execute(select(Assignment).where(Assignment.plan_id == scenario.plan.id)
                                .order_by(Assignment.id).limit(2)).scalars().all()
    assert services.effective_due(a1, period) == FEB_DUE
    services.set_due_override(scenario.staff, period, None, D("2025-03-14"), "全区系统升级，统一顺延")
    assert services.effective_due(a1, period) == services.effective_due(a2, period) == D("2025-03-14")
    services.set_due_override(scenario.staff, period, a1, D("2025-03-20"), "该单位申请延期")
    assert services.effective_due(a1, period) == D("2025-03-20")
    assert services.effective_due(a2, period) == D("2025-03-14")
    services.clear_due_override(scenario.staff, period, None, "取消统一顺延")
    assert services.effective_due(a2, period) == FEB_DUE
    assert services.effective_due(a1, period) == D("2025-03-20")
    db.session.commit()
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.action.like("due_override.%"))
                                 .order_by(AuditEvent.seq)
                                 ).scalars().all()
    assert actions == ["due_override.set", "due_override.set", "due_override.clear"]


@pytest.mark.parametrize(("due", "reason", "field"), [
    (None, "原因", "due"),
    (D("2024-12-31"), "原因", "due"),
    (D("2025-03-20"), "  ", "reason"),
    (D("2025-03-20"), "长" * 501, "reason"),
])
def test_bad_override_is_refused_with_a_chinese_message(scenario, due, reason, field):
    with pytest.raises(services.ReminderError) as exc:
        services.set_due_override(scenario.staff, feb(scenario.plan), None, due, reason)
    assert exc.value.field == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.value.message)


def test_a_liaison_cannot_set_a_due_date(scenario):
    liaison = next(iter(scenario.liaisons.values()))
    with pytest.raises(services.ReminderError):
        services.set_due_override(liaison, feb(scenario.plan), None, D("2025-03-20"), "原因")


def test_sweep_takes_each_step_once_and_writes_one_digest_per_recipient(scenario):
    assert sweep(D("2025-03-03")).taken == Counter()  # the day before the reminder: nothing
    db.session.commit()
    result = sweep(D("2025-03-04"))
    db.session.commit()
    n_items = db.session.execute(select(func.count()).select_from(Assignment)
                                 .where(Assignment.plan_id == scenario.plan.id, Assignment.active)).scalar_one()
    assert result.taken == Counter({"remind": n_items})
    remind = db.session.execute(select(Notice).where(Notice.kind == "remind")).scalars().all()
    # one digest per liaison, listing all of that liaison's items
    assert sorted(n.recipient for n in remind) == sorted(u.email for u in scenario.liaisons.values())
    assert sum(n.items["total"] for n in remind) == n_items
    for n in remind:
        assert n.status == "pending" and n.day == D("2025-03-04")
        assert all(i["due"] == "2025-03-07" for i in n.items["items"])
        assert all(f"http://127.0.0.1:5000/items/{i['assignment_id']}/reports/{i['period_id']}" in n.body_text
                   for i in n.items["items"])
        assert "即将" in n.subject and "您好" in n.body_text and "<table" in n.body_html
    # the audit head goes to the office, once a day
    assert db.session.execute(select(func.count()).select_from(Notice).where(
        Notice.kind == "audit_head", Notice.day == D("2025-03-04"))).scalar_one() == 1
    # each notice is in the inbox of its user
    liaison = scenario.liaisons["甲市"]
    assert db.session.execute(select(func.count()).select_from(InboxEntry).where(InboxEntry.user_id == liaison.id)
                              ).scalar_one() == 1
    before = notice_keys()
    again = sweep(D("2025-03-04"))
    db.session.commit()
    assert again.taken == Counter() and again.notices == []
    assert notice_keys() == before


def test_urge_copies_the_unit_head_and_escalation_reaches_the_office(scenario):
    sweep(D("2025-03-04"))
    sweep(D("2025-03-10"))
    db.session.commit()
    urge = {n.recipient: n for n in db.session.execute(select(Notice).where(Notice.kind == "urge")).scalars()}
    assert "head.jia@example.org" in urge and "head.edu@example.org" in urge
    assert {i["role"] for i in urge["head.jia@example.org"].items["items"]} == {"cc"}
    assert "抄送" in urge["head.jia@example.org"].body_text
    assert {i["unit"] for i in urge["head.jia@example.org"].items["items"]} == {"甲市"}
    sweep(D("2025-03-14"))
    db.session.commit()
    escalate = {n.recipient: n for n in db.session.execute(select(Notice).where(Notice.kind == "escalate")).scalars()}
    office = escalate[scenario.staff.email]
    assert office.items["total"] == steps()["escalate"]
    assert {i["role"] for i in office.items["items"]} == {"cc"}


def test_after_an_outage_every_missed_step_is_taken_once(scenario):
    sweep(D("2025-03-04"))
    db.session.commit()
    # the scheduler is down from 03-05 to 03-24
    result = sweep(D("2025-03-25"))
    db.session.commit()
    n = result.taken["remind"] or steps()["remind"]
    assert result.taken == Counter({"urge": n, "escalate": n, "refer": n})
    assert sweep(D("2025-03-25")).taken == Counter()
    assert sweep(D("2025-03-26")).taken == Counter()
    db.session.commit()
    assert steps() == Counter({"remind": n, "urge": n, "escalate": n, "refer": n})
    # one digest per recipient and kind for the day, whatever the number of steps
    keys = notice_keys()
    assert len(keys) == len(set(keys))


def test_a_submitted_report_stops_the_ladder(scenario):
    period = feb(scenario.plan)
    sweep(D("2025-03-04"))
    db.session.commit()
    unit = scenario.units["自治区教育厅"]
    mine = db.session.execute(select(Assignment).where(Assignment.unit_id == unit.id)).scalars().all()
    for a in mine:
        submit(a.id, period.id, scenario.liaisons[unit.name])
    sweep(D("2025-03-25"))
    db.session.commit()
    taken = db.session.execute(select(LadderStep.step).where(LadderStep.assignment_id.in_([a.id for a in mine]))
                               ).scalars().all()
    assert taken == ["remind"] * len(mine)
    assert "head.edu@example.org" not in {n.recipient for n in db.session.execute(select(Notice)).scalars()}


def test_an_override_moves_the_ladder(scenario):
    period = feb(scenario.plan)
    services.set_due_override(scenario.staff, period, None, D("2025-03-21"), "统一顺延两周")
    db.session.commit()
    assert sweep(D("2025-03-04")).taken == Counter()
    result = sweep(D("2025-03-18"))  # 2025-03-21 − 3 working days
    db.session.commit()
    assert set(result.taken) == {"remind"}
    assert {s.due for s in db.session.execute(select(LadderStep)).scalars()} == {D("2025-03-21")}


def test_dry_run_writes_nothing(scenario):
    result = sweep(D("2025-03-25"), dry_run=True)
    db.session.rollback()
    assert set(result.decided) == {"remind", "urge", "escalate", "refer"}
    assert result.notices
    assert db.session.execute(select(func.count()).select_from(LadderStep)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(Notice)).scalar_one() == 0


def test_a_later_sweep_the_same_day_with_new_steps_loses_nothing(scenario):
    """A key already used today gets a numbered kind, so the new items are still sent."""
    period = feb(scenario.plan)
    unit = scenario.units["甲市"]
    first = db.session.execute(select(Assignment).where(Assignment.unit_id == unit.id).order_by(Assignment.id)
                               ).scalars().first()
    services.set_due_override(scenario.staff, period, first, D("2025-03-31"), "单独延期")
    db.session.commit()
    sweep(D("2025-03-04"))
    db.session.commit()
    services.set_due_override(scenario.staff, period, first, D("2025-03-07"), "取消延期")
    db.session.commit()
    result = sweep(D("2025-03-04"))
    db.session.commit()
    assert result.taken == Counter({"remind": 1})
    kinds = sorted(db.session.execute(select(Notice.kind).where(
        Notice.recipient == scenario.liaison_email("甲市"))).scalars())
    assert kinds == ["remind", "remind.2"]


def _concurrent_sweeps(app, day: date, n: int = 3) -> list[Exception]:
    barrier = threading.Barrier(n)
    errors: list[Exception] = []

    def run() -> None:
        with app.app_context():
            try:
                barrier.wait()
                sweep(day)
                db.session.commit()
            except Exception as exc:  # collected and asserted in the test
                errors.append(exc)
                db.session.rollback()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


@pytest.mark.slow
def test_concurrent_sweeps_add_the_same_notices_as_one(app, scenario):
    """Three sweeps at once (threads, each with its own connection) write what one sweep writes."""
    assert _concurrent_sweeps(app, D("2025-03-04")) == []
    assert _concurrent_sweeps(app, D("2025-03-25")) == []
    db.session.expire_all()
    concurrent = (notice_keys(), steps(), [n.items for n in db.session.execute(
        select(Notice).order_by(Notice.channel, Notice.recipient, Notice.kind)).scalars()])
    from tests.conftest import _empty_database

    # the same data swept by one sweep at a time
    db.session.rollback()
    _empty_database(app)
    build_scenario(Factory(app))
    sweep(D("2025-03-04"))
    db.session.commit()
    sweep(D("2025-03-25"))
    db.session.commit()
    single = (notice_keys(), steps(), [n.items for n in db.session.execute(
        select(Notice).order_by(Notice.channel, Notice.recipient, Notice.kind)).scalars()])
    assert concurrent[0] == single[0]
    assert concurrent[1] == single[1]
    assert [sorted((i["assignment_id"], i["period_id"]) for i in items["items"]) for items in concurrent[2]] == [
        sorted((i["assignment_id"], i["period_id"]) for i in items["items"]) for items in single[2]]


def _sweep_statements(scale: int, day: date) -> tuple[Counter, Counter]:
    """The statements a sweep runs, by kind (INSERTs are sent in batches of many rows)."""
    from app.demo.synth import synthesize

    synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=5, months=12, echo=lambda s: None)
    counted: Counter = Counter()

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        counted[statement.split()[0].upper()] += 1

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        result = sweep(day)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    return counted, result.taken


def test_the_sweep_runs_the_same_statements_whatever_the_data_size(app, factory):
    """Set-based: ten times the assignments, the same queries; the rows are inserted in batches."""
    from tests.conftest import _empty_database

    factory.user("office1", "staff")
    small, small_taken = _sweep_statements(1, D("2026-01-20"))
    db.session.rollback()
    _empty_database(app)
    factory.user("office1", "staff")
    large, large_taken = _sweep_statements(10, D("2026-01-20"))
    rows = sum(large_taken.values())
    assert rows > 5 * sum(small_taken.values()) > 0
    assert {k: v for k, v in small.items() if k != "INSERT"} == {k: v for k, v in large.items() if k != "INSERT"}
    assert sum(small.values()) < 40
    assert large["INSERT"] <= small["INSERT"] + 3 * rows // 500, (small, large, rows)


@pytest.mark.parametrize("days", [
    ["2025-03-04", "2025-03-10", "2025-03-14", "2025-03-21"],
    ["2025-03-25"],
    ["2025-03-06", "2025-04-15", "2025-06-30", "2025-10-10", "2025-10-15", "2026-01-20"],
])
def test_the_database_decides_as_steps_due_does(scenario, days):
    """The INSERT … SELECT of the sweep takes exactly the steps the pure ladder.steps_due picks
    (the dry run), with overrides and submitted reports in play."""
    period = feb(scenario.plan)
    items = db.session.execute(select(Assignment).where(Assignment.plan_id == scenario.plan.id)
                               .order_by(Assignment.id)).scalars().all()
    services.set_due_override(scenario.staff, period, items[0], D("2025-03-12"), "延期")
    quarter = db.session.execute(select(Period).where(Period.plan_id == scenario.plan.id,
                                                      Period.kind == "quarterly")).scalars().first()
    services.set_due_override(scenario.staff, quarter, None, D("2025-04-30"), "统一延期")
    db.session.commit()
    submit(items[1].id, period.id, scenario.liaisons[items[1].unit.name])
    for day in days:
        planned = sweep(D(day), dry_run=True)
        db.session.rollback()
        done = sweep(D(day))
        db.session.commit()
        assert done.taken == planned.decided, day
        assert sorted(done.notices, key=str) == sorted(planned.notices, key=str), day
