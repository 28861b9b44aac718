"""Good-practice marks (典型经验): staff mark a submitted or accepted report with a title and a note, change it
or take it away, each audited; one mark per report; liaisons cannot mark, the auditor only reads; bad input
is refused beside the field with nothing saved."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.briefs.models import PracticeMark
from app.extensions import db
from tests.briefs import world as w


@pytest.fixture
def small(factory):
    return w.build(factory)


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).where(AuditEvent.action == action)).scalars())


def _marks() -> list[PracticeMark]:
    return list(db.session.execute(select(PracticeMark)).scalars())


def test_staff_mark_change_and_unmark_a_report(app, small, login):
    report = small["gxt_report"]
    staff = login(app.test_client(), "staff")
    item_page = staff.get(f"/items/{report.assignment_id}").text
    assert 'id="practice"' in item_page and f"/briefs/practice/{report.id}" in item_page
    assert staff.get(f"/briefs/practice/{report.id}").status_code == 200
    r = staff.post(f"/briefs/practice/{report.id}", data={"title": "岗位归集“一张网”", "note": "统一归集发布。"})
    assert r.status_code == 302 and r.location.endswith(f"/items/{report.assignment_id}#practice")
    [mark] = _marks()
    assert (mark.report_id, mark.title, mark.note) == (report.id, "岗位归集“一张网”", "统一归集发布。")
    assert [e.username for e in _events("practice.mark")] == ["staff"]
    assert "岗位归集“一张网”" in staff.get(f"/items/{report.assignment_id}").text
    # a second mark of the same report changes the one mark
    r = staff.post(f"/briefs/practice/{report.id}", data={"title": "岗位归集", "note": "统一归集发布。"})
    assert r.status_code == 302
    assert [(m.title, m.report_id) for m in _marks()] == [("岗位归集", report.id)]
    assert len(_events("practice.update")) == 1
    r = staff.post(f"/briefs/practice/{report.id}/unmark")
    assert r.status_code == 302 and _marks() == [] and len(_events("practice.unmark")) == 1


def test_liaison_cannot_mark_and_the_auditor_only_reads(app, small, login):
    report = small["gxt_report"]
    staff = login(app.test_client(), "staff")
    staff.post(f"/briefs/practice/{report.id}", data={"title": "岗位归集", "note": "统一归集发布。"})
    liaison = login(app.test_client(), "lx-gxt")
    assert liaison.post(f"/briefs/practice/{report.id}", data={"title": "自评", "note": "好"}).status_code == 403
    assert liaison.post(f"/briefs/practice/{report.id}/unmark").status_code == 403
    assert 'id="practice"' not in liaison.get(f"/items/{report.assignment_id}").text
    auditor = login(app.test_client(), "auditor")
    page = auditor.get(f"/items/{report.assignment_id}").text
    assert "岗位归集" in page and f"/briefs/practice/{report.id}" not in page
    assert auditor.post(f"/briefs/practice/{report.id}", data={"title": "x", "note": "y"}).status_code == 403
    assert [m.title for m in _marks()] == ["岗位归集"]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"title": "", "note": "说明"}, "title", "请填写典型经验的标题"),
    ({"title": "标题", "note": "  "}, "note", "请填写典型经验的简要说明"),
    ({"title": "长" * 201, "note": "说明"}, "title", "标题不能超过 200 个字"),
    ({"title": "标题", "note": "长" * 2001}, "note", "说明不能超过 2000 个字"),
])
def test_bad_input_beside_the_field(app, small, login, data, field, message):
    staff = login(app.test_client(), "staff")
    before = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    r = staff.post(f"/briefs/practice/{small['gxt_report'].id}", data=data)
    assert r.status_code == 400
    block = re.search(rf'<div class="field has-error">\s*<label for="{field}">.*?</div>\s*</div>', r.text, re.S)
    assert block and message in block.group(0), r.text[-2000:]
    assert _marks() == [] and db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == before


def test_only_submitted_or_accepted_reports_are_marked(app, small, login):
    from app.reports.models import Report

    returned = db.session.execute(select(Report).where(Report.state == "returned")).scalar_one()
    staff = login(app.test_client(), "staff")
    r = staff.post(f"/briefs/practice/{returned.id}", data={"title": "标题", "note": "说明"})
    assert r.status_code == 400 and "只有已报送或已通过的报告可以标记为典型经验" in r.text
    assert _marks() == []
    r = staff.post(f"/briefs/practice/{small['gxt_report'].id}/unmark")
    assert r.status_code == 400 and "该报告未被标记为典型经验" in r.text
