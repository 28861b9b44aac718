"""Benchmarks of the audit log in a real database: verify speed, and what recording costs a report.

Run from the repository root:

    .venv/bin/python bench/bench_audit.py                          # SQLite (a scratch file)
    .venv/bin/python bench/bench_audit.py --pg postgresql://postgres@127.0.0.1:5432/postgres

(a) ``verify``: stores ``--events`` (default 200,000) chained events with bulk inserts built by
    ``chain.make_row``, then times ``services.verify_log`` -- what ``flask audit verify`` runs -- ``--runs``
    times and prints the median events/second (target >= 100,000/s). It also runs ``flask audit verify``
    itself once in a subprocess and prints its wall time (Python start-up included).
(b) ``report``: saves and submits reports through ``reports.services`` (one transaction each, as the report
    page does), alternately with the audit log on and with ``audit.record`` replaced by a no-op, and prints the
    median cost per report of each and their ratio (target <= 1.30).

On PostgreSQL the bench creates its own database next to the one named and drops it at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_audit_chain import realistic_content  # noqa: E402

PLAN = ROOT / "workflows" / "plans" / "nmg-2025-employment.yaml"


@contextmanager
def scratch_database(pg: str | None):
    """A fresh database URL: a temporary SQLite file, or a new PostgreSQL database dropped afterwards."""
    if not pg:
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{tmp}/bench-audit.db"
        return
    import psycopg

    admin = re.sub(r"^postgresql(\+\w+)?://", "postgresql://", pg)
    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield re.sub(r"/[^/?]+(\?|$)", f"/{name}\\1", admin.replace("postgresql://", "postgresql+psycopg://", 1),
                     count=1)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_app(url: str):
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="bench-audit-"))
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TODAY": "2025-11-20",
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})


def migrate(app) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()


# --- (a) verify -------------------------------------------------------------------------------------------


def store_events(app, n: int, batch: int = 10_000) -> str:
    """Bulk-insert n chained events (and the head row); returns the head anchor."""
    from app.audit.chain import GENESIS_HASH, make_row
    from app.audit.models import AuditEvent, AuditHead
    from app.extensions import db

    prev = GENESIS_HASH
    with app.app_context():
        table = AuditEvent.__table__
        with db.engine.begin() as conn:
            rows: list[dict[str, Any]] = []
            for seq in range(1, n + 1):
                content = realistic_content(seq)
                row = make_row(seq, prev, content)
                rows.append({
                    "seq": seq, "at": content["at"].astimezone(UTC).replace(tzinfo=None), "user_id": content["user_id"],
                    "username": content["user"], "unit_name": content["unit"], "ip": content["ip"],
                    "request_id": content["request_id"], "action": content["action"],
                    "entity_type": content["entity"]["type"], "entity_id": content["entity"]["id"],
                    "content": row.content, "algorithm": row.algorithm, "prev_hash": row.prev_hash, "hash": row.hash,
                })
                prev = row.hash
                if len(rows) == batch:
                    conn.execute(table.insert(), rows)
                    rows = []
            if rows:
                conn.execute(table.insert(), rows)
            conn.execute(AuditHead.__table__.insert(), [{"id": 1, "seq": n, "hash": prev}])
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if db.engine.dialect.name == "postgresql":
                conn.exec_driver_sql("VACUUM ANALYZE audit_event")
            else:  # as SQLite does on its own in time: the log's pages out of the WAL file
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return f"{prev}@{n}"


def bench_verify(app, url: str, n: int, runs: int) -> None:
    from app.audit.services import verify_log
    from app.extensions import db

    started = time.perf_counter()
    anchor = store_events(app, n)
    print(f"(a) stored {n:,} events in {time.perf_counter() - started:.1f} s")
    rates = []
    for _ in range(runs):
        with app.app_context():
            started = time.perf_counter()
            report = verify_log()
            elapsed = time.perf_counter() - started
            db.session.rollback()
        if not report.ok or report.result.count != n or report.result.anchor != anchor:
            raise SystemExit(f"verify failed: {report.result.message}")
        rates.append(n / elapsed)
    print(f"    verify_log: median {statistics.median(rates):,.0f} events/s over {runs} runs "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f}); target >= 100,000/s")
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "audit", "verify", "--anchor", anchor],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"flask audit verify failed: {done.stdout}{done.stderr}")
    checked = float(re.search(r"checked in ([0-9.]+) s", done.stdout).group(1))
    print(f"    `flask audit verify --anchor …` (one run, a new process): {wall:.2f} s wall with start-up; "
          f"its check {checked:.2f} s = {n / checked:,.0f} events/s")
    print(f"    it said: {done.stdout.splitlines()[0]}")


# --- (b) the cost of recording ------------------------------------------------------------------------------


def report_targets(app) -> tuple[list[tuple[int, int, int]], int]:
    """(assignment, period, liaison) triples with no report yet, and the number of figures per report."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.auth.services import create_user
    from app.extensions import db
    from app.plans.models import Assignment, Period
    from app.plans.services import import_plan_file
    from app.reports.services import indicators_for
    from app.units.services import set_liaison

    with app.app_context():
        plan = import_plan_file(PLAN).plan
        liaisons: dict[int, int] = {}
        for a in db.session.execute(select(Assignment).where(Assignment.plan_id == plan.id)).scalars():
            if a.unit_id not in liaisons:
                user = create_user(f"lx{a.unit_id}", "联络员", "liaison", "bench-pass-1", unit_id=a.unit_id)
                set_liaison(a.unit, user, None)
                db.session.flush()
                liaisons[a.unit_id] = user.id
        db.session.commit()
        months = db.session.execute(select(Period.id).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                    .order_by(Period.start)).scalars().all()
        with_figures = [a for a in db.session.execute(select(Assignment).where(Assignment.plan_id == plan.id))
                        .scalars() if indicators_for(a)]
        figures = statistics.median(len(indicators_for(a)) for a in with_figures)
        targets = [(a.id, p, liaisons[a.unit_id]) for p in months for a in with_figures]
        assert db.session.execute(select(User)).first() is not None
    return targets, int(figures)


