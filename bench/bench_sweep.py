"""Speed of the daily sweep on national-scale synthetic data (issue 3: reminders).

    .venv/bin/python bench/bench_sweep.py                       # SQLite and PostgreSQL, full scale
    .venv/bin/python bench/bench_sweep.py --db sqlite --runs 5
    .venv/bin/python bench/bench_sweep.py --reuse               # keep and reuse the generated databases

Generates 300 plans × 20 tasks × 17 units (≈100,000 assignments, 12 monthly periods,
≈1,000,000 reports, every unit with a liaison and a head's e-mail) with `app.demo.synth`,
then times `sweep(day)` and its commit — deciding the steps, writing them, and writing every
digest to the outbox — in two situations:

  daily    the sweep of 2025-12-02 after the one of 2025-12-01 (an ordinary day: the reminders
           for the November reports not yet in)
  deadline the sweep of 2026-01-05 after the one of 2026-01-04: three working days before the
           December reports are due, when about half of them are not in (a heavy day)
  backlog  the first sweep ever, on 2026-01-20: every step of every report missing since
           January falls due at once (the worst case: a new installation, or a long outage)

Between runs the steps and the outbox are emptied (not timed). Prints the median of the
runs in seconds. Target: under 10 s on SQLite and PostgreSQL. Databases:
bench/out/bench_sweep.db and the PostgreSQL database pt_bench_sweep."""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
PG_NAME = "pt_bench_sweep"
PG_URL = os.environ.get("BENCH_SWEEP_PG_URL", f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_NAME}")
SCENARIOS = {"daily": (date(2025, 12, 1), date(2025, 12, 2)), "deadline": (date(2026, 1, 4), date(2026, 1, 5)),
             "backlog": (None, date(2026, 1, 20))}


def database(kind: str, reuse: bool) -> tuple[str, bool]:
    """The database URL and whether it must be filled."""
    if kind == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / "bench_sweep.db"
        if path.exists() and reuse:
            return f"sqlite:///{path}", False
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", True
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_NAME,)).fetchone()
        if exists and reuse:
            return PG_URL, False
        conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_NAME}")
    return PG_URL, True


def reset() -> None:
    """Empty what a sweep writes (the audit events stay: they are append-only)."""
    from sqlalchemy import text

    from app.extensions import db

    for table in ("inbox_entry", "notice", "ladder_step", "scheduler_job"):
        db.session.execute(text(f"DELETE FROM {table}"))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE ladder_step")
            conn.exec_driver_sql("VACUUM ANALYZE notice")


def run(kind: str, args: argparse.Namespace) -> dict[str, float]:
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import func, select, update

    from app import create_app
    from app.extensions import db

    url, fill = database(kind, args.reuse)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TODAY": date(2026, 1, 20)})
    results: dict[str, float] = {}
    with app.app_context():
        from flask_migrate import upgrade

        from app.auth.services import create_user
        from app.demo.synth import synthesize
        from app.plans.models import Assignment
        from app.reminders.models import LadderStep, Notice
        from app.reminders.sweep import sweep
        from app.units.models import Unit

        if fill:
            upgrade()
            stats = synthesize(plans=args.plans, tasks=20, units=args.units, units_per_task=17, months=12)
            db.session.execute(update(Unit).values(head_name="负责人", head_email=func.lower(
                func.replace(Unit.name, "合成单位", "head")) + "@example.org")
                .execution_options(audited=True))  # synthetic data, like synthesize()
            for i in range(3):
                create_user(f"bench-staff{i}", f"办公室{i}", "staff", "bench-pass-1", email=f"office{i}@example.org")
            db.session.commit()
            print(f"[{kind}] generated: {stats}")
        n = db.session.execute(select(func.count()).select_from(Assignment)).scalar_one()
        print(f"[{kind}] {n:,} assignments")
        for name, (before, day) in SCENARIOS.items():
            times = []
            for _ in range(args.runs):
                reset()
                if before is not None:
                    sweep(before)
                    db.session.commit()
                started = time.perf_counter()
                result = sweep(day)
                db.session.commit()
                times.append(time.perf_counter() - started)
                steps = db.session.execute(select(func.count()).select_from(LadderStep).where(
                    LadderStep.day == day)).scalar_one()
                notices = db.session.execute(select(func.count()).select_from(Notice).where(
                    Notice.day == day)).scalar_one()
                print(f"[{kind}] {name} {day}: {times[-1]:.2f} s, {steps:,} steps, {notices:,} notices "
                      f"({dict(result.taken)})")
            results[name] = statistics.median(times)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--plans", type=int, default=300)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="reuse the databases of an earlier run")
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    summary = {kind: run(kind, args) for kind in kinds}
    print()
    print("median of", args.runs, "runs (seconds; target < 10 s)")
    for kind, results in summary.items():
        print(f"  {kind:<11} " + "  ".join(f"{name} {value:.2f} s" for name, value in results.items()))


if __name__ == "__main__":
    main()
