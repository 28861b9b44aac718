"""The number of SQL statements per page does not grow with the data: the same pages on a
small data set and on one ten times larger run the same number of statements."""

from __future__ import annotations

from sqlalchemy import event, select

from app.demo.synth import SYNTH_PASSWORD, synthesize
from app.extensions import db
from app.plans.models import Assignment, Period

PAGES = ["matrix", "overdue", "overdue_plan", "my_items", "staff_items", "item", "report_form", "plan_show",
         "plans"]


def _count_statements(app, client, url: str) -> int:
    statements = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert response.status_code == 200, (url, response.status_code)
    return len(statements)


def _measure(app, login, factory, scale: int) -> dict[str, int]:
    stats = synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=5, months=12, echo=lambda s: None)
    factory.user("office", role="staff")
    liaison = login(app.test_client(), stats["first_user"], SYNTH_PASSWORD)
    staff = login(app.test_client(), "office")
    plan = stats["largest_plan"]
    from app.plans.services import find_plan

    plan_id = find_plan(plan).id
    from app.auth.models import User

    unit_id = db.session.execute(select(User.unit_id).where(User.username == stats["first_user"])).scalar_one()
    item, item_plan = db.session.execute(select(Assignment.id, Assignment.plan_id)
                                         .where(Assignment.unit_id == unit_id)).first()
    period = db.session.execute(select(Period.id).where(Period.plan_id == item_plan)).scalars().first()
    urls = {
        "matrix": (staff, f"/review/plans/{plan}/matrix"),
        "overdue": (staff, "/review/overdue?period=all"),
        "overdue_plan": (staff, f"/review/overdue?plan={plan_id}"),
        "my_items": (liaison, "/items"),
        "staff_items": (staff, "/items"),
        "item": (liaison, f"/items/{item}"),
        "report_form": (liaison, f"/items/{item}/reports/{period}"),
        "plan_show": (staff, f"/plans/{plan}"),
        "plans": (staff, "/plans/"),
    }
    counts = {}
    for name, (client, url) in urls.items():
        _count_statements(app, client, url)  # warm caches (user loading, lazy state)
        counts[name] = _count_statements(app, client, url)
    return counts


def test_statements_per_page_do_not_grow_with_the_data(app, login, factory):
    small = _measure(app, login, factory, 1)
    from tests.conftest import _empty_database

    _empty_database(app)
    large = _measure(app, login, factory, 10)
    assert set(small) == set(PAGES)
    assert small == large, {k: (small[k], large[k]) for k in small if small[k] != large[k]}
    assert all(0 < count < 40 for count in small.values()), small
