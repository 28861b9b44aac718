"""Page speed on national-scale synthetic data (issue: core system).

    .venv/bin/python bench/bench_pages.py                  # SQLite and PostgreSQL, full scale
    .venv/bin/python bench/bench_pages.py --db postgresql --plans 300 --repeat 30
    .venv/bin/python bench/bench_pages.py --reuse          # keep the generated databases

Generates 300 plans × 20 tasks × 17 units (≈100,000 assignments, ≈1,000,000 reports) with
`app.demo.synth`, then requests the leading-group matrix (largest plan), the overdue list
(all plans and one plan) and a liaison's own list through the app, in-process, and prints
the median and p95 in milliseconds and the SQL statements per page. Target: p95 < 300 ms
on PostgreSQL. Databases: bench/out/bench.db and the PostgreSQL database pt_bench."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from benchlib import OUT, PG_URL, TODAY, percentile

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")


def database(kind: str, reuse: bool) -> tuple[str, bool]:
    """The database URL and whether it must be filled."""
    if kind == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / "bench.db"
        if path.exists() and reuse:
            return f"sqlite:///{path}", False
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", True
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'pt_bench'").fetchone()
        if exists and reuse:
            return PG_URL, False
        conn.execute("DROP DATABASE IF EXISTS pt_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE pt_bench")
    return PG_URL, True



def run(kind: str, args) -> list[tuple]:
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import event, select

    from app import create_app
    from app.extensions import db

    url, fill = database(kind, args.reuse)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "MFA_REQUIRED_ROLES": (),
                      "TODAY": TODAY, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        from flask_migrate import upgrade

        from app.auth.models import User
        from app.auth.services import create_user
        from app.demo.synth import SYNTH_PASSWORD, synthesize
        from app.plans.models import Plan

        if fill:
            upgrade()
            stats = synthesize(plans=args.plans, tasks=20, units=args.units, units_per_task=17, months=12)
            print(f"[{kind}] generated: {stats}")
            create_user("bench-staff", "bench", "staff", "bench-pass-1")
            db.session.commit()
        first_plan = db.session.execute(select(Plan.slug).where(Plan.slug.like("synth-%")).order_by(Plan.id)).scalars().first()
        plan_id = db.session.execute(select(Plan.id).where(Plan.slug == first_plan)).scalar_one()
        liaison = db.session.execute(select(User.username).where(User.username.like("syn%")).order_by(User.id)).scalars().first()
        engine = db.engine
    staff = app.test_client()
    assert staff.post("/login", data={"username": "bench-staff", "password": "bench-pass-1"}).status_code == 302
    unit = app.test_client()
    assert unit.post("/login", data={"username": liaison, "password": SYNTH_PASSWORD}).status_code == 302
    pages = [
        ("matrix (one plan)", staff, f"/review/plans/{first_plan}/matrix"),
        ("overdue (all plans, current period)", staff, "/review/overdue"),
        ("overdue (all plans, every period)", staff, "/review/overdue?period=all"),
        ("overdue (one plan, current period)", staff, f"/review/overdue?plan={plan_id}"),
        ("liaison: my items", unit, "/items"),
    ]
    counter = {"n": 0}

    def count(*_args, **_kw):
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    rows = []
    for name, client, url_ in pages:
        client.get(url_)  # warm up
        timings, statements = [], 0
        for _ in range(args.repeat):
            counter["n"] = 0
            t0 = time.perf_counter()
            response = client.get(url_)
            timings.append((time.perf_counter() - t0) * 1000)
            statements = counter["n"]
            assert response.status_code == 200, (url_, response.status_code)
        rows.append((kind, name, statistics.median(timings), percentile(timings, 0.95), statements))
    event.remove(engine, "before_cursor_execute", count)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--plans", type=int, default=300)
    parser.add_argument("--units", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="reuse an already generated database")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = []
    for kind in kinds:
        results += run(kind, args)
    print(f"\n{'database':<11} {'page':<36} {'median ms':>10} {'p95 ms':>8} {'SQL':>4}")
    for kind, name, median, p95, statements in results:
        print(f"{kind:<11} {name:<36} {median:>10.1f} {p95:>8.1f} {statements:>4}")


if __name__ == "__main__":
    main()
