"""Speed of the review queue (督办队列) on national-scale synthetic data (issue 6).

    .venv/bin/python bench/bench_queue.py                         # PostgreSQL pt_bench, 30 requests a page
    .venv/bin/python bench/bench_queue.py --repeat 50 --with-steps
    .venv/bin/python bench/bench_queue.py --db sqlite             # bench/out/bench.db (made by bench_pages.py)

Uses the database bench/bench_pages.py generates (300 plans × 20 tasks × 17 units ≈ 100,000
assignments, ≈ 1,000,000 reports; PostgreSQL database pt_bench) and never recreates it; today
is 2025-12-20 as there. Requests the queue through the app, in-process, as a staff user: all
plans in the current periods (the default), one plan, the returned reports, the escalated
items of the league/city governments, every started period; prints the median and p95 in ms
and the SQL statements per page. Target: p95 < 300 ms on PostgreSQL.

``--with-steps`` first gives the current period's overdue items the ladder steps the sweep
would have taken by then (remind … refer, one INSERT … SELECT), so that the escalated filter
and the steps/last-contact columns have rows to read; the rows are deleted again at the end
(also after an error) and the table vacuumed and analysed. The staff user ``bench-staff`` is
created if missing (and kept, as bench_pages.py keeps it)."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date

from benchlib import OUT, PG_URL, TODAY, percentile

MARK = "bench_queue"  # the message of the steps this bench adds, so that only those are deleted



def add_steps(db, today: date) -> int:
    """Ladder steps for the overdue items of each plan's current period (INSERT … SELECT)."""
    from sqlalchemy import bindparam, text

    from app.review.services import current_past_due_periods

    ids = db.session.execute(current_past_due_periods(today)).scalars().all()
    total = 0
    for step in ("remind", "urge", "escalate", "refer"):
        result = db.session.execute(text(
            "INSERT INTO ladder_step (assignment_id, period_id, step, due, day, taken_at, by_user_id, message) "
            "SELECT a.id, p.id, :step, p.due, p.due, CURRENT_TIMESTAMP, NULL, :mark FROM assignment a "
            "JOIN period p ON p.plan_id = a.plan_id "
            "LEFT JOIN report r ON r.assignment_id = a.id AND r.period_id = p.id "
            "WHERE a.active AND p.id IN :ids AND (r.id IS NULL OR r.state NOT IN ('submitted', 'accepted')) "
            "ON CONFLICT DO NOTHING").bindparams(bindparam("ids", expanding=True)),
            {"step": step, "mark": MARK, "ids": list(ids)})
        total += result.rowcount or 0
    db.session.commit()
    db.session.execute(text("ANALYZE ladder_step"))
    db.session.commit()
    return total


def remove_steps(db) -> int:
    """Delete the steps add_steps wrote, then VACUUM ANALYZE the table (PostgreSQL), so that the
    next benchmark finds it as it was: no dead rows to scan, statistics of the real rows."""
    from sqlalchemy import text

    result = db.session.execute(text("DELETE FROM ladder_step WHERE message = :mark AND by_user_id IS NULL"),
                                {"mark": MARK})
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE ladder_step")
    return result.rowcount or 0


def run(kind: str, args) -> list[tuple]:
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import event, func, select

    from app import create_app
    from app.extensions import db

    url = PG_URL if kind == "postgresql" else f"sqlite:///{OUT / 'bench.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "MFA_REQUIRED_ROLES": (), "TODAY": TODAY, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    added = 0
    with app.app_context():
        from app.auth.models import User
        from app.auth.services import create_user
        from app.plans.models import Assignment, Plan

        if db.session.execute(select(func.count()).select_from(Assignment)).scalar_one() < 1000:
            sys.exit(f"[{kind}] no synthetic data: run bench/bench_pages.py first")
        if db.session.execute(select(User.id).where(User.username == "bench-staff")).scalar_one_or_none() is None:
            create_user("bench-staff", "bench", "staff", "bench-pass-1")
            db.session.commit()
        plan_id = db.session.execute(select(Plan.id).where(Plan.slug.like("synth-%")).order_by(Plan.id)).scalars().first()
        if args.with_steps:
            added = add_steps(db, TODAY)
            print(f"[{kind}] added {added:,} ladder steps (removed at the end)")
        engine = db.engine
    try:
        staff = app.test_client()
        assert staff.post("/login", data={"username": "bench-staff", "password": "bench-pass-1"}).status_code == 302
        pages = [
            ("queue (all plans, current periods)", "/review/queue"),
            ("queue (all plans, current, page 5)", "/review/queue?page=5"),
            ("queue (one plan, current periods)", f"/review/queue?plan={plan_id}"),
            ("queue (returned, all plans)", "/review/queue?reason=returned"),
            ("queue (escalated, league/city)", "/review/queue?reason=escalated&kind=league_city"),
            ("queue (escalated, all plans)", "/review/queue?reason=escalated"),
            ("queue (one plan, every period)", f"/review/queue?plan={plan_id}&period=all"),
            ("queue (all plans, every period)", "/review/queue?period=all"),
        ]
        counter = {"n": 0}

        def count(*_args, **_kw):
            counter["n"] += 1

        event.listen(engine, "before_cursor_execute", count)
        rows = []
        try:
            for name, url_ in pages:
                first = staff.get(url_)  # warm up
                assert first.status_code == 200, (url_, first.status_code)
                shown = first.text.count('name="item"')
                timings, statements = [], 0
                for _ in range(args.repeat):
                    counter["n"] = 0
                    t0 = time.perf_counter()
                    response = staff.get(url_)
                    timings.append((time.perf_counter() - t0) * 1000)
                    statements = counter["n"]
                    assert response.status_code == 200, (url_, response.status_code)
                rows.append((kind, name, statistics.median(timings), percentile(timings, 0.95), statements, shown))
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return rows
    finally:
        if added:
            with app.app_context():
                print(f"[{kind}] removed {remove_steps(db):,} ladder steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="postgresql")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--with-steps", action="store_true",
                        help="give the current overdue items their ladder steps first (deleted at the end)")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    for kind in kinds:
        results += run(kind, args)
    print(f"\n{'database':<11} {'page':<38} {'median ms':>10} {'p95 ms':>8} {'SQL':>4} {'rows':>5}")
    for kind, name, median, p95, statements, shown in results:
        print(f"{kind:<11} {name:<38} {median:>10.1f} {p95:>8.1f} {statements:>4} {shown:>5}")


if __name__ == "__main__":
    main()
