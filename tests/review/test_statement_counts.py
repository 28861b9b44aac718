"""The number of SQL statements per page does not grow with the data: the same pages on a
small data set and on one ten times larger run the same number of statements."""

from __future__ import annotations

from sqlalchemy import select

from app.demo.synth import SYNTH_PASSWORD, synthesize
from app.extensions import db
from app.plans.models import Assignment, Period
from tests.statement_counts import assert_flat, count_statements

PAGES = ["matrix", "overdue", "overdue_plan", "my_items", "staff_items", "item", "report_form", "plan_show",
         "plans"]


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
        count_statements(app, client, url)  # warm caches (user loading, lazy state)
        counts[name] = count_statements(app, client, url)
    return counts


def test_statements_per_page_do_not_grow_with_the_data(app, login, factory):
    assert_flat(app, lambda scale: _measure(app, login, factory, scale), pages=PAGES, limit=40)
