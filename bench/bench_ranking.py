"""Lagging-units ranking speed on the national-scale synthetic data (issue 6).

    .venv/bin/python bench/bench_ranking.py                       # PostgreSQL pt_bench, 30 requests per page
    .venv/bin/python bench/bench_ranking.py --repeat 50

Needs the PostgreSQL database pt_bench made by bench/bench_pages.py (300 plans × 20 tasks × 17
units, ≈100,000 assignments, ≈1,000,000 reports; the user bench-staff). Requests, in-process
through the app, the live ranking page of the largest plan (default period, and one unit kind),
a unit's items page, and times the publication check (recompute) and the two exports, printing
the median and p95 in milliseconds and the SQL statements of each. Target: ranking p95 < 300 ms.

It leaves the data as it found it: the publication it checks is flushed, timed and rolled back,
and the exports are timed through the same service and writer calls as their routes but
without the route's audit event (an audit event cannot be removed). The one lasting write is
the login's own audit event, as in bench_pages.py."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from benchlib import PG_URL, TODAY, percentile


def timed(fn: Callable[[], object], repeat: int, counter: dict[str, int]) -> tuple[float, float, int]:
    fn()  # warm up
    timings, statements = [], 0
    for _ in range(repeat):
        counter["n"] = 0
        t0 = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - t0) * 1000)
        statements = counter["n"]
    return statistics.median(timings), percentile(timings, 0.95), statements


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--url", default=PG_URL)
    args = parser.parse_args()
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="bench-instance-")
    from sqlalchemy import event, func, select

    from app import create_app
    from app.extensions import db
    from app.plans.models import Assignment, Plan

    app = create_app({"SQLALCHEMY_DATABASE_URI": args.url, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "MFA_REQUIRED_ROLES": (), "TODAY": TODAY, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"})
    with app.app_context():
        plan_id, assignments = db.session.execute(
            select(Assignment.plan_id, func.count()).where(Assignment.active).group_by(Assignment.plan_id)
            .order_by(func.count().desc(), Assignment.plan_id).limit(1)).one()
        slug = db.session.execute(select(Plan.slug).where(Plan.id == plan_id)).scalar_one()
        engine = db.engine
    print(f"largest plan: {slug} ({assignments} active assignments), today {TODAY}")
    staff = app.test_client()
    assert staff.post("/login", data={"username": "bench-staff", "password": "bench-pass-1"}).status_code == 302
    counter = {"n": 0}

    def count(*_args, **_kw):
        counter["n"] += 1

    def page(url: str) -> Callable[[], object]:
        def get():
            response = staff.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return response

        return get

    event.listen(engine, "before_cursor_execute", count)
    rows = []
    with app.app_context():
        from app.rankings import services

        plan = db.session.get(Plan, plan_id)
        periods = services.plan_periods(plan)
        period = services.default_period(periods, TODAY)
        ranking = services.live_ranking(plan, periods, period, TODAY)
        worst = ranking.rows[0]
        print(f"period {period.label}, {len(ranking.rows)} units, formula {ranking.formula.version}; "
              f"rank 1: {worst.unit} score {worst.score}")
    for name, url in (("ranking page (default period)", f"/plans/{slug}/ranking"),
                      ("ranking page (departments)", f"/plans/{slug}/ranking?kind=department&period={period.id}"),
                      ("unit items page", f"/plans/{slug}/ranking/units/{worst.unit_id}?period={period.id}")):
        rows.append((name, *timed(page(url), args.repeat, counter)))

    with app.test_request_context(), app.app_context():
        from flask_login import login_user

        from app.auth.models import User
        from app.exports.writers import csv_lines, write_xlsx
        from app.rankings import routes, services

        user = db.session.execute(select(User).where(User.username == "bench-staff")).scalar_one()
        login_user(user)
        plan = db.session.get(Plan, plan_id)
        pub = services.publish(plan, period, user, "bench", TODAY)  # flushed, never committed
        rows.append(("publication check (recompute)", *timed(lambda: services.recompute(pub), args.repeat, counter)))
        db.session.rollback()

        def export(kind: str) -> Callable[[], object]:
            def run():
                r = services.live_ranking(plan, periods, period, TODAY)
                data = [x.to_dict() for x in r.rows]
                columns = routes._columns(r.formula)
                if kind == "xlsx":
                    with tempfile.TemporaryFile() as handle:
                        write_xlsx(handle, "落后单位排名", columns, routes._export_rows(r.formula, data), title="bench")
                else:
                    b"".join(csv_lines(columns, routes._export_rows(r.formula, data)))

            return run

        rows.append(("export xlsx (no audit event)", *timed(export("xlsx"), args.repeat, counter)))
        rows.append(("export csv (no audit event)", *timed(export("csv"), args.repeat, counter)))
        db.session.rollback()
    event.remove(engine, "before_cursor_execute", count)
    print(f"\n{'page':<34} {'median ms':>10} {'p95 ms':>8} {'SQL':>4}")
    for name, median, p95, statements in rows:
        print(f"{name:<34} {median:>10.1f} {p95:>8.1f} {statements:>4}")


if __name__ == "__main__":
    main()
