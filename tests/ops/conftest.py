"""Fixtures for the operations tests: the root logger restored after each test, a world with data
(a plan, a submitted report, audit events), an environment without production settings."""

from __future__ import annotations

import logging

import pytest

PRODUCTION_ENV = ("APP_ENV", "SECRET_KEY", "FLASK_DEBUG", "LOG_FORMAT", "LOG_LEVEL", "TRUSTED_PROXIES",
                  "DATABASE_URL")


@pytest.fixture(autouse=True)
def _restore_root_logger():
    """create_app outside TESTING installs a handler on the root logger: take it away again."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No deployment settings from the caller's environment; an instance folder of the test's own."""
    for key in PRODUCTION_ENV:
        monkeypatch.delenv(key, raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setenv("INSTANCE_PATH", str(instance))
    return instance


@pytest.fixture
def filled(factory):
    """A plan imported, a liaison's report saved and submitted: rows in most tables and audit events."""
    from sqlalchemy import select

    from app.extensions import db
    from app.plans.models import Assignment, Period, Task
    from app.reports import services

    plan = factory.plan()
    own = factory.user("lx-ops", unit="自治区工业和信息化厅")
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                       Assignment.unit_id == own.unit_id)).scalar_one()
    period = db.session.execute(
        select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    data = services.ReportInput("进展顺利", "", "", {i.id: 7 for i in services.indicators_for(item)})
    report = services.save_report(item, period, own, data, None)
    services.transition(report, "submit", own)
    db.session.commit()
    return {"plan": plan.slug, "report": report.id, "user": own.id}
