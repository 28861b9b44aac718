"""Issuing a brief over HTTP: the stored Word document opens with python-docx and carries the headline figures
and the audit head; the download serves the stored bytes; a later correction does not change an issued brief;
the issue and the download are audited; bad input is refused with a Chinese message beside the field."""

from __future__ import annotations

import hashlib
import io
import re
from decimal import Decimal
from urllib.parse import unquote

import pytest
from docx import Document
from sqlalchemy import func, select

from app.audit import services as audit
from app.audit.chain import canonical_json
from app.audit.models import AuditEvent
from app.briefs.models import Brief
from app.extensions import db
from app.plans.models import Period
from app.reports import services as reports
from tests.briefs import world as w


@pytest.fixture
def small(factory):
    return w.build(factory)


def _issue(client, plan, kind: str, period: Period):
    return client.post("/briefs/issue", data={"plan": str(plan.id), "kind": kind, "period": str(period.id)})


def _text(document: Document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


def _brief() -> Brief:
    return db.session.execute(select(Brief).order_by(Brief.id.desc())).scalars().first()


def test_issue_monthly_brief_and_open_the_document(app, small, login):
    staff = login(app.test_client(), "staff")
    response = _issue(staff, small["plan"], "monthly", small["october"])
    assert response.status_code == 302, response.text
    brief = _brief()
    assert response.location.endswith(f"/briefs/{brief.id}")
    assert (brief.kind, brief.number, brief.period_id) == ("monthly", 1, small["october"].id)
    page = staff.get(f"/briefs/{brief.id}").text
    assert "2025年10月" in page and brief.audit_hash in page and "built-in method" not in page
    assert re.search(r"<td>甲市</td><td>盟市</td><td class=\"num\">3</td>", page)  # its items, late ones
    download = staff.get(f"/briefs/{brief.id}.docx")
    assert download.status_code == 200
    assert download.mimetype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    disposition = download.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''" in disposition
    assert "月度简报-2025年10月-第1期.docx" in unquote(disposition)
    assert download.data == brief.docx and hashlib.sha256(download.data).hexdigest() == brief.sha256
    document = Document(io.BytesIO(download.data))
    text = _text(document)
    assert "工作简报（2025年10月）" in text and "第 1 期" in text
    assert "挖掘新就业岗位" in text and "11 万个" in text and "73.3%" in text  # accepted total of t2-jobs, of 15
    assert brief.audit_hash in text and brief.audit_hash in document.sections[0].footer.paragraphs[0].text
    assert "逾期未报 6 项" in text
    # Chinese fonts named in the East Asian attribute, none embedded
    xml = document.styles["Normal"].element.xml
    assert 'w:eastAsia="仿宋"' in xml
    assert 'w:eastAsia="黑体"' in document.styles["Heading 1"].element.xml
    assert not [p for p in document.part.package.parts if "font" in str(p.partname).lower() and
                str(p.partname).endswith((".odttf", ".ttf"))]


def test_the_issue_is_audited_with_both_hashes(app, small, login):
    staff = login(app.test_client(), "staff")
    head_before = audit.current_head()
    db.session.rollback()
    assert _issue(staff, small["plan"], "monthly", small["october"]).status_code == 302
    brief = _brief()
    assert (brief.audit_seq, brief.audit_hash) == head_before  # the head when the content was gathered
    event = db.session.execute(select(AuditEvent).where(AuditEvent.action == "brief.issue")).scalar_one()
    assert event.username == "staff" and event.entity_id == str(brief.id)
    assert brief.sha256 in event.content and hashlib.sha256(canonical_json(brief.content)).hexdigest() in event.content
    assert f"{brief.audit_hash}@{brief.audit_seq}" in event.content
    staff.get(f"/briefs/{brief.id}.docx")
    download = db.session.execute(select(AuditEvent).where(AuditEvent.action == "brief.download")).scalar_one()
    assert download.username == "staff" and brief.sha256 in download.content
    assert audit.verify_log().ok


def test_a_later_correction_does_not_change_an_issued_brief(app, small, login):
    staff = login(app.test_client(), "staff")
    assert _issue(staff, small["plan"], "monthly", small["october"]).status_code == 302
    first = _brief()
    before = staff.get(f"/briefs/{first.id}.docx").data
    # 工信厅 corrects its October figure 8 → 12 (a restatement approved by other staff)
    figure = small["gxt_report"].figures[0]
    restatement = reports.request_restatement(figure, w.user("lx-gxt"), Decimal("12"), "补录遗漏岗位")
    reports.decide_restatement(restatement, w.user("staff2"), "approve", None)
    db.session.commit()
    after = staff.get(f"/briefs/{first.id}.docx").data
    assert after == before  # the stored document, byte for byte
    db.session.refresh(first)
    jobs = next(i for i in first.content["indicators"] if i["key"] == "t2-jobs")
    assert jobs["total"] == "11"
    assert "11 万个" in _text(Document(io.BytesIO(after)))
    # a brief issued now shows the corrected figure, with the next number
    assert _issue(staff, small["plan"], "monthly", small["october"]).status_code == 302
    second = _brief()
    assert second.number == 2 and second.id != first.id
    jobs = next(i for i in second.content["indicators"] if i["key"] == "t2-jobs")
    assert jobs["total"] == "15"
    assert "15 万个" in _text(Document(io.BytesIO(staff.get(f"/briefs/{second.id}.docx").data)))
    assert second.audit_seq > first.audit_seq


@pytest.mark.parametrize("kind", ["quarterly", "annual"])
def test_quarterly_and_annual_documents_open(app, small, login, kind):
    staff = login(app.test_client(), "staff")
    label = {"quarterly": "2025年第4季度", "annual": "2025年度"}[kind]
    period = db.session.execute(select(Period).where(Period.label == label)).scalar_one()
    assert _issue(staff, small["plan"], kind, period).status_code == 302
    brief = _brief()
    page = staff.get(f"/briefs/{brief.id}").text
    assert label in page and "built-in method" not in page
    text = _text(Document(io.BytesIO(staff.get(f"/briefs/{brief.id}.docx").data)))
    assert label in text and brief.audit_hash in text
    if kind == "annual":
        assert "按时报送（30）" in text and "自治区工业和信息化厅" in text
        gxt = next(u for u in brief.content["units"] if u["name"] == "自治区工业和信息化厅")
        assert gxt["total"] in text
    else:
        assert "2025年10月" in text and "league_city" not in text and "盟市" in text


def _other_plan_period() -> Period:
    from app.plans.services import import_plan_file
    from tests.conftest import NMG_PLAN

    other = import_plan_file(NMG_PLAN).plan
    db.session.commit()
    return db.session.execute(select(Period).where(Period.plan_id == other.id, Period.kind == "monthly")
                              .order_by(Period.start)).scalars().first()


@pytest.mark.parametrize(("case", "message"), [
    ("unknown_period", "报送周期不存在"),
    ("wrong_kind", "月度简报须选择月度报送周期"),
    ("other_plan", "该报送周期不属于所选实施方案"),
    ("no_kind", "请选择简报类型"),
    ("no_plan", "请选择实施方案"),
    ("garbage", "报送周期不存在"),
])
def test_bad_input_is_refused_with_a_message_and_nothing_saved(app, small, login, case, message):
    staff = login(app.test_client(), "staff")
    plan, october = small["plan"], small["october"]
    data = {"plan": str(plan.id), "kind": "monthly", "period": str(october.id)}
    if case == "unknown_period":
        data["period"] = "999999"
    elif case == "wrong_kind":
        data["period"] = str(db.session.execute(select(Period.id).where(Period.kind == "annual")).scalar_one())
    elif case == "other_plan":
        data["period"] = str(_other_plan_period().id)
    elif case == "no_kind":
        data["kind"] = "weekly"
    elif case == "no_plan":
        data["plan"] = "999999"
    elif case == "garbage":
        data["period"] = "1;DROP"
    events = db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one()
    response = staff.post("/briefs/issue", data=data)
    assert response.status_code == 400
    assert re.search(r'role="alert">[^<]*' + message, response.text), response.text[-3000:]
    assert db.session.execute(select(func.count()).select_from(Brief)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events


def test_issue_numbers_count_per_plan_and_kind(app, small, login):
    staff = login(app.test_client(), "staff")
    november = w.month("2025年11月")
    q4 = db.session.execute(select(Period).where(Period.label == "2025年第4季度")).scalar_one()
    for kind, period in (("monthly", small["october"]), ("monthly", november), ("quarterly", q4)):
        assert _issue(staff, small["plan"], kind, period).status_code == 302
    numbers = db.session.execute(select(Brief.kind, Brief.number).order_by(Brief.id)).all()
    assert [tuple(n) for n in numbers] == [("monthly", 1), ("monthly", 2), ("quarterly", 1)]
    page = staff.get(f"/briefs?plan={small['plan'].id}").text
    page = page[page.index("<tbody>"):]
    assert page.index("2025年第4季度") < page.index("2025年11月") < page.index("2025年10月")  # newest first


def test_auditor_reads_and_downloads_but_does_not_issue(app, small, login):
    staff = login(app.test_client(), "staff")
    assert _issue(staff, small["plan"], "monthly", small["october"]).status_code == 302
    brief = _brief()
    auditor = login(app.test_client(), "auditor")
    assert auditor.get("/briefs").status_code == 200
    assert "印发简报" not in auditor.get(f"/briefs?plan={small['plan'].id}").text
    assert auditor.get(f"/briefs/{brief.id}").status_code == 200
    assert auditor.get(f"/briefs/{brief.id}.docx").data == brief.docx
    assert _issue(auditor, small["plan"], "monthly", small["october"]).status_code == 403
    liaison = login(app.test_client(), "lx-gxt")
    for url in ("/briefs", f"/briefs/{brief.id}", f"/briefs/{brief.id}.docx"):
        assert liaison.get(url).status_code == 403


def test_text_a_person_typed_cannot_break_the_document(app, small, login):
    """A good-practice note with control characters and markup still makes a document that opens."""
    from app.briefs.services import mark_practice

    mark_practice(small["gxt_report"], w.user("staff"), "<b>归集</b> & 发布\x0b", "第一行\n第二行\x01 <w:t>")
    db.session.commit()
    staff = login(app.test_client(), "staff")
    assert _issue(staff, small["plan"], "monthly", small["october"]).status_code == 302
    text = _text(Document(io.BytesIO(staff.get(f"/briefs/{_brief().id}.docx").data)))
    assert "<b>归集</b> & 发布" in text and "第二行 <w:t>" in text
