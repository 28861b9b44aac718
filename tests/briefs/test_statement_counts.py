"""The brief pages and the issue of each kind of brief run the same number of SQL statements on a small data set
and on one ten times larger (tests/review/test_statement_counts.py does the same for the review pages)."""

from __future__ import annotations

from sqlalchemy import event, select

from app.demo.synth import synthesize
from app.extensions import db
from app.plans.models import Period
from app.plans.services import find_plan
from tests.review.test_statement_counts import _count_statements


def _count_post(app, client, url: str, data: dict) -> int:
    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        response = client.post(url, data=data)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert response.status_code == 302, (url, response.status_code, response.text[-1000:])
    return len(statements)


def _measure(app, login, factory, scale: int) -> dict[str, int]:
    stats = synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=5, months=12, echo=lambda s: None)
    factory.user("office", role="staff")
    staff = login(app.test_client(), "office")
    plan = find_plan(stats["largest_plan"])
    months = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                .order_by(Period.start)).scalars().all()
    db.session.rollback()
    counts = {}
    kinds = {"monthly": months[10], "quarterly": months[8], "annual": months[11]}  # Nov; Sep (Q3); Dec (the year)
    for kind, period in kinds.items():
        data = {"plan": str(plan.id), "kind": kind, "period": str(period.id)}
        _count_post(app, staff, "/briefs/issue", data)  # warm up (and a first brief of the kind)
        counts[f"issue {kind}"] = _count_post(app, staff, "/briefs/issue", data)
    from app.briefs.models import Brief

    brief = db.session.execute(select(Brief.id).order_by(Brief.id.desc())).scalars().first()
    db.session.rollback()
    pages = {"index": f"/briefs?plan={plan.id}", "index all": "/briefs", "show": f"/briefs/{brief}",
             "download": f"/briefs/{brief}.docx"}
    for name, url in pages.items():
        _count_statements(app, staff, url)
        counts[name] = _count_statements(app, staff, url)
    return counts


def test_statements_do_not_grow_with_the_data(app, login, factory):
    small = _measure(app, login, factory, 1)
    from tests.conftest import _empty_database

    _empty_database(app)
    large = _measure(app, login, factory, 10)
    assert small == large, {k: (small[k], large[k]) for k in small if small[k] != large[k]}
    assert all(0 < count < 40 for count in small.values()), small
