"""Figures keep every value they had; a report submitted once needs a reason to change a figure; an accepted
report changes only through a restatement that another office member approves. Over HTTP, as the pages do it."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Period, Task
from app.reports.models import Figure, FigureRestatement, FigureRevision, Report
from tests.conftest import IsolatedClient, make_app


@pytest.fixture
def setup(factory):
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    liaison = factory.user("lx-gxt", unit="自治区工业和信息化厅")
    factory.user("lx-jy", unit="自治区教育厅")
    factory.user("office", role="staff")
    factory.user("office2", role="staff")
    factory.user("auditor", role="auditor")
    task2 = db.session.execute(select(Task).where(Task.plan_id == plan.id, Task.number == 2)).scalar_one()
    item = db.session.execute(select(Assignment).where(Assignment.task_id == task2.id,
                                                       Assignment.unit_id == liaison.unit_id)).scalar_one()
    october = db.session.execute(select(Period).where(Period.plan_id == plan.id, Period.kind == "monthly")
                                 .order_by(Period.start.desc())).scalars().all()[2]
    return {"item": item, "period": october}


def _url(s) -> str:
    return f"/items/{s['item'].id}/reports/{s['period'].id}"


def _field(html: str) -> str:
    return re.search(r'name="(figure_\d+)"', html).group(1)


def _version(html: str) -> str:
    return re.search(r'name="version"[^>]*value="(\d*)"', html).group(1)


def _save(client, s, value: str, action: str = "save", **extra):
    page = client.get(_url(s)).text
    data = {"progress_text": "已发布岗位。", _field(page): value, "version": _version(page), "action": action, **extra}
    return client.post(_url(s), data=data)


def _revisions() -> list[tuple[str, str | None, str | None, str | None]]:
    rows = db.session.execute(select(FigureRevision).order_by(FigureRevision.id)).scalars()
    return [(r.kind, _n(r.previous_value), _n(r.value), r.reason) for r in rows]


def _n(value) -> str | None:
    return None if value is None else f"{Decimal(value).normalize():f}"


def _actions() -> list[str]:
    return [e.action for e in db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()]


def _submit_and_accept(app, login, s, value: str = "8.5") -> Report:
    unit = login(app.test_client(), "lx-gxt")
    assert _save(unit, s, value, "submit").status_code == 302
    report = db.session.execute(select(Report)).scalar_one()
    office = login(app.test_client(), "office")
    assert office.post(f"/reports/{report.id}/accept", data={"version": report.version}).status_code == 302
    db.session.refresh(report)
    assert report.state == "accepted"
    return report


def test_every_value_is_kept_and_revisions_after_submission_carry_a_reason(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    office = login(app.test_client(), "office")
    assert _save(unit, setup, "7").status_code == 302
    assert _save(unit, setup, "7.5").status_code == 302  # drafting: entries, no reason needed
    assert _save(unit, setup, "8", "submit").status_code == 302
    report = db.session.execute(select(Report)).scalar_one()
    office.post(f"/reports/{report.id}/return", data={"reason": "口径有误", "version": report.version})
    # the unit gives its own reason
    r = _save(unit, setup, "8.4", revision_reason="补录漏报企业")
    assert r.status_code == 302
    # no reason given: the office's return reason is recorded as the reason
    assert _save(unit, setup, "8.6").status_code == 302
    assert _revisions() == [
        ("entry", None, "7", None),
        ("entry", "7", "7.5", None),
        ("entry", "7.5", "8", None),
        ("revision", "8", "8.4", "补录漏报企业"),
        ("revision", "8.4", "8.6", "按退回意见修改：口径有误"),
    ]
    figure_events = db.session.execute(select(AuditEvent).where(AuditEvent.action == "figure.set")
                                       .order_by(AuditEvent.seq)).scalars().all()
    assert len(figure_events) == 5
    assert '"reason":"补录漏报企业"' in figure_events[3].content
    # the office sees the revision marked on the report page and in its history
    _save(unit, setup, "8.6", "submit")
    page = office.get(_url(setup)).text
    assert "已修改" in page and "补录漏报企业" in page and "数值修改记录" in page
    assert "本报告有报送后修改的数值" in page


@pytest.fixture
def lenient_app(app, tmp_path):
    """The same database, with a workflow whose return needs no reason (a policy officer's choice)."""
    workflows = tmp_path / "workflows"
    shutil.copytree(Path(app.config["WORKFLOWS_DIR"]), workflows)
    states = workflows / "report_states.yaml"
    states.write_text(states.read_text(encoding="utf-8").replace(", reason_required: true", ""), encoding="utf-8")
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], WORKFLOWS_DIR=str(workflows))
    other.test_client_class = IsolatedClient
    return other


