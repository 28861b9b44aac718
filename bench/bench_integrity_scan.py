"""Speed of `flask integrity scan`: every plausibility rule over every stated figure.

    .venv/bin/python bench/bench_integrity_scan.py                    # SQLite, the employment plan × 8 copies
    .venv/bin/python bench/bench_integrity_scan.py --db postgresql --copies 40
    .venv/bin/python bench/bench_integrity_scan.py --repeat 7

Loads the Inner Mongolia employment plan (and --copies renamed copies of it), then writes for every
assignment that reports figures eleven monthly reports (February to December 2025, all accepted) with one
figure per indicator: a year-to-date random walk with a few planted oddities. Rows go in with bulk
INSERTs (not through the services: this measures the scan, not the writing). Prints the number of
figures and flags, and the median time of a scan without storing (the query and the rules) and of the
first scan that stores its flags (with one audit event per new flag)."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out"
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/pt_bench_scan"
PLAN = ROOT / "workflows" / "plans" / "nmg-2025-employment.yaml"


def database(kind: str) -> str:
    if kind == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / "bench_scan.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS pt_bench_scan WITH (FORCE)")
        conn.execute("CREATE DATABASE pt_bench_scan")
    return PG_URL


def plan_copies(copies: int, folder: Path) -> list[Path]:
    data = yaml.safe_load(PLAN.read_text(encoding="utf-8"))
    paths = []
    for i in range(copies):
        copy = dict(data)
        if i:
            copy["id"] = f"{data['id']}-copy{i}"
            copy["code"] = f"{data['code']}副本{i}"
        path = folder / f"plan-{i}.yaml"
        path.write_text(yaml.safe_dump(copy, allow_unicode=True, sort_keys=False), encoding="utf-8")
        paths.append(path)
    return paths


def fill(copies: int) -> int:
    """Plans, then accepted monthly reports with figures and one revision each; returns the figure count."""
    from sqlalchemy import insert, select

    from app.extensions import db
    from app.plans.models import Assignment, Period
    from app.plans.services import import_plan_file
    from app.reports.models import Figure, FigureRevision, Report
    from app.reports.services import indicators_for

    folder = Path(tempfile.mkdtemp(prefix="bench-plans-"))
    for path in plan_copies(copies, folder):
        import_plan_file(path)
    db.session.commit()
    rng = random.Random(4)
    now = datetime.now(UTC).replace(tzinfo=None)
    figures = 0
    assignments = db.session.execute(select(Assignment).where(Assignment.active)).scalars().all()
    months: dict[int, list[Period]] = {}
    for a in assignments:
        if a.plan_id not in months:
            months[a.plan_id] = db.session.execute(
                select(Period).where(Period.plan_id == a.plan_id, Period.kind == "monthly").order_by(Period.start)
            ).scalars().all()
        indicators = indicators_for(a)
        if not indicators:
            continue
        report_rows = [{"assignment_id": a.id, "period_id": p.id, "state": "accepted", "progress_text": "进展",
                        "problems_text": "", "next_steps_text": "", "submitted_at": now, "first_submitted_at": now,
                        "decided_at": now, "created_at": now, "updated_at": now, "version": 3}
                       for p in months[a.plan_id]]
        ids = db.session.execute(insert(Report).returning(Report.id, Report.period_id), report_rows).all()
        figure_rows = []
        for ind in indicators:
            level = Decimal(rng.uniform(0.5, 5)).quantize(Decimal("0.01"))
            for report_id, _period_id in sorted(ids, key=lambda r: r[1]):
                step = Decimal(rng.uniform(0, 0.8)).quantize(Decimal("0.01"))
                if rng.random() < 0.02:
                    step = -step  # a planted fall of a year-to-date figure
                level = level + step if ind.cumulative else Decimal(rng.uniform(4, 7)).quantize(Decimal("0.1"))
                figure_rows.append({"report_id": report_id, "indicator_id": ind.id, "value": level})
        fids = db.session.execute(insert(Figure).returning(Figure.id, Figure.value), figure_rows).all()
        db.session.execute(insert(FigureRevision), [
            {"figure_id": fid, "kind": "entry", "value": value, "source": "form", "at": now} for fid, value in fids])
        figures += len(fids)
    db.session.commit()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--copies", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db
    from app.integrity import services

    url = database(args.db)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        figures = fill(args.copies)
        print(f"{args.db}: {figures} figures written in {time.perf_counter() - started:.1f} s")
        times = []
        for _ in range(args.repeat):
            db.session.expire_all()
            started = time.perf_counter()
            result = services.scan(store=False)
            times.append(time.perf_counter() - started)
            db.session.rollback()
        median = statistics.median(times)
        print(f"scan, not storing: median {median * 1000:.0f} ms over {args.repeat} runs "
              f"({result.figures / median:,.0f} figures/s), {len(result.raised)} flags")
        started = time.perf_counter()
        result = services.scan()
        db.session.commit()
        elapsed = time.perf_counter() - started
        print(f"first scan storing its flags: {elapsed * 1000:.0f} ms, {len(result.new)} new flags")
        started = time.perf_counter()
        result = services.scan()
        db.session.commit()
        print(f"second scan (nothing new): {(time.perf_counter() - started) * 1000:.0f} ms, {len(result.new)} new")


if __name__ == "__main__":
    main()
