"""Reading the interface in English costs no SQL: the liaison's pages run the same statements in both
languages (the catalogue is read from the compiled .mo, the user's choice comes with the user's row)."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Period, Task
from tests.statement_counts import count_statements


def test_english_pages_run_the_same_statements_as_chinese(app, factory, login):
    factory.plan()
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment.id).where(Assignment.task_id == task2.id,
                                                          Assignment.unit_id == own.unit_id)).scalar_one()
    period = db.session.execute(select(Period.id).where(Period.kind == "monthly")).scalars().first()
    urls = ["/items", f"/items/{item}", f"/items/{item}/reports/{period}", "/inbox", "/account"]
    client = login(app.test_client(), "lx-own")
    for url in urls:  # warm up: first-request work (templates, the catalogue) is not per page
        client.get(url)
    chinese = {url: count_statements(app, client, url) for url in urls}
    assert client.post("/account/language", data={"locale": "en"}).status_code == 302
    for url in urls:
        client.get(url)
    english = {url: count_statements(app, client, url) for url in urls}
    assert "My items" in client.get("/items").text
    assert english == chinese
