"""Concurrent writers extend one chain: no fork, no gap, and it verifies.

Each writer is a thread with its own app context, hence its own session and database connection. On
PostgreSQL the head row's SELECT … FOR UPDATE serialises the appends; on SQLite the write lock does."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest
from sqlalchemy import select

from app.audit import services as audit
from app.audit.models import AuditEvent, AuditHead
from app.extensions import db


def run_writers(app, writers: int, each: int, per_commit: int) -> list[BaseException]:
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                for i in range(each):
                    audit.record("test.write", "writer", n, {"i": [i - 1 if i else None, i]},
                                 actor=(None, f"writer{n}", None))
                    if (i + 1) % per_commit == 0 or i == each - 1:
                        db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,), name=f"writer{n}") for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a writer hangs"
    return errors


def assert_one_chain(writers: int, each: int, *, interleaved: bool = True) -> None:
    rows = db.session.execute(select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.entity_id,
                                     AuditEvent.content).order_by(AuditEvent.seq)).all()
    total = writers * each
    assert [r.seq for r in rows] == list(range(1, total + 1)), "a gap or a duplicate number"
    assert len({r.prev_hash for r in rows}) == total, "two events link to the same predecessor: a fork"
    assert all(rows[i].prev_hash == rows[i - 1].hash for i in range(1, total))
    # each writer's events are all there, in the order it wrote them
    by_writer: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        by_writer[r.entity_id].append(r.seq)
    assert sorted(len(v) for v in by_writer.values()) == [each] * writers
    head = db.session.execute(select(AuditHead.seq, AuditHead.hash)).one()
    assert (head.seq, head.hash) == (total, rows[-1].hash)
    report = audit.verify_log()
    assert report.ok and report.result.count == total, report.result.message
    if interleaved:  # they really ran at the same time: the writers' events interleave
        switches = sum(1 for i in range(1, total) if rows[i].entity_id != rows[i - 1].entity_id)
        assert switches > writers


def test_parallel_writers_make_one_chain_on_postgresql(app, ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: it proves the head row's SELECT … FOR UPDATE under parallel writers; "
                    "run the suite with TEST_DATABASE_URL=postgresql://… (SQLite: see the test below)")
    errors = run_writers(app, writers=8, each=200, per_commit=1)
    assert errors == []
    assert_one_chain(8, 200)


def test_parallel_writers_of_several_events_per_transaction_on_postgresql(app, ctx):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (as above)")
    errors = run_writers(app, writers=8, each=120, per_commit=3)
    assert errors == []
    assert_one_chain(8, 120)


def test_parallel_writers_serialise_on_sqlite(app, ctx):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: PostgreSQL is proven by the tests above")
    errors = run_writers(app, writers=4, each=50, per_commit=2)
    assert errors == []
    assert_one_chain(4, 50, interleaved=False)  # SQLite's lock may let one writer run on for a while
