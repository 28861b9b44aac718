"""Dashboard speed on the national-scale synthetic PostgreSQL database pt_bench (made by
bench/bench_pages.py: 300 plans × 20 tasks × 17 units, ≈100,000 assignments, ≈1,000,000 reports).

    .venv/bin/python bench/bench_dashboard.py                 # 30 requests per page
    .venv/bin/python bench/bench_dashboard.py --repeat 50 --no-figures

Requests through the app, in-process, as leading-group staff (bench-staff, made by bench_pages):
the dashboard of the first synthetic plan (all plans are the same size), a filtered view (league/city
units, red lights, November), the overdue item list and the JSON. Prints the median and p95 in
milliseconds, the app's own CPU time per request (median; the rest is the database and waiting for a
core) and the SQL statements per page, with the load average. Target: p95 < 300 ms.

pt_bench holds no figures, so by default the bench first gives every report of the plan's lead
units a figure — inside one transaction that every request joins through a savepoint and that is
rolled back at the end: nothing is left in pt_bench and no other session ever sees those rows."""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from datetime import date

from benchlib import PG_URL, TODAY, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--no-figures", action="store_true", help="measure pt_bench as it is (no figures)")
    args = parser.parse_args()
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import event, select, text

    from app import create_app
    from app.extensions import db
    from app.plans.models import Period, Plan

    app = create_app({"SQLALCHEMY_DATABASE_URI": PG_URL, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "MFA_REQUIRED_ROLES": (), "TODAY": TODAY, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    logging.getLogger("app.access").setLevel(logging.WARNING)  # one line per request would drown the table
    with app.app_context():
        engine = db.engine
        # One outer transaction that every request's session joins with a savepoint; rolled back at the end.
        conn = engine.connect()
        outer = conn.begin()
        session_class = type(db.session())
        db.session.remove()
        session_class.get_bind = lambda self, *a, **kw: conn  # type: ignore[method-assign]
        db.session.configure(join_transaction_mode="create_savepoint")
        plan = db.session.execute(select(Plan).where(Plan.slug.like("synth-%")).order_by(Plan.id)).scalars().first()
        assert plan is not None, "pt_bench has no synthetic plans: run bench/bench_pages.py --db postgresql first"
        slug, plan_id = plan.slug, plan.id
        november = db.session.execute(select(Period.id).where(Period.plan_id == plan_id, Period.kind == "monthly",
                                                              Period.start == date(2025, 11, 1))).scalar_one()
        indicator = db.session.execute(text(
            "SELECT id FROM indicator WHERE plan_id = :p ORDER BY position LIMIT 1"), {"p": plan_id}).scalar_one()
        figures = 0
        if not args.no_figures:
            figures = conn.execute(text(
                "INSERT INTO figure (report_id, indicator_id, value) "
                "SELECT report.id, indicator.id, 5 + report.id % 7 FROM report "
                "JOIN assignment ON assignment.id = report.assignment_id "
                "JOIN indicator ON indicator.task_id = assignment.task_id "
                "WHERE assignment.plan_id = :plan AND assignment.role = 'lead' "
                "AND NOT EXISTS (SELECT 1 FROM figure f WHERE f.report_id = report.id)"), {"plan": plan_id}).rowcount
        db.session.remove()
    print(f"plan {slug}; figures added for the run (rolled back after): {figures}")
    try:
        staff = app.test_client()
        assert staff.post("/login", data={"username": "bench-staff", "password": "bench-pass-1"}).status_code == 302
        base = f"/plans/{slug}/dashboard"
        pages = [
            ("dashboard (current period)", base),
            ("dashboard filtered (league/city, red, Nov)", f"{base}?kind=league_city&light=red&period={november}"),
            ("items: overdue (Nov)", f"{base}/items?what=overdue&period={november}"),
            ("items: indicator total (Nov)", f"{base}/items?what=indicator&indicator={indicator}&period={november}"),
            ("dashboard.json (Nov)", f"{base}.json?period={november}"),
        ]
        counter = {"n": 0}

        def count(*_args, **_kw):
            counter["n"] += 1

        event.listen(engine, "before_cursor_execute", count)
        rows = []
        for name, url in pages:
            assert staff.get(url).status_code == 200, url  # warm up
            timings, cpu, statements = [], [], 0
            for _ in range(args.repeat):
                counter["n"] = 0
                t0, c0 = time.perf_counter(), time.process_time()
                response = staff.get(url)
                timings.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.process_time() - c0) * 1000)
                statements = counter["n"]
                assert response.status_code == 200, (url, response.status_code)
            rows.append((name, statistics.median(timings), percentile(timings, 0.95), statistics.median(cpu),
                         statements))
        event.remove(engine, "before_cursor_execute", count)
    finally:
        outer.rollback()
        conn.close()
    load = os.getloadavg()[0]
    print(f"\n{'page':<44} {'median ms':>10} {'p95 ms':>8} {'app CPU ms':>10} {'SQL':>4}   (load {load:.1f})")
    for name, median, p95, cpu_ms, statements in rows:
        print(f"{name:<44} {median:>10.1f} {p95:>8.1f} {cpu_ms:>10.1f} {statements:>4}")


if __name__ == "__main__":
    main()
