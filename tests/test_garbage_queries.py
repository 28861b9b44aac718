"""Bad input never gives a 500: every GET page a signed-in office user or liaison can open, with
garbage in each query parameter the pages read (non-digits, huge numbers, superscripts, unknown
keys, SQL-looking text), answers with a page (200, 302, 400 or 404) and no stack trace."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Period

GARBAGE = ["x", "-1", "99999999999999999999", "²", "1;DROP TABLE plan", "<b>"]
PARAMS = ["plan", "period", "kind", "unit", "task", "section", "light", "what", "indicator", "step", "reason",
          "page", "measure", "start", "end", "action", "q"]


def _office_pages(plan: str) -> list[str]:
    return [f"/plans/{plan}/dashboard", f"/plans/{plan}/dashboard.json", f"/plans/{plan}/dashboard/items",
            "/review/queue", "/review/overdue", f"/review/plans/{plan}/matrix", f"/plans/{plan}/ranking",
            "/briefs", "/audit/log", "/integrity/flags", "/cases/", f"/exports/plans/{plan}/matrix.csv",
            f"/exports/plans/{plan}/figures.csv", "/exports/overdue.csv", f"/plans/{plan}/ranking.csv"]


@pytest.fixture
def world(factory):
    plan = factory.plan()
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    factory.user("staff", role="staff")
    item = db.session.execute(select(Assignment).where(Assignment.unit_id == own.unit_id)).scalars().first()
    period = db.session.execute(select(Period).order_by(Period.start)).scalars().first()
    return {"plan": plan.slug, "item": item.id, "period": period.id}


def test_garbage_in_the_query_string_never_gives_a_500(app, world, login):
    staff = login(app.test_client(), "staff")
    liaison = login(app.test_client(), "lx-own")
    pages = [(staff, url) for url in _office_pages(world["plan"])]
    pages += [(liaison, url) for url in ("/items", f"/items/{world['item']}",
                                         f"/items/{world['item']}/reports/{world['period']}", "/inbox")]
    failures = []
    for client, url in pages:
        for name in PARAMS:
            for value in GARBAGE:
                full = f"{url}{'&' if '?' in url else '?'}{name}={value}"
                response = client.get(full)
                if response.status_code >= 500 or b"Traceback" in response.data:
                    failures.append(f"{full}: {response.status_code}")
    assert failures == []