def test_a_revision_without_any_reason_is_refused_next_to_the_field(lenient_app, setup, login):
    unit = login(lenient_app.test_client(), "lx-gxt")
    office = login(lenient_app.test_client(), "office")
    _save(unit, setup, "8", "submit")
    report = db.session.execute(select(Report)).scalar_one()
    office.post(f"/reports/{report.id}/return", data={"reason": "", "version": report.version})
    db.session.refresh(report)
    assert report.state == "returned" and not report.return_reason
    r = _save(unit, setup, "9")
    assert r.status_code == 200
    block = r.text[r.text.index('name="revision_reason"'):]
    assert "修改指标数值须填写修改原因" in block[:400]
    assert _n(db.session.execute(select(Figure.value)).scalar_one()) == "8"  # nothing saved
    # a text change alone needs no reason
    page = unit.get(_url(setup)).text
    r = unit.post(_url(setup), data={"progress_text": "补充说明", _field(page): "8", "version": _version(page),
                                     "action": "save"})
    assert r.status_code == 302
    assert _save(unit, setup, "9", revision_reason="统计口径调整").status_code == 302
    assert _revisions()[-1] == ("revision", "8", "9", "统计口径调整")


def test_restatement_of_an_accepted_report(app, setup, login):
    report = _submit_and_accept(app, login, setup)
    unit = login(app.test_client(), "lx-gxt")
    figure = db.session.execute(select(Figure)).scalar_one()
    # locked: the report form refuses changes
    assert unit.post(_url(setup), data={"progress_text": "x", f"figure_{figure.indicator_id}": "9",
                                        "version": str(report.version), "action": "save"}).status_code == 403
    page = unit.get(_url(setup)).text
    assert "已审核通过并锁定" in page and f"/figures/{figure.id}/restate" in page
    url = f"/figures/{figure.id}/restate"
    r = unit.post(url, data={"value": "9.2", "reason": ""})
    assert r.status_code == 200 and "请填写更正原因" in r.text
    r = unit.post(url, data={"value": "8.5", "reason": "核对"})
    assert "与现值相同" in r.text
    r = unit.post(url, data={"value": "abc", "reason": "核对"})
    assert "请输入数字" in r.text
    assert db.session.execute(select(FigureRestatement)).scalar_one_or_none() is None
    r = unit.post(url, data={"value": "9.2", "reason": "统计局反馈漏报 7000 人"})
    assert r.status_code == 302
    # the old value stays in force until approved; a second request waits
    db.session.refresh(figure)
    assert _n(figure.value) == "8.5"
    assert "已有待审核的更正申请" in unit.get(url).text
    restatement = db.session.execute(select(FigureRestatement)).scalar_one()
    assert restatement.state == "pending"
    office = login(app.test_client(), "office")
    listing = office.get("/restatements").text
    assert "统计局反馈漏报 7000 人" in listing and "9.2" in listing
    page = office.get(_url(setup)).text
    assert "更正待审" in page and "批准更正" in page
    # the unit cannot approve; a rejection needs a note
    assert unit.post(f"/restatements/{restatement.id}/approve", data={"version": restatement.version}).status_code == 403
    r = office.post(f"/restatements/{restatement.id}/reject", data={"version": restatement.version, "note": ""},
                    follow_redirects=True)
    assert "驳回更正申请须填写意见" in r.text
    r = office.post(f"/restatements/{restatement.id}/approve", data={"version": restatement.version,
                                                                     "note": "已核实"})
    assert r.status_code == 302
    db.session.refresh(figure)
    db.session.refresh(restatement)
    assert _n(figure.value) == "9.2" and restatement.state == "approved"
    assert _revisions()[-1] == ("restatement", "8.5", "9.2", "统计局反馈漏报 7000 人")
    last = db.session.execute(select(FigureRevision).order_by(FigureRevision.id.desc())).scalars().first()
    assert last.user.username == "lx-gxt" and last.approved_by.username == "office"
    assert {"restatement.request", "restatement.approve", "figure.restate"} <= set(_actions())
    db.session.refresh(report)
    assert report.state == "accepted"
    assert "已更正" in office.get(_url(setup)).text
    # decided once only
    r = office.post(f"/restatements/{restatement.id}/approve", data={"version": restatement.version},
                    follow_redirects=True)
    assert "不能重复审核" in r.text or "已被他人处理" in r.text


