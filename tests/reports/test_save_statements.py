"""A draft save or a submit ends with its commit: building the redirect runs no query (the route's ids,
not the expired objects), so a write costs no reload after it has committed."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from app.extensions import db
from app.plans.models import Assignment, Period, Task


@pytest.fixture
def item(factory):
    plan = factory.plan()
    liaison = factory.user("lx-save", unit="自治区工业和信息化厅")
    task2 = db.session.execute(select(Task).where(Task.plan_id == plan.id, Task.number == 2)).scalar_one()
    assignment = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                             Assignment.unit_id == liaison.unit_id)).scalar_one()
    period = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                .order_by(Period.start)).scalars().first()
    return f"/items/{assignment.id}/reports/{period.id}", f"/items/{assignment.id}"


@pytest.mark.parametrize("action", ["save", "submit"])
def test_no_statement_after_the_commit_of_a_save(app, login, item, action):
    url, item_url = item
    unit = login(app.test_client(), "lx-save")
    field = re.search(r'name="(figure_\d+)"', unit.get(url).text).group(1)
    after_commit: list[str] = []
    committed = {"yes": False}

    def on_commit(conn):
        committed["yes"] = True
        after_commit.clear()

    def on_statement(conn, cursor, statement, *args):
        if committed["yes"]:
            after_commit.append(statement)

    engine = db.engine
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "before_cursor_execute", on_statement)
    try:
        r = unit.post(url, data={"progress_text": "进展", field: "12", "version": "0", "action": action})
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "before_cursor_execute", on_statement)
    assert r.status_code == 302 and r.location.endswith(url if action == "save" else item_url)
    assert committed["yes"] and after_commit == []
