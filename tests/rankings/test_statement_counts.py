"""SQL statements per ranking page do not grow with the data: the same pages on a small
synthetic data set and on one ten times larger run the same number of statements."""

from __future__ import annotations

from sqlalchemy import select

from app.auth.models import User
from app.demo.synth import synthesize
from app.extensions import db
from app.plans.services import find_plan
from app.rankings import services
from app.timeutil import today
from tests.statement_counts import assert_flat, warm_counts

PAGES = ["ranking", "ranking_kind", "unit", "publication", "xlsx", "csv", "publication_csv"]


def _measure(app, login, factory, scale: int) -> dict[str, int]:
    stats = synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=5, months=12, echo=lambda s: None)
    factory.user("office", role="staff")
    staff = login(app.test_client(), "office")
    slug = stats["largest_plan"]
    plan = find_plan(slug)
    user = db.session.execute(select(User).where(User.username == "office")).scalar_one()
    periods = services.plan_periods(plan)
    period = services.default_period(periods, today())
    pub = services.publish(plan, period, user, None, today())
    db.session.commit()
    unit_id = pub.rows[0]["unit_id"]
    urls = {
        "ranking": f"/plans/{slug}/ranking",
        "ranking_kind": f"/plans/{slug}/ranking?kind=department&period={period.id}",
        "unit": f"/plans/{slug}/ranking/units/{unit_id}?measure=overdue",
        "publication": f"/rankings/{pub.id}",
        "xlsx": f"/plans/{slug}/ranking.xlsx",
        "csv": f"/plans/{slug}/ranking.csv",
        "publication_csv": f"/rankings/{pub.id}.csv",
    }
    return warm_counts(app, staff, urls)


def test_statements_per_ranking_page_do_not_grow_with_the_data(app, login, factory):
    assert_flat(app, lambda scale: _measure(app, login, factory, scale), pages=PAGES, limit=30)
