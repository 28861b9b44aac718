"""What `audit.record` writes, and how it lives and dies with the transaction of the change."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit import services as audit
from app.audit.chain import GENESIS_HASH
from app.audit.models import AuditEvent, AuditHead
from app.extensions import db
from app.plans.models import Assignment, Period, Task


def events(**where) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.seq)
    for key, value in where.items():
        query = query.where(getattr(AuditEvent, key) == value)
    return list(db.session.execute(query).scalars())


def count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def head() -> tuple[int, str]:
    row = db.session.execute(select(AuditHead.seq, AuditHead.hash)).one()
    return row.seq, row.hash


def test_an_event_holds_who_when_where_what_and_before_after(ctx):
    before = datetime.now(UTC)
    audit.record("figure.set", "figure", 42, {"value": [Decimal("1.50"), Decimal("2")]}, reason="口径调整",
                 extra={"period": "2025年5月"}, actor=(3, "lx-hhht", "呼和浩特市"))
    db.session.commit()
    (event,) = events()
    content = json.loads(event.content)
    assert content["changes"] == {"value": ["1.50", "2"]}
    assert (content["user"], content["user_id"], content["unit"]) == ("lx-hhht", 3, "呼和浩特市")
    assert (content["action"], content["entity"]) == ("figure.set", {"type": "figure", "id": "42"})
    assert content["reason"] == "口径调整" and content["extra"] == {"period": "2025年5月"}
    assert content["at"].endswith("Z")
    at = datetime.fromisoformat(content["at"][:-1]).replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= at <= datetime.now(UTC)
    # the search columns copy the content; the time column is naive UTC
    assert event.at == at.replace(tzinfo=None)
    assert (event.username, event.unit_name, event.entity_type, event.entity_id) == ("lx-hhht", "呼和浩特市",
                                                                                     "figure", "42")
    assert (event.seq, event.prev_hash) == (1, GENESIS_HASH)
    assert head() == (1, event.hash)


def test_a_request_records_the_ip_the_request_id_and_the_logged_in_user(app, factory, login):
    factory.plan()
    factory.user("lx-gxt", unit="自治区工业和信息化厅")
    client = login(app.test_client(), "lx-gxt")
    task = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task.id, Assignment.unit_id ==
                                                       factory_unit("自治区工业和信息化厅"))).scalar_one()
    response = client.post(f"/items/{item.id}", data={"status": "in_progress", "progress": "30",
                                                      "status_note": "已启动", "version": str(item.version)},
                           headers={"X-Request-ID": "req-abc.123"})
    assert response.status_code == 302
    (event,) = events(action="assignment.update")
    content = json.loads(event.content)
    assert content["changes"] == {"progress": [0, 30], "status": ["not_started", "in_progress"],
                                  "status_note": [None, "已启动"]}
    assert (event.username, event.unit_name, event.ip) == ("lx-gxt", "自治区工业和信息化厅", "127.0.0.1")
    assert event.request_id == "req-abc.123" == content["request_id"]
    # a request id that is not a plain token is replaced by a fresh one
    client.post("/logout", headers={"X-Request-ID": "bad id <script>"})
    (logout,) = events(action="auth.logout")
    assert re.fullmatch(r"[0-9a-f]{32}", logout.request_id)
    # the login before it was recorded with the same care
    (login_event,) = events(action="auth.login")
    assert (login_event.username, login_event.ip) == ("lx-gxt", "127.0.0.1")


def factory_unit(name: str) -> int:
    from app.units.models import Unit

    return db.session.execute(select(Unit.id).where(Unit.name == name)).scalar_one()


def test_failed_logins_are_recorded_without_a_user(app, factory):
    factory.user("staff1", role="staff")
    n = count()
    client = app.test_client()
    assert client.post("/login", data={"username": "staff1", "password": "wrong"}).status_code == 200
    assert client.post("/login", data={"username": "nobody", "password": "x"}).status_code == 200
    failed = events(action="auth.login_failed")
    assert count() == n + 2 and len(failed) == 2
    assert all(e.user_id is None and e.ip == "127.0.0.1" for e in failed)
    assert [json.loads(e.content)["extra"]["username"] for e in failed] == ["staff1", "nobody"]


def test_events_are_rolled_back_with_the_change(ctx):
    audit.record("unit.update", "unit", 1, {"name": ["甲", "乙"]})
    db.session.commit()
    committed = head()
    audit.record("unit.update", "unit", 1, {"name": ["乙", "丙"]})
    audit.flush_events()
    assert audit.current_head()[0] == 2 and count() == 2
    db.session.rollback()
    assert head() == committed and count() == 1
    # the next event continues the chain from the last committed one
    audit.record("unit.update", "unit", 1, {"name": ["乙", "丁"]})
    db.session.commit()
    assert [e.seq for e in events()] == [1, 2]
    assert audit.verify_log().ok


def test_several_events_of_one_transaction_extend_one_chain(ctx):
    for i in range(5):
        audit.record("task.update", "task", i, {"title": [f"旧{i}", f"新{i}"]})
        assert audit.pending_count() == i + 1
    assert count() == 5 and audit.pending_count() == 0  # reading the log wrote them, as autoflush would
    db.session.commit()
    assert audit.pending_count() == 0
    rows = events()
    assert [e.seq for e in rows] == [1, 2, 3, 4, 5]
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, 5))
    assert head() == (5, rows[-1].hash)
    assert audit.head_anchor() == f"{rows[-1].hash}@5"
    report = audit.verify_log()
    assert report.ok and report.result.count == 5


def test_a_rolled_back_savepoint_takes_its_events_with_it(ctx):
    audit.record("a.one", None, None, {})
    with db.session.begin_nested() as savepoint:
        audit.record("a.two", None, None, {})
        savepoint.rollback()
    audit.record("a.three", None, None, {})
    db.session.commit()
    assert [(e.seq, e.action) for e in events()] == [(1, "a.one"), (2, "a.three")]
    assert audit.verify_log().ok


def test_a_report_save_writes_its_events_in_its_transaction(factory):
    from app.reports import services

    factory.plan()
    user = factory.user("lx-gxt", unit="自治区工业和信息化厅")
    task = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task.id,
                                                       Assignment.unit_id == user.unit_id)).scalar_one()
    period = db.session.execute(select(Period).where(Period.kind == "monthly")).scalars().first()
    n = count()
    figures = {i.id: Decimal("3.25") for i in services.indicators_for(item)}
    data = services.ReportInput("进展", "", "", figures)
    report = services.save_report(item, period, user, data, None)
    db.session.rollback()  # the change fails: its events go too
    assert count() == n
    report = services.save_report(item, period, user, data, None)
    db.session.commit()
    actions = [e.action for e in events()[n:]]
    assert actions[0] == "report.create" and "report.update" in actions
    assert actions.count("figure.set") == len(figures) >= 1
    assert all(e.username == "lx-gxt" and e.unit_name == "自治区工业和信息化厅" for e in events()[n:])
    assert report.id is not None


@pytest.mark.parametrize("value", [1.5, {1, 2}])
def test_a_value_the_chain_cannot_hold_fails_the_change_not_the_log(ctx, value):
    audit.record("ok.first", None, None, {})
    db.session.commit()
    if isinstance(value, float):  # floats are kept as the decimal they print as
        audit.record("ok.float", None, None, {"v": [None, value]})
        db.session.commit()
        assert json.loads(events()[-1].content)["changes"]["v"] == [None, "1.5"]
    else:
        with pytest.raises(TypeError):
            audit.record("bad.set", None, None, {"v": [None, value]})
        db.session.rollback()
    audit.record("ok.last", None, None, {})
    db.session.commit()
    assert audit.verify_log().ok


@pytest.mark.parametrize("inside", ["rollback", "release"])
def test_savepoints_keep_the_head_row_on_the_last_event(ctx, inside):
    audit.record("a.before", None, None, {})  # not yet written to the head row when the savepoint starts
    savepoint = db.session.begin_nested()
    audit.record("a.inside", None, None, {})
    savepoint.rollback() if inside == "rollback" else savepoint.commit()
    db.session.commit()  # no event after the savepoint: the head row is still brought up to date
    expected = ["a.before"] if inside == "rollback" else ["a.before", "a.inside"]
    rows = events()
    assert [e.action for e in rows] == expected
    assert head() == (len(expected), rows[-1].hash)
    report = audit.verify_log()
    assert report.ok and report.result.count == len(expected)


def test_an_event_is_visible_to_the_rest_of_its_transaction(ctx):
    audit.record("a.one", "unit", 9, {})
    # a query of the log writes the pending events first, as autoflush would
    assert db.session.execute(select(AuditEvent.action).where(AuditEvent.entity_id == "9")).scalar_one() == "a.one"
    assert audit.pending_count() == 0
    db.session.rollback()
    assert count() == 0 and audit.pending_count() == 0


def test_the_head_is_locked_only_while_committing(app, ctx):
    """A transaction that has recorded an event and works on does not hold up another writer."""
    import threading

    audit.record("slow.one", None, None, {})  # recorded, not yet committed
    done = threading.Event()

    def other() -> None:
        with app.app_context():
            audit.record("fast.one", None, None, {})
            db.session.commit()
            db.session.remove()
        done.set()

    if db.engine.dialect.name == "sqlite":
        db.session.commit()  # SQLite has one writer at a time anyway: let the other run after us
        thread = threading.Thread(target=other)
        thread.start()
    else:
        thread = threading.Thread(target=other)
        thread.start()
        assert done.wait(30), "the other writer waited for a transaction that was not committing"
        db.session.commit()
    thread.join(30)
    assert [e.action for e in events()] == (["slow.one", "fast.one"] if db.engine.dialect.name == "sqlite"
                                            else ["fast.one", "slow.one"])
    assert audit.verify_log().ok


def test_nested_savepoints_keep_exactly_the_events_that_stay(ctx):
    audit.record("a", None, None, {})
    outer = db.session.begin_nested()
    audit.record("b", None, None, {})
    inner = db.session.begin_nested()
    audit.record("c", None, None, {})
    audit.flush_events()  # written inside the inner savepoint...
    inner.rollback()  # ...and gone with it
    audit.record("d", None, None, {})
    outer.commit()
    db.session.commit()
    rows = events()
    assert [(e.seq, e.action) for e in rows] == [(1, "a"), (2, "b"), (3, "d")]
    assert head() == (3, rows[-1].hash) and audit.verify_log().ok


def test_a_chain_begun_inside_a_rolled_back_savepoint_begins_again(ctx):
    audit.record("x.first", None, None, {})
    db.session.commit()
    savepoint = db.session.begin_nested()
    audit.record("x.gone", None, None, {})  # the head row's lock is taken inside the savepoint
    savepoint.rollback()
    audit.record("x.kept", None, None, {})
    db.session.commit()
    assert [(e.seq, e.action) for e in events()] == [(1, "x.first"), (2, "x.kept")]
    assert audit.verify_log().ok
