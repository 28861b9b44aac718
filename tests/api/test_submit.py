"""A unit's system pushing figures: PUT /api/v1/assignments/{id}/reports/{period}."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.reports.models import Figure, Report, ReportTransition


@pytest.fixture
def url(world) -> str:
    return f"/api/v1/assignments/{world['item']}/reports/{world['period']}"


def _report(world) -> Report | None:
    return db.session.execute(select(Report).where(Report.assignment_id == world["item"],
                                                   Report.period_id == world["period"])).scalar_one_or_none()


def _events() -> list[AuditEvent]:
    return list(db.session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars())


def test_push_figures_creates_the_draft_and_audits_it(app, world, api, url):
    before = len(_events())
    r = api.put("liaison", url, {"version": 0, "progress_text": "已挖掘岗位", "figures": {"t2-jobs": "1,234.5"}},
                headers={"X-Request-ID": "push-1"})
    assert r.status_code == 201, r.text
    body = r.json
    assert body["report"]["state"] == "draft" and body["may_edit"] is True
    assert body["indicators"][0]["value_text"] == "1234.5" and body["version"] == body["report"]["version"]
    report = _report(world)
    assert report.progress_text == "已挖掘岗位" and report.updated_by_id == world["users"]["liaison"]
    assert [f.value for f in report.figures] == [Decimal("1234.5")]
    events = _events()[before:]
    assert {e.action for e in events} >= {"report.create", "figure.set", "report.update"}
    assert all(e.username == "lx-own" and e.unit_name == "自治区工业和信息化厅" for e in events)
    assert all(e.request_id == "push-1" for e in events)
    figure_event = next(e for e in events if e.action == "figure.set")
    assert json.loads(figure_event.content)["extra"]["indicator"] == "t2-jobs"

    # an update with the version just read; absent texts keep their value, null clears a figure
    r = api.put("liaison", url, {"version": body["version"], "problems_text": "资金不足", "figures": {"t2-jobs": 15}})
    assert r.status_code == 200, r.text
    db.session.refresh(report)
    assert (report.progress_text, report.problems_text) == ("已挖掘岗位", "资金不足")
    assert report.figures[0].value == 15
    r = api.put("liaison", url, {"version": r.json["version"], "figures": {"t2-jobs": None}})
    assert r.status_code == 200 and r.json["indicators"][0]["value"] is None


def test_push_and_submit_in_one_request(app, world, api, url):
    r = api.put("liaison", url, {"version": 0, "progress_text": "进展", "figures": {"t2-jobs": 12.5}, "submit": True})
    assert r.status_code == 201, r.text
    assert r.json["report"]["state"] == "submitted" and r.json["may_edit"] is False
    report = _report(world)
    assert report.state == "submitted" and report.submitted_at is not None
    assert [t.action for t in db.session.execute(select(ReportTransition)).scalars()] == ["submit"]
    assert _events()[-1].action == "report.submit" and _events()[-1].username == "lx-own"
    # once submitted the unit cannot change it: a state conflict, not a permission problem
    r = api.put("liaison", url, {"version": r.json["version"], "progress_text": "改"})
    assert r.status_code == 409 and r.json["error"]["code"] == "not_editable" and "已报送" in r.json["error"]["message"]
    assert _report(world).progress_text == "进展"


@pytest.mark.parametrize("figure, message", [
    ("abc", "请输入数字"),
    (-3, "不能为负数"),
    ("1.23456", "最多保留 4 位小数"),
    (10**13, "超出合理范围"),
    (True, "应为数字"),
    ({"v": 1}, "应为数字"),
])
def test_a_bad_value_gets_a_message_on_its_field_and_nothing_is_saved(app, world, api, url, figure, message):
    before = len(_events())
    r = api.put("liaison", url, {"version": 0, "progress_text": "进展", "figures": {"t2-jobs": figure}})
    assert r.status_code == 400, r.text
    error = r.json["error"]
    assert error["code"] == "invalid_body" and message in error["fields"]["figures.t2-jobs"]
    assert _report(world) is None and len(_events()) == before


def test_every_bad_field_is_reported_at_once(app, world, api, url):
    r = api.put("liaison", url, {"version": "1", "progress_text": 5, "problems_text": "x" * 5001,
                                 "figures": {"t3-rate": 1, "nope": 2}, "submit": "yes", "colour": "red"})
    assert r.status_code == 400
    fields = r.json["error"]["fields"]
    assert set(fields) == {"version", "progress_text", "problems_text", "figures.t3-rate", "figures.nope", "submit",
                           "colour"}
    assert "不由本单位填报" in fields["figures.t3-rate"] and fields["colour"] == "未知字段。"
    r = api.put("liaison", url, {"progress_text": "x"})
    assert r.status_code == 400 and "version" in r.json["error"]["fields"]
    assert _report(world) is None


def test_submit_refused_leaves_no_half_saved_draft(app, world, api, url):
    r = api.put("liaison", url, {"version": 0, "figures": {"t2-jobs": 3}, "submit": True})
    assert r.status_code == 400 and r.json["error"]["fields"] == {"progress_text": "报送前请填写“进展情况”。"}
    assert _report(world) is None
    assert db.session.execute(select(func.count()).select_from(Figure)).scalar_one() == 0
    r = api.put("liaison", url, {"version": 0, "progress_text": "进展", "submit": True})
    assert r.status_code == 400 and "figures.t2-jobs" in r.json["error"]["fields"]
    assert _report(world) is None


def test_a_stale_version_is_a_conflict_and_changes_nothing(app, world, api, url):
    first = api.put("liaison", url, {"version": 0, "progress_text": "甲", "figures": {"t2-jobs": 1}})
    assert first.status_code == 201
    version = first.json["version"]
    # two systems read the same version; the first write wins, the second gets 409
    assert api.put("liaison", url, {"version": version, "progress_text": "乙"}).status_code == 200
    before = len(_events())
    r = api.put("liaison", url, {"version": version, "progress_text": "丙", "figures": {"t2-jobs": 9}})
    assert r.status_code == 409 and r.json["error"]["code"] == "conflict" and "他人修改" in r.json["error"]["message"]
    report = _report(world)
    assert report.progress_text == "乙" and report.figures[0].value == 1 and len(_events()) == before
    # creating again over an existing report (version 0) is a conflict too
    assert api.put("liaison", url, {"version": 0, "progress_text": "丁"}).status_code == 409


def test_who_may_push(app, world, api, url):
    body = {"version": 0, "progress_text": "x"}
    assert api.put("staff", url, body).status_code == 403
    assert api.put("auditor", url, body).status_code == 403
    assert api.put("other_liaison", url, body).status_code == 404
    other_url = f"/api/v1/assignments/{world['other_item']}/reports/{world['period']}"
    assert api.put("liaison", other_url, body).status_code == 404
    assert api.put("other_liaison", other_url, body).status_code == 201
    assert db.session.execute(select(func.count()).select_from(Report)).scalar_one() == 1


def test_body_must_be_a_json_object(app, world, api, url):
    headers = api.headers("liaison")
    r = api.client.put(url, data="version=0", headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json["error"]["code"] == "unsupported_media_type"
    r = api.client.put(url, data="{not json", headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_json"
    r = api.client.put(url, data="[1, 2]", headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON 对象" in r.json["error"]["message"]
    r = api.client.put(url, data='{"version": NaN}', headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json["error"]["code"] == "invalid_json"
    r = api.client.put(url, data='{"version": 0, "figures": {"t2-jobs": 1e400}}',
                       headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and "有限" in r.json["error"]["fields"]["figures.t2-jobs"]
    r = api.client.put(url, data="[" * 100_000, headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 400
    assert _report(world) is None


def test_the_slot_tells_what_to_push(app, world, api, url):
    empty = api.get("liaison", url).json
    assert empty["report"] is None and empty["version"] == 0 and empty["may_edit"] is True
    assert [i["key"] for i in empty["indicators"]] == ["t2-jobs"] and empty["indicators"][0]["value"] is None
    assert api.get("staff", url).json["may_edit"] is False


def test_a_returned_report_is_corrected_with_its_reason_on_record(app, world, api, url):
    from app.reports import services as reports
    from app.reports.models import FigureRevision

    r = api.put("liaison", url, {"version": 0, "progress_text": "进展", "figures": {"t2-jobs": 4}, "submit": True})
    staff = db.session.get(reports.User, world["users"]["staff"])
    reports.transition(_report(world), "return", staff, reason="口径有误")
    db.session.commit()
    slot = api.get("liaison", url).json
    assert slot["may_edit"] is True and slot["report"]["state"] == "returned"
    r = api.put("liaison", url, {"version": slot["version"], "figures": {"t2-jobs": 3},
                                 "revision_reason": "按统计局口径更正", "submit": True})
    assert r.status_code == 200, r.text
    assert r.json["report"]["state"] == "submitted" and r.json["indicators"][0]["value"] == 3
    revision = db.session.execute(select(FigureRevision).order_by(FigureRevision.id.desc())).scalars().first()
    assert (revision.kind, revision.reason, revision.value) == ("revision", "按统计局口径更正", 3)
