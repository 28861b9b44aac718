"""The review queue runs no more SQL statements on a data set ten times larger (steps taken by
the sweep, some reports returned), whatever the filters: a fixed set of statements per page,
of which a page skips those it does not need (the next part of the queue once the page is full)."""

from __future__ import annotations

from sqlalchemy import select, update

from app.demo.synth import synthesize
from app.extensions import db
from app.plans.models import Period
from app.reminders.sweep import sweep
from app.reports.models import Report
from tests.conftest import FROZEN_TODAY, _empty_database
from tests.statement_counts import count_statements


def _measure(app, login, factory, scale: int) -> dict[str, tuple[int, int]]:
    stats = synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=5, months=12, echo=lambda s: None)
    from app.plans.services import find_plan

    plan_id = find_plan(stats["largest_plan"]).id
    current = db.session.execute(select(Period.id).where(Period.plan_id == plan_id, Period.start <= FROZEN_TODAY)
                                 .order_by(Period.start.desc())).scalars().first()
    returned = db.session.execute(select(Report.id).where(Report.period_id == current).limit(3)).scalars().all()
    db.session.execute(update(Report).where(Report.id.in_(returned)).values(state="returned")
                       .execution_options(audited=True))  # test data, as the synthesizer writes it
    sweep(FROZEN_TODAY)  # every step of every report missing so far
    db.session.commit()
    factory.user("office", role="staff")
    staff = login(app.test_client(), "office")
    urls = {
        "queue": "/review/queue",
        "queue_all_periods": "/review/queue?period=all",
        "queue_plan": f"/review/queue?plan={plan_id}",
        "queue_returned": "/review/queue?reason=returned",
        "queue_escalated_cities": "/review/queue?reason=escalated&kind=league_city&step=escalate",
        "queue_page_2": "/review/queue?period=all&page=2",
    }
    counts = {}
    for name, url in urls.items():
        count_statements(app, staff, url)  # warm caches
        rows = staff.get(url).text.count('name="item"')
        counts[name] = (count_statements(app, staff, url), min(rows, 1))
    return counts


def test_queue_statements_do_not_grow_with_the_data(app, login, factory):
    small = _measure(app, login, factory, 1)
    _empty_database(app)
    large = _measure(app, login, factory, 10)
    assert set(small) == set(large)
    assert all(large[k][0] <= small[k][0] for k in small), {k: (small[k], large[k]) for k in small}
    assert all(rows == 1 for _, rows in small.values()), small  # every page shows items: not a vacuous count
    assert all(0 < n < 30 for n, _ in small.values()), small
