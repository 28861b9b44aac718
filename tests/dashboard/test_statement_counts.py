"""The dashboard pages run the same number of SQL statements on a data set ten times larger."""

from __future__ import annotations

from sqlalchemy import select, text

from app.demo.synth import synthesize
from app.extensions import db
from app.plans.models import Period, Plan, Section, Task
from tests.statement_counts import assert_flat, warm_counts

PAGES = ["dashboard", "filtered", "light", "items", "indicator_items", "json"]


def _add_figures(plan_id: int) -> None:
    """Figures for every report of the plan's lead units (accepted ones count), one statement."""
    # synth writes reported_by through executemany on SQLite as a JSON *string*; make it the list it means
    db.session.execute(text("UPDATE indicator SET reported_by = '[\"lead\"]' WHERE plan_id = :plan"),
                       {"plan": plan_id})
    db.session.execute(text(
        "INSERT INTO figure (report_id, indicator_id, value) "
        "SELECT report.id, indicator.id, 7 FROM report "
        "JOIN assignment ON assignment.id = report.assignment_id "
        "JOIN indicator ON indicator.task_id = assignment.task_id "
        "WHERE assignment.plan_id = :plan AND assignment.role = 'lead'"), {"plan": plan_id})
    db.session.commit()


def _measure(app, login, factory, scale: int) -> dict[str, int]:
    stats = synthesize(plans=2 * scale, tasks=5, units=30 * scale, units_per_task=5, months=12, echo=lambda s: None)
    factory.user("office", role="staff")
    staff = login(app.test_client(), "office")
    slug = stats["largest_plan"]
    plan_id = db.session.execute(select(Plan.id).where(Plan.slug == slug)).scalar_one()
    _add_figures(plan_id)
    section = db.session.execute(select(Section.id).where(Section.plan_id == plan_id)).scalars().first()
    task = db.session.execute(select(Task.id).where(Task.plan_id == plan_id).order_by(Task.number)).scalars().first()
    period = db.session.execute(select(Period.id).where(Period.plan_id == plan_id).order_by(Period.start)
                                .offset(9)).scalars().first()
    indicator = db.session.execute(text("SELECT id FROM indicator WHERE task_id = :t"), {"t": task}).scalar_one()
    base = f"/plans/{slug}/dashboard"
    urls = {
        "dashboard": base,
        "filtered": f"{base}?section={section}&kind=department&period={period}",
        "light": f"{base}?light=green&period={period}",
        "items": f"{base}/items?what=overdue",
        "indicator_items": f"{base}/items?what=indicator&indicator={indicator}&period={period}",
        "json": f"{base}.json",
    }
    return warm_counts(app, staff, urls)


def test_statements_per_page_do_not_grow_with_the_data(app, login, factory):
    assert_flat(app, lambda scale: _measure(app, login, factory, scale), pages=PAGES, limit=25)
