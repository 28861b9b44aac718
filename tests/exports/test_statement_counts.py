"""The SQL statements of an export do not grow with its rows: the same exports on a small data set
and on one ten times larger run the same number of statements (the rows are streamed from one query)."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select, text

from app.demo.synth import synthesize
from app.extensions import db
from app.plans.models import Period
from tests.statement_counts import count_statements

EXPORTS = ["matrix.xlsx", "matrix.csv", "figures.xlsx", "figures.csv", "overdue.xlsx", "overdue.csv",
           "overdue_plan.csv"]


def _measure(app, login, factory, scale: int) -> tuple[dict[str, int], dict[str, int]]:
    stats = synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=3 * scale, months=12,
                       echo=lambda s: None)
    factory.user("office", role="staff")
    from app.plans.services import find_plan

    plan = find_plan(stats["largest_plan"])
    period = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.label == "2025年6月")
                                ).scalar_one()
    # one figure per report of that month (the synthetic data has none)
    db.session.execute(text(
        "INSERT INTO figure (report_id, indicator_id, value) SELECT r.id, i.id, r.id + 0.5 FROM report r "
        "JOIN assignment a ON a.id = r.assignment_id JOIN indicator i ON i.task_id = a.task_id "
        "WHERE r.period_id = :period"), {"period": period.id})
    db.session.commit()
    staff = login(app.test_client(), "office")
    base = f"/exports/plans/{plan.slug}"
    urls = {
        "matrix.xlsx": f"{base}/matrix.xlsx?period={period.id}",
        "matrix.csv": f"{base}/matrix.csv?period={period.id}",
        "figures.xlsx": f"{base}/figures.xlsx?period={period.id}",
        "figures.csv": f"{base}/figures.csv?period={period.id}",
        "overdue.xlsx": "/exports/overdue.xlsx?period=all",
        "overdue.csv": "/exports/overdue.csv?period=all",
        "overdue_plan.csv": f"/exports/overdue.csv?plan={plan.id}&period=all",
    }
    counts, rows = {}, {}
    for name, url in urls.items():
        count_statements(app, staff, url)  # warm caches (user loading, lazy state)
        counts[name] = count_statements(app, staff, url)
        if name.endswith(".csv"):
            body = staff.get(url).data.decode("utf-8-sig")
            rows[name] = len(list(csv.reader(io.StringIO(body)))) - 1
    return counts, rows


def test_statements_per_export_do_not_grow_with_the_rows(app, login, factory):
    small, small_rows = _measure(app, login, factory, 1)
    from tests.conftest import _empty_database

    _empty_database(app)
    large, large_rows = _measure(app, login, factory, 10)
    assert set(small) == set(EXPORTS)
    assert all(large_rows[k] > 5 * small_rows[k] > 0 for k in ("figures.csv", "overdue.csv")), (small_rows, large_rows)
    print("statements per export:", small, "rows:", small_rows, large_rows)
    assert small == large, {k: (small[k], large[k]) for k in small if small[k] != large[k]}
    assert all(0 < count < 25 for count in small.values()), small