def write_reports(app, targets: list[tuple[int, int, int]]) -> tuple[float, float]:
    """Save and submit one report per target, one transaction each; (wall, CPU) seconds per report."""
    from app.auth.models import User
    from app.extensions import db
    from app.plans.models import Assignment, Period
    from app.reports import services

    with app.app_context():
        started, cpu = time.perf_counter(), time.process_time()
        for assignment_id, period_id, user_id in targets:
            assignment = db.session.get(Assignment, assignment_id)
            period = db.session.get(Period, period_id)
            user = db.session.get(User, user_id)
            figures = {ind.id: Decimal("1234.5") for ind in services.indicators_for(assignment)}
            data = services.ReportInput("本月按方案推进各项工作，已发布岗位信息。", "", "继续推进。", figures)
            report = services.save_report(assignment, period, user, data, 0)
            services.transition(report, "submit", user)
            db.session.commit()
            db.session.remove()
        return (time.perf_counter() - started) / len(targets), (time.process_time() - cpu) / len(targets)


def bench_report(app, runs: int, per_run: int) -> None:
    from app.audit import services as audit

    targets, figures = report_targets(app)
    needed = 2 * runs * per_run + per_run
    if len(targets) < needed:
        raise SystemExit(f"only {len(targets)} report targets for {needed}: lower --runs or --per-run")
    real = audit.record
    write_reports(app, targets[:per_run])  # warm-up: caches, first statements
    used = per_run
    with_audit, without = [], []
    for run in range(runs):
        for on in ((True, False) if run % 2 == 0 else (False, True)):
            chunk = targets[used:used + per_run]
            used += per_run
            audit.record = real if on else (lambda *args, **kwargs: None)  # type: ignore[assignment]
            try:
                (with_audit if on else without).append(write_reports(app, chunk))
            finally:
                audit.record = real  # type: ignore[assignment]
    print(f"(b) save + submit one report ({figures} figure(s), {per_run} reports per run, {runs} runs each):")
    for i, what in ((0, "wall"), (1, "CPU of this process")):
        a = statistics.median(r[i] for r in with_audit)
        b = statistics.median(r[i] for r in without)
        print(f"    {what}: with the audit log {a * 1000:.2f} ms, without {b * 1000:.2f} ms: ratio {a / b:.2f} "
              "(target <= 1.30)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="a PostgreSQL URL (the bench uses its own database beside it)")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--per-run", type=int, default=60, help="reports written per timed run in (b)")
    parser.add_argument("--only", choices=("verify", "report"))
    args = parser.parse_args()
    print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}")
    if args.only in (None, "verify"):
        with scratch_database(args.pg) as url:
            app = make_app(url)
            migrate(app)
            bench_verify(app, url, args.events, args.runs)
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()
    if args.only in (None, "report"):
        with scratch_database(args.pg) as url:
            app = make_app(url)
            migrate(app)
            bench_report(app, args.runs, args.per_run)
            with app.app_context():
                from app.extensions import db

                db.engine.dispose()


if __name__ == "__main__":
    main()