def test_rejected_restatement_leaves_the_value_and_the_filer_cannot_decide_their_own(app, setup, login):
    _submit_and_accept(app, login, setup)
    figure = db.session.execute(select(Figure)).scalar_one()
    office = login(app.test_client(), "office")
    # the office files one on the unit's behalf (e.g. from a letter) ...
    assert office.post(f"/figures/{figure.id}/restate", data={"value": "10", "reason": "来函更正"}).status_code == 302
    restatement = db.session.execute(select(FigureRestatement)).scalar_one()
    r = office.post(f"/restatements/{restatement.id}/approve", data={"version": restatement.version},
                    follow_redirects=True)
    assert "不能审核本人提交的更正申请" in r.text
    # ... and another member decides
    other = login(app.test_client(), "office2")
    assert other.post(f"/restatements/{restatement.id}/reject",
                      data={"version": restatement.version, "note": "依据不足"}).status_code == 302
    db.session.refresh(figure)
    db.session.refresh(restatement)
    assert _n(figure.value) == "8.5" and restatement.state == "rejected" and restatement.decision_note == "依据不足"
    assert [k for k, *_ in _revisions()] == ["entry"]
    assert "restatement.reject" in _actions() and "figure.restate" not in _actions()


def test_restatement_access(app, setup, login):
    _submit_and_accept(app, login, setup)
    figure = db.session.execute(select(Figure)).scalar_one()
    other = login(app.test_client(), "lx-jy")
    assert other.get(f"/figures/{figure.id}/restate").status_code == 404
    assert other.post(f"/figures/{figure.id}/restate", data={"value": "1", "reason": "x"}).status_code == 404
    auditor = login(app.test_client(), "auditor")
    assert auditor.get(f"/figures/{figure.id}/restate").status_code == 403
    assert auditor.get("/restatements").status_code == 200
    assert login(app.test_client(), "lx-gxt").get("/restatements").status_code == 403
    assert db.session.execute(select(FigureRestatement)).scalar_one_or_none() is None


def test_a_report_not_accepted_needs_no_restatement(app, setup, login):
    unit = login(app.test_client(), "lx-gxt")
    _save(unit, setup, "5", "submit")
    figure = db.session.execute(select(Figure)).scalar_one()
    r = unit.post(f"/figures/{figure.id}/restate", data={"value": "6", "reason": "更正"})
    assert r.status_code == 200 and "无需申请更正" in r.text
    assert db.session.execute(select(FigureRestatement)).scalar_one_or_none() is None


def test_two_first_saves_at_once_end_in_the_conflict_message(app, setup, login, monkeypatch):
    """Both sessions saw no report and both create one: the loser gets the conflict message, not a 500."""
    unit = login(app.test_client(), "lx-gxt")
    assert _save(unit, setup, "7").status_code == 302  # the winner's draft
    from app.reports import services

    monkeypatch.setattr(services, "get_report", lambda assignment, period: None)  # the loser read before it
    page = unit.get(_url(setup)).text
    r = unit.post(_url(setup), data={"progress_text": "乙的草稿", _field(page): "9", "version": "0", "action": "save"})
    assert r.status_code == 200 and "已被他人" in r.text
    monkeypatch.undo()
    assert [(k, v) for k, _, v, _ in _revisions()] == [("entry", "7")]
    assert db.session.execute(select(Report.progress_text)).scalar_one() == "已发布岗位。"
