"""Cases (核查 / 问责) over HTTP: opened on a flagged figure, the unit asked and answering, documents
attached and served safely, findings and outcome recorded, and an evidence package whose hashes check out."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.chain import compute_hash
from app.audit.models import AuditEvent, AuditHead
from app.auth.models import User
from app.cases.models import Case, CaseAttachment, CaseFigure
from app.extensions import db
from app.integrity import services as integrity
from app.integrity.models import Flag
from app.plans.models import Indicator, Period
from app.reports import services as reports
from app.reports.models import Figure, Report
from app.units.models import Unit


def put(unit: str, key: str, month: str, value: str) -> Report:
    unit_obj = db.session.execute(select(Unit).where(Unit.name == unit)).scalar_one()
    indicator = db.session.execute(select(Indicator).where(Indicator.key == key)).scalar_one()
    period = db.session.execute(select(Period).where(Period.kind == "monthly", Period.label == month)).scalar_one()
    assignment = reports.assignment_for_indicator(unit_obj.id, unit_obj.name, indicator)
    liaison = db.session.execute(select(User).where(User.unit_id == unit_obj.id, User.role == "liaison")).scalar_one()
    report = reports.save_report(assignment, period, liaison,
                                 reports.ReportInput("进展", "", "", {indicator.id: Decimal(value)}), None)
    reports.transition(report, "submit", liaison)
    db.session.commit()
    return report


@pytest.fixture
def world(factory):
    factory.plan()
    factory.user("lx-jia", unit="甲市")
    factory.user("lx-yi", unit="乙盟")
    factory.user("office", role="staff")
    factory.user("auditor", role="auditor")
    office = db.session.execute(select(User).where(User.username == "office")).scalar_one()
    put("甲市", "new-jobs", "2025年7月", "3.0")
    august = put("甲市", "new-jobs", "2025年8月", "2.5")
    reports.transition(august, "accept", office)
    db.session.commit()
    integrity.scan()
    db.session.commit()
    flag = db.session.execute(select(Flag).where(Flag.rule == "cumulative_decrease")).scalar_one()
    return {"flag": flag, "figure": db.session.get(Figure, flag.figure_id)}


def _open_case(client, world) -> Case:
    r = client.post(f"/cases/new?flag={world['flag'].id}", data={
        "title": "甲市城镇新增就业数据核查", "basis": "累计值下降疑点，单位说明不充分。", "flag": str(world["flag"].id)})
    assert r.status_code == 302, r.text
    return db.session.execute(select(Case)).scalar_one()


def test_open_case_records_who_entered_and_who_accepted(app, world, login):
    office = login(app.test_client(), "office")
    page = office.get(f"/cases/new?flag={world['flag'].id}")
    assert page.status_code == 200 and "城镇新增就业" in page.text
    r = office.post(f"/cases/new?flag={world['flag'].id}", data={"title": "", "basis": "x",
                                                                   "flag": str(world["flag"].id)})
    assert r.status_code == 200 and "请填写案件名称" in r.text
    assert db.session.execute(select(Case)).scalar_one_or_none() is None
    case = _open_case(office, world)
    link = db.session.execute(select(CaseFigure)).scalar_one()
    assert link.figure_id == world["figure"].id and link.flag_id == world["flag"].id
    assert link.entered_by.username == "lx-jia" and link.accepted_by.username == "office"
    assert link.value == Decimal("2.5")
    page = office.get(f"/cases/{case.id}").text
    assert "一案双查" in page and "lx-jia" in page and "office" in page
    assert "case.open" in page  # the case's own audit event is listed with the related ones
    assert "report.accept" in page and "figure.set" in page and "flag.raise" in page
    assert f"/cases/{case.id}" in office.get(f"/integrity/flags/{world['flag'].id}").text
    # liaisons cannot open cases; auditors neither
    for who in ("lx-jia", "auditor"):
        assert login(app.test_client(), who).get(f"/cases/new?flag={world['flag'].id}").status_code == 403


def test_figures_of_two_units_make_two_cases(app, world, login):
    other = put("乙盟", "new-jobs", "2025年8月", "1.0")
    office = login(app.test_client(), "office")
    r = office.post("/cases/new", data={"title": "t", "basis": "b", "figure": [str(world["figure"].id),
                                                                                 str(other.figures[0].id)]})
    assert r.status_code == 200 and "同一单位" in r.text
    assert db.session.execute(select(Case)).scalar_one_or_none() is None


def test_question_answer_attachments_findings(app, world, login, monkeypatch):
    office = login(app.test_client(), "office")
    unit = login(app.test_client(), "lx-jia")
    case = _open_case(office, world)
    url = f"/cases/{case.id}"
    r = office.post(url, data={"action": "ask", "ask-question": ""})
    assert r.status_code == 200 and "请填写需说明的问题" in r.text
    assert office.post(url, data={"action": "ask", "ask-question": "请提供8月就业登记台账。"}).status_code == 302
    db.session.refresh(case)
    request_id = case.requests[0].id
    assert unit.post(url, data={"action": "ask", "ask-question": "x"}).status_code == 403
    assert unit.post(url, data={"action": "answer", "request_id": request_id,
                                "answer-answer": "8 月剔除重复登记，台账见附件。"}).status_code == 302
    # the unit attaches a document; the uploaded name never becomes a path
    content = "就业登记台账\n".encode() * 100
    r = unit.post(url, data={"action": "attach", "attach-file": (io.BytesIO(content), "../../etc/台账.xlsx"),
                             "attach-description": "8 月台账"}, content_type="multipart/form-data")
    assert r.status_code == 302, r.text
    item = db.session.execute(select(CaseAttachment)).scalar_one()
    assert item.filename == "台账.xlsx" and re.fullmatch(r"[0-9a-f]{32}", item.stored_name)
    assert item.sha256 == hashlib.sha256(content).hexdigest() and item.size == len(content)
    stored = Path(app.instance_path) / "attachments" / item.stored_name
    assert stored.read_bytes() == content
    download = unit.get(f"{url}/attachments/{item.id}")
    assert download.status_code == 200 and download.data == content
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    # too large: refused beside the field, nothing stored
    monkeypatch.setitem(app.config, "CASE_ATTACHMENT_MAX_BYTES", 1000)
    r = office.post(url, data={"action": "attach", "attach-file": (io.BytesIO(b"x" * 5000), "big.pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 200 and "文件过大" in r.text
    assert len(db.session.execute(select(CaseAttachment)).scalars().all()) == 1
    # an audit event named by hand; a number the log does not have is refused
    r = office.post(url, data={"action": "link", "link-seq": "999999", "link-note": ""})
    assert "没有该序号" in r.text
    first = db.session.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars().first()
    assert office.post(url, data={"action": "link", "link-seq": str(first), "link-note": "立案前的首笔记录"}
                       ).status_code == 302
    # findings and outcome
    r = office.post(url, data={"action": "close", "close-findings": "", "close-outcome": "cleared",
                               "close-version": case.version})
    assert "请填写核查结论" in r.text
    r = office.post(url, data={"action": "close", "close-findings": "经核对台账，剔除属实。", "close-outcome": "",
                               "close-version": case.version})
    assert "请选择处理结果" in r.text
    db.session.refresh(case)
    assert office.post(url, data={"action": "close", "close-findings": "经核对台账，剔除属实。",
                                  "close-outcome": "cleared", "close-version": case.version}).status_code == 302
    db.session.refresh(case)
    assert case.state == "closed" and case.outcome == "cleared" and case.closed_by.username == "office"
    # closed: no more documents
    monkeypatch.setitem(app.config, "CASE_ATTACHMENT_MAX_BYTES", 10**6)
    r = unit.post(url, data={"action": "attach", "attach-file": (io.BytesIO(b"late"), "late.txt")},
                  content_type="multipart/form-data")
    assert r.status_code == 200 and "已办结" in r.text
    actions = [e.action for e in db.session.execute(
        select(AuditEvent).where(AuditEvent.entity_type == "case").order_by(AuditEvent.seq)).scalars()]
    assert actions == ["case.open", "case.ask", "case.answer", "case.attach", "case.link", "case.close"]


def test_evidence_package(app, world, login):
    office = login(app.test_client(), "office")
    unit = login(app.test_client(), "lx-jia")
    case = _open_case(office, world)
    content = b"%PDF-1.4 evidence"
    unit.post(f"/cases/{case.id}", data={"action": "attach", "attach-file": (io.BytesIO(content), "说明.pdf")},
              content_type="multipart/form-data")
    auditor = login(app.test_client(), "auditor")  # a login is an audit event too: read the head after it
    head_before = db.session.execute(select(AuditHead)).scalar_one()
    head_seq, head_hash = head_before.seq, head_before.hash
    r = auditor.get(f"/cases/{case.id}/evidence.zip")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert r.headers["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["audit_head"] == {"seq": head_seq, "hash": head_hash}
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    (attachment,) = manifest["attachments"]
    assert attachment["sha256"] == hashlib.sha256(content).hexdigest() and attachment["intact"]
    assert archive.read(attachment["path"]) == content
    # every related audit event re-hashes to its stored hash, and they are the ones the database holds
    lines = [json.loads(line) for line in archive.read("audit_events.jsonl").decode().splitlines()]
    assert [e["seq"] for e in lines] == manifest["audit_events"]["seqs"] and lines
    for event in lines:
        assert compute_hash(event["seq"], event["prev_hash"], event["content"]) == event["hash"]
        envelope = json.dumps({"content": event["content"], "prev": event["prev_hash"], "seq": event["seq"]},
                              ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert hashlib.sha256(envelope.encode()).hexdigest() == event["hash"]
        stored = db.session.get(AuditEvent, event["seq"])
        assert stored.hash == event["hash"]
    actions = {e["content"]["action"] for e in lines}
    assert {"case.open", "case.attach", "figure.set", "report.submit", "report.accept", "flag.raise"} <= actions
    assert all(e["seq"] <= head_seq for e in lines)
    # the figures' full history, with both people answerable
    (figure,) = json.loads(archive.read("figures.json"))
    assert figure["value_in_force"] == "2.5000" or Decimal(figure["value_in_force"]) == Decimal("2.5")
    assert [r["kind"] for r in figure["revisions"]] == ["entry"]
    assert figure["entered_by"]["username"] == "lx-jia" and figure["accepted_by"]["username"] == "office"
    assert [t["action"] for t in figure["report_transitions"]] == ["submit", "accept"]
    assert figure["flags"][0]["rule"] == "cumulative_decrease"
    # the export itself is audited, after the head it names
    export = db.session.execute(select(AuditEvent).where(AuditEvent.action == "case.export")).scalar_one()
    assert export.seq == head_seq + 1
    assert hashlib.sha256(archive.read("manifest.json")).hexdigest() in export.content


def test_access_to_another_units_case(app, world, login):
    office = login(app.test_client(), "office")
    case = _open_case(office, world)
    office.post(f"/cases/{case.id}", data={"action": "attach", "attach-file": (io.BytesIO(b"doc"), "a.txt")},
                content_type="multipart/form-data")
    item = db.session.execute(select(CaseAttachment)).scalar_one()
    other = login(app.test_client(), "lx-yi")
    for url in (f"/cases/{case.id}", f"/cases/{case.id}/attachments/{item.id}", f"/cases/{case.id}/evidence.zip"):
        assert other.get(url).status_code == 404, url
    assert other.post(f"/cases/{case.id}", data={"action": "answer", "request_id": "1",
                                                 "answer-answer": "x"}).status_code == 404
    assert f"/cases/{case.id}" not in other.get("/cases/").text
    unit = login(app.test_client(), "lx-jia")
    assert unit.get(f"/cases/{case.id}").status_code == 200
    assert f"/cases/{case.id}" in unit.get("/cases/").text
    assert unit.get(f"/cases/{case.id}/evidence.zip").status_code == 403
    assert unit.post(f"/cases/{case.id}", data={"action": "close", "close-findings": "x",
                                                "close-outcome": "cleared"}).status_code == 403
    auditor = login(app.test_client(), "auditor")
    assert auditor.get(f"/cases/{case.id}/attachments/{item.id}").status_code == 200
    assert auditor.post(f"/cases/{case.id}", data={"action": "ask", "ask-question": "x"}).status_code == 403
    # an attachment id of another case answers 404 through this case
    assert office.get(f"/cases/{case.id}/attachments/{item.id + 1}").status_code == 404
