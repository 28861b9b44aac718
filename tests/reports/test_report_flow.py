"""The report workflow through HTTP requests, as a liaison and the office use the pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.reports.models import Figure, Report, ReportTransition
from tests.conftest import PASSWORD


@pytest.fixture
def setup(factory):
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    liaison = factory.user("lx-gxt", unit="自治区工业和信息化厅")
    other = factory.user("lx-jy", unit="自治区教育厅")
    city = factory.user("lx-jia", unit="甲市")
    staff = factory.user("office", role="staff")
    task2 = db.session.execute(select(Task).where(Task.plan_id == plan.id, Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                       Assignment.unit_id == liaison.unit_id)).scalar_one()
    october = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                 .order_by(Period.start.desc())).scalars().all()[2]
    return {"plan": plan, "liaison": liaison, "other": other, "city": city, "staff": staff, "item": item,
            "period": october}


def _url(s):
    return f"/items/{s['item'].id}/reports/{s['period'].id}"


def _indicator_field(html: str) -> str:
    return re.search(r'name="(figure_\d+)"', html).group(1)


def _version(html: str) -> str:
    return re.search(r'name="version"[^>]*value="(\d*)"', html).group(1)


def test_draft_submit_return_resubmit_accept(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    office = login(app.test_client(), "office")
    page = unit.get(_url(setup))
    assert page.status_code == 200
    field = _indicator_field(page.text)
    form = {"progress_text": "已发布岗位 3 万个。", "problems_text": "", "next_steps_text": "继续推进。",
            field: "8.5", "version": _version(page.text)}
    # 1. save a draft
    r = unit.post(_url(setup), data={**form, "action": "save"})
    assert r.status_code == 302
    report = db.session.execute(select(Report)).scalar_one()
    assert report.state == "draft"
    # 2. submit
    page = unit.get(_url(setup))
    r = unit.post(_url(setup), data={**form, "version": _version(page.text), "action": "submit"})
    assert r.status_code == 302
    db.session.refresh(report)
    assert report.state == "submitted"
    # the unit can no longer edit a submitted report
    assert unit.post(_url(setup), data={**form, "action": "save"}).status_code == 403
    # 3. the office returns it with a reason; the reason is required
    r = office.post(f"/reports/{report.id}/return", data={"reason": "", "version": report.version},
                    follow_redirects=True)
    assert "请填写原因" in r.text
    db.session.refresh(report)
    assert report.state == "submitted"
    r = office.post(f"/reports/{report.id}/return", data={"reason": "数据口径不一致", "version": report.version})
    db.session.refresh(report)
    assert report.state == "returned"
    # 4. the liaison sees the reason, corrects and resubmits
    page = unit.get(_url(setup))
    assert "数据口径不一致" in page.text
    assert "数据口径不一致" in unit.get(f"/items/{setup['item'].id}").text
    r = unit.post(_url(setup), data={**form, field: "9.1", "version": _version(page.text), "action": "submit"})
    assert r.status_code == 302
    db.session.refresh(report)
    assert report.state == "submitted"
    # 5. the office accepts; the report is read-only for the unit afterwards
    r = office.post(f"/reports/{report.id}/accept", data={"version": report.version})
    db.session.refresh(report)
    assert report.state == "accepted"
    assert unit.post(_url(setup), data={**form, "action": "save"}).status_code == 403
    page = unit.get(_url(setup))
    assert 'name="progress_text"' not in page.text and "9.1" in page.text
    figure = db.session.execute(select(Figure)).scalar_one()
    assert str(figure.value.normalize()) == "9.1"
    moves = [(t.action, t.from_state, t.to_state) for t in db.session.execute(
        select(ReportTransition).order_by(ReportTransition.id)).scalars()]
    assert moves == [("submit", "draft", "submitted"), ("return", "submitted", "returned"),
                     ("submit", "returned", "submitted"), ("accept", "submitted", "accepted")]
    who = {t.action: t.user.username for t in db.session.execute(select(ReportTransition)).scalars()}
    assert who == {"submit": "lx-gxt", "return": "office", "accept": "office"}


def test_liaison_cannot_decide_and_office_cannot_edit(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    page = unit.get(_url(setup))
    field = _indicator_field(page.text)
    unit.post(_url(setup), data={"progress_text": "x", field: "1", "version": "0", "action": "submit"})
    report = db.session.execute(select(Report)).scalar_one()
    unit.post(f"/reports/{report.id}/accept", data={"version": report.version})
    db.session.refresh(report)
    assert report.state == "submitted"
    office = login(app.test_client(), "office")
    assert office.post(_url(setup), data={"progress_text": "改写", "action": "save"}).status_code == 403


def test_submit_requires_progress_and_every_figure(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    page = unit.get(_url(setup))
    field = _indicator_field(page.text)
    r = unit.post(_url(setup), data={"progress_text": "", field: "1", "version": "0", "action": "submit"})
    assert r.status_code == 200 and "请填写“进展情况”" in r.text
    assert db.session.execute(select(Report)).scalar_one_or_none() is None  # nothing half-saved
    r = unit.post(_url(setup), data={"progress_text": "有进展", field: "", "version": "0", "action": "submit"})
    assert "的数值" in r.text
    assert db.session.execute(select(Report)).scalar_one_or_none() is None


@pytest.mark.parametrize(("value", "message"), [
    ("abc", "请输入数字"),
    ("-3", "不能为负数"),
    ("1e20", "超出合理范围"),
    ("1.123456", "最多保留 4 位小数"),
    ("NaN", "有限的数字"),
])
def test_bad_figures_get_a_message_next_to_the_field(app, setup, login, value, message):
    unit = login(app.test_client(), "lx-gxt")
    page = unit.get(_url(setup))
    field = _indicator_field(page.text)
    r = unit.post(_url(setup), data={"progress_text": "进展", field: value, "version": "0", "action": "save"})
    assert r.status_code == 200
    block = r.text[r.text.index(f'name="{field}"'):]
    assert message in block[:600]
    assert db.session.execute(select(Report)).scalar_one_or_none() is None


def test_figures_accept_commas_and_full_width_digits(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    field = _indicator_field(unit.get(_url(setup)).text)
    unit.post(_url(setup), data={"progress_text": "进展", field: "１,２34.5", "version": "0", "action": "save"})
    assert str(db.session.execute(select(Figure.value)).scalar_one().normalize()) == "1234.5"


def test_text_too_long_is_refused(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    r = unit.post(_url(setup), data={"progress_text": "长" * 5001, "version": "0", "action": "save"})
    assert "不能超过 5000 个字" in r.text
    assert db.session.execute(select(Report)).scalar_one_or_none() is None


def test_second_save_of_a_stale_form_is_refused(app, setup, login):
    """Two people editing the same report: the second save is refused, nothing overwritten."""
    first = login(app.test_client(), "lx-gxt")
    from app.auth.services import create_user

    create_user("lx-gxt2", "同事", "liaison", PASSWORD, unit_id=setup["liaison"].unit_id)
    db.session.commit()
    second = login(app.test_client(), "lx-gxt2")
    first.post(_url(setup), data={"progress_text": "第一稿", "version": "0", "action": "save"})
    page_a = first.get(_url(setup))
    page_b = second.get(_url(setup))
    assert _version(page_a.text) == _version(page_b.text)
    r = first.post(_url(setup), data={"progress_text": "甲的修改", "version": _version(page_a.text), "action": "save"})
    assert r.status_code == 302
    r = second.post(_url(setup), data={"progress_text": "乙的修改", "version": _version(page_b.text), "action": "save"})
    assert r.status_code == 200 and "已被他人修改" in r.text
    assert "乙的修改" in r.text  # what the second person typed is kept on the page
    assert db.session.execute(select(Report.progress_text)).scalar_one() == "甲的修改"


def test_assignment_status_and_progress(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    url = f"/items/{setup['item'].id}"
    version = _version(unit.get(url).text)
    r = unit.post(url, data={"status": "in_progress", "progress": "40", "status_note": "", "version": version})
    assert r.status_code == 302
    db.session.refresh(setup["item"])
    assert (setup["item"].status, setup["item"].progress) == ("in_progress", 40)
    r = unit.post(url, data={"status": "in_progress", "progress": "140", "version": setup["item"].version})
    assert "0 到 100" in r.text
    r = unit.post(url, data={"status": "flying", "progress": "10", "version": setup["item"].version})
    assert r.status_code == 200 and 'class="error"' in r.text
    r = unit.post(url, data={"status": "completed", "progress": "100", "version": "0"}, follow_redirects=True)
    assert "已被他人修改" in r.text
    db.session.refresh(setup["item"])
    assert setup["item"].progress == 40


def test_implementing_government_reports_the_league_indicators(app, setup, login):
    """甲市 reports task 3's per-league studio figure, not the lead's rate; the lead the reverse."""
    city = login(app.test_client(), "lx-jia")
    task3 = db.session.execute(select(Task).where(Task.number == 3)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task3.id,
                                                       Assignment.unit_id == setup["city"].unit_id)).scalar_one()
    page = city.get(f"/items/{item.id}/reports/{setup['period'].id}")
    assert "创业指导大师工作室" in page.text and "留用率" not in page.text
    # the plan-level target 城镇新增就业 is carried by 甲市's first task (task 1)
    task1_item = db.session.execute(select(Assignment).join(Task).where(
        Task.number == 1, Assignment.unit_id == setup["city"].unit_id)).scalar_one()
    assert "城镇新增就业" in city.get(f"/items/{task1_item.id}/reports/{setup['period'].id}").text
    assert "城镇新增就业" not in page.text
