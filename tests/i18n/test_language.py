"""A user switches the interface to English for themselves on the account page; Chinese stays the default
for everyone else; the choice is validated and audited; English reaches the navigation, the liaison's
pages, form labels, validation messages and the labels of the workflow files."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.extensions import db
from app.plans.models import Assignment, Period, Task


@pytest.fixture
def world(factory):
    factory.plan()
    own = factory.user("lx-own", unit="自治区工业和信息化厅")
    factory.user("staff", role="staff")
    task2 = db.session.execute(select(Task).where(Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                       Assignment.unit_id == own.unit_id)).scalar_one()
    period = db.session.execute(select(Period).where(Period.kind == "monthly").order_by(Period.start)).scalars().first()
    return {"item": item.id, "period": period.id}


def _events() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()


def _locale(username: str) -> str | None:
    db.session.expire_all()
    return db.session.execute(select(User.locale).where(User.username == username)).scalar_one()


def test_chinese_is_the_default(app, world, login):
    client = login(app.test_client(), "lx-own")
    page = client.get("/items").text
    assert '<html lang="zh-CN">' in page and "我的责任事项" in page and "My items" not in page
    assert '<html lang="zh-CN">' in app.test_client().get("/login").text


def test_switch_to_english_and_back(app, world, login):
    client = login(app.test_client(), "lx-own")
    account = client.get("/account").text
    assert 'name="locale"' in account and "English" in account and "中文" in account
    before = _events()
    response = client.post("/account/language", data={"locale": "en"})
    assert response.status_code == 302 and response.location.endswith("/account")
    assert _locale("lx-own") == "en"
    assert _events() == before + 1
    event = db.session.execute(select(AuditEvent).order_by(AuditEvent.seq.desc())).scalars().first()
    assert event.action == "user.update" and event.username == "lx-own"
    assert json.loads(event.content)["changes"] == {"locale": ["zh", "en"]}

    account = client.get("/account").text
    assert '<html lang="en">' in account and "The interface is now in English." in account
    items = client.get("/items").text
    assert "My items" in items and "Sign out" in items and "我的责任事项" not in items
    assert "Not reported" in items or "Draft" in items  # the state label, from workflows/report_states.yaml
    assert "Lead" in items or "Co-owner" in items  # the assignment's role label

    item = client.get(f"/items/{world['item']}").text
    assert "Work status" in item and "Save status" in item and "Progress (%)" in item
    form = client.get(f"/items/{world['item']}/reports/{world['period']}").text
    assert "Save draft" in form and "Next steps" in form
    # a validation message of a figure, made at request time
    figure_field = next(part.split('"')[0] for part in form.split('name="') if part.startswith("figure_"))
    bad = client.post(f"/items/{world['item']}/reports/{world['period']}",
                      data={"progress_text": "x", figure_field: "-1", "action": "save", "version": "0"})
    assert bad.status_code == 200 and "This indicator cannot be negative." in bad.text

    # another user still sees Chinese
    staff = login(app.test_client(), "staff")
    assert "逾期未报" in staff.get("/items").text

    back = client.post("/account/language", data={"locale": "zh"})
    assert back.status_code == 302 and _locale("lx-own") == "zh"
    page = client.get("/account").text
    assert "界面语言已切换为中文。" in page and '<html lang="zh-CN">' in page


@pytest.mark.parametrize("value", ["fr", "", "en-US", "zh;drop"])
def test_an_unsupported_language_is_refused_beside_the_field(app, world, login, value):
    client = login(app.test_client(), "lx-own")
    before = _events()
    response = client.post("/account/language", data={"locale": value})
    assert response.status_code == 400
    assert ("请选择列出的界面语言之一。" in response.text) or ("请选择界面语言。" in response.text)
    assert 'class="error"' in response.text
    assert _locale("lx-own") is None and _events() == before


def test_choosing_the_current_language_changes_nothing(app, world, login):
    client = login(app.test_client(), "lx-own")
    before = _events()
    assert client.post("/account/language", data={"locale": "zh"}).status_code == 302
    assert _events() == before and _locale("lx-own") in (None, "zh")


def test_english_login_messages_after_switching(app, world, login):
    client = login(app.test_client(), "lx-own")
    client.post("/account/language", data={"locale": "en"})
    wrong = client.post("/account/password", data={"current_password": "wrong-one", "new_password": "x",
                                                   "confirm": "y"})
    assert "The two new passwords do not match." in wrong.text


def test_bulk_import_errors_in_english_name_their_rows_in_order(app, world, login):
    import io

    client = login(app.test_client(), "lx-own")
    client.post("/account/language", data={"locale": "en"})
    csv = ("单位,指标,周期,数值\n"
           "自治区工业和信息化厅,不存在的指标,2025-10,1\n"
           "自治区教育厅,不存在的指标,2025-10,1\n").encode()
    response = client.post("/figures/import", data={"file": (io.BytesIO(csv), "figures.csv")},
                           content_type="multipart/form-data")
    text = response.text
    assert "nothing was imported (2 errors)" in text
    assert text.index("Row 2: ") < text.index("Row 3: ")
    assert "There is no indicator “不存在的指标”" in text
    assert "You can import only your own unit&#39;s data; “自治区教育厅” is not your unit." in text


def test_error_pages_follow_the_language(app, world, login):
    client = login(app.test_client(), "lx-own")
    assert "页面不存在" in client.get("/items/999999").text
    client.post("/account/language", data={"locale": "en"})
    page = client.get("/items/999999")
    assert page.status_code == 404 and "Page not found" in page.text and "页面不存在" not in page.text


def test_data_labels_are_translated_but_never_trusted_as_markup(app, world):
    with app.test_request_context("/"):
        template = app.jinja_env.from_string("{{ tr(label) }}|{{ tr(none) }}")
        assert template.render(label="草稿", none=None) == "草稿|"
        assert template.render(label="<b>x</b>", none="") == "&lt;b&gt;x&lt;/b&gt;|"
