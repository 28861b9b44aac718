"""Steps the browser tests share."""

from __future__ import annotations

from playwright.sync_api import expect

PASSWORD = "e2e-pass-123"  # every account of the live server (tests/e2e/conftest.py)


def main_text(page, text: str) -> None:
    """Wait (up to 10 s) until the page's main area shows `text`; fails with the page otherwise."""
    expect(page.locator("main")).to_contain_text(text, timeout=10_000)


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def october_report(app, *, accept: bool) -> tuple[int, int]:
    """The liaison lx-gxt's October report of task 2 with 12.5 for each indicator it reports,
    submitted (and accepted by staff1 when `accept`) through the services; (assignment id, period id)."""
    from decimal import Decimal

    from sqlalchemy import select

    from app.auth.models import User
    from app.extensions import db
    from app.plans.models import Assignment, Period, Task
    from app.reports import services

    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "lx-gxt")).scalar_one()
        item = db.session.execute(select(Assignment).join(Task, Task.id == Assignment.task_id)
                                  .where(Task.number == 2, Assignment.unit_id == user.unit_id)).scalar_one()
        october = db.session.execute(select(Period).where(Period.plan_id == item.plan_id, Period.kind == "monthly",
                                                          Period.label.like("%10月"))).scalar_one()
        figures = {i.id: Decimal("12.5") for i in services.indicators_for(item)}
        report = services.save_report(item, october, user, services.ReportInput("已归集岗位。", "", "", figures), None)
        services.transition(report, "submit", user)
        if accept:
            staff = db.session.execute(select(User).where(User.username == "staff1")).scalar_one()
            services.transition(report, "accept", staff)
        db.session.commit()
        return item.id, october.id
