"""Bulk load of figures from CSV or Excel: all or nothing, each bad row named by its number."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.models import Assignment, Indicator
from app.reports.models import Figure, FigureRestatement, FigureRevision, Report


@pytest.fixture
def setup(factory):
    plan = factory.plan()
    factory.group_members("各行业主管部门", "自治区商务厅")
    factory.user("lx-gxt", unit="自治区工业和信息化厅")
    factory.user("lx-jia", unit="甲市")
    factory.user("office", role="staff")
    factory.user("office2", role="staff")
    factory.user("auditor", role="auditor")
    return plan


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def _upload(client, data: bytes, name: str = "figures.csv"):
    return client.post("/figures/import", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def _count(model) -> int:
    return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def _value(unit: str, key: str, period_label: str) -> Decimal | None:
    from app.plans.models import Period
    from app.units.models import Unit

    return db.session.execute(
        select(Figure.value).join(Report, Report.id == Figure.report_id)
        .join(Assignment, Assignment.id == Report.assignment_id).join(Unit, Unit.id == Assignment.unit_id)
        .join(Indicator, Indicator.id == Figure.indicator_id).join(Period, Period.id == Report.period_id)
        .where(Unit.name == unit, Indicator.key == key, Period.label == period_label)).scalar_one_or_none()


GOOD = _csv(
    "单位,指标,周期,数值,填报时间",
    "自治区工业和信息化厅,t2-jobs,2025年10月,8.5,2025-10-05 09:30",
    "甲市,挖掘新就业岗位,2025-10,1.25,",
    "甲市,城镇新增就业,2025-10,0.8,",
    "甲市,t3-studio,2025年9月,1,",
)


def test_staff_load_any_unit_through_the_page(app, setup, login):
    office = login(app.test_client(), "office")
    assert office.get("/figures/import").status_code == 200
    r = _upload(office, GOOD)
    assert r.status_code == 302
    assert "导入完成" in office.get("/figures/import").text
    assert _value("自治区工业和信息化厅", "t2-jobs", "2025年10月") == Decimal("8.5")
    assert _value("甲市", "t2-jobs", "2025年10月") == Decimal("1.25")
    assert _value("甲市", "new-jobs", "2025年10月") == Decimal("0.8")
    assert _value("甲市", "t3-studio", "2025年9月") == Decimal("1")
    reports = db.session.execute(select(Report)).scalars().all()
    assert len(reports) == 4 and {r.state for r in reports} == {"draft"}
    revisions = db.session.execute(select(FigureRevision).order_by(FigureRevision.id)).scalars().all()
    assert [(r.kind, r.source, r.user.username) for r in revisions] == [("entry", "import", "office")] * 4
    # the file's time of entry, 09:30 in Asia/Shanghai, is kept beside the upload time (UTC)
    assert revisions[0].stated_at == datetime(2025, 10, 5, 1, 30)
    actions = [e.action for e in db.session.execute(select(AuditEvent)).scalars()]
    assert actions.count("figure.set") == 4 and actions.count("figures.import") == 1
    # loading the same file again changes nothing
    assert _upload(office, GOOD).status_code == 302
    assert _count(FigureRevision) == 4


def test_a_bad_row_loads_nothing_and_is_named_by_its_row(app, setup, login):
    office = login(app.test_client(), "office")
    data = _csv(
        "单位,指标,周期,数值",
        "自治区工业和信息化厅,t2-jobs,2025年10月,8.5",
        "甲市,不存在的指标,2025-10,1",
        "甲市,t2-jobs,2025-13,1",
        "乙市,t2-jobs,2025-10,1",
        "甲市,t2-jobs,2025-10,abc",
        "自治区工业和信息化厅,t2-jobs,2025-10,9",
        "自治区工业和信息化厅,t3-studio,2025-10,1",
    )
    r = _upload(office, data)
    assert r.status_code == 200
    text = r.text
    assert "未导入任何数据" in text
    assert "第 3 行：指标“不存在的指标”" in text
    assert "第 4 行：报送周期“2025-13”不存在" in text
    assert "第 5 行：单位“乙市”不存在" in text
    assert "第 6 行：请输入数字" in text
    assert "第 7 行：与第 2 行重复" in text
    assert "第 8 行：单位“自治区工业和信息化厅”不填报指标“创业指导大师工作室”" in text
    assert "第 2 行" not in text.replace("与第 2 行", "")
    assert _count(Report) == 0 and _count(Figure) == 0 and _count(FigureRevision) == 0
    assert db.session.execute(select(AuditEvent).where(AuditEvent.action.like("figure%"))).first() is None


def test_a_liaison_loads_only_their_own_unit(app, setup, login):
    unit = login(app.test_client(), "lx-jia")
    r = _upload(unit, GOOD)
    assert r.status_code == 200
    assert "第 2 行：只能导入本单位的数据" in r.text
    assert _count(Figure) == 0
    own = _csv("单位,指标,周期,数值", "甲市,t2-jobs,2025-10,1.5", "甲市,t3-studio,2025-10,2")
    assert _upload(unit, own).status_code == 302
    assert _value("甲市", "t2-jobs", "2025年10月") == Decimal("1.5")
    assert login(app.test_client(), "auditor").get("/figures/import").status_code == 403


def test_excel_file_is_read_by_its_content(app, setup, login):
    book = Workbook()
    sheet = book.active
    sheet.append(["unit", "indicator", "period", "value", "entered_at"])
    sheet.append(["甲市", "t2-jobs", "2025年10月", 1.75, datetime(2025, 10, 6, 8, 0)])
    sheet.append(["甲市", "t3-studio", datetime(2025, 10, 1), 3, None])
    buffer = io.BytesIO()
    book.save(buffer)
    office = login(app.test_client(), "office")
    # named .csv, but an Excel workbook inside: read as Excel
    assert _upload(office, buffer.getvalue(), "figures.csv").status_code == 302
    assert _value("甲市", "t2-jobs", "2025年10月") == Decimal("1.75")
    assert _value("甲市", "t3-studio", "2025年10月") == Decimal("3")


@pytest.mark.parametrize(("data", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "不是 CSV 文本或 Excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "不支持旧版 Excel"),
    (b"PK\x03\x04not really a zip", "Excel 文件已损坏"),
    (_csv("名称,数量", "甲市,1"), "表头缺少“单位”“指标”“周期”“数值”列"),
    (_csv("单位,指标,周期,数值"), "没有数据行"),
    (b"", "文件是空的"),
])
def test_files_that_are_not_tables_are_refused(app, setup, login, data, message):
    office = login(app.test_client(), "office")
    r = _upload(office, data, "figures.xlsx")
    assert r.status_code == 200 and message in r.text
    assert _count(Figure) == 0


def test_size_limit(app, setup, login, monkeypatch):
    monkeypatch.setitem(app.config, "FIGURE_IMPORT_MAX_BYTES", 100)
    office = login(app.test_client(), "office")
    r = _upload(office, GOOD + b"#" * 200)
    assert r.status_code == 200 and "文件过大" in r.text
    assert _count(Figure) == 0


def test_submitted_and_accepted_reports(app, setup, login):
    office = login(app.test_client(), "office")
    assert _upload(office, _csv("单位,指标,周期,数值", "甲市,t2-jobs,2025-10,1", "甲市,t2-jobs,2025-09,2")).status_code == 302
    city = login(app.test_client(), "lx-jia")
    for report in db.session.execute(select(Report)).scalars().all():
        db.session.refresh(report)
        city.post(f"/items/{report.assignment_id}/reports/{report.period_id}",
                  data={"progress_text": "进展", f"figure_{report.figures[0].indicator_id}": str(report.figures[0].value),
                        "version": str(report.version), "action": "submit"})
    september = db.session.execute(select(Report).where(Report.period.has(label="2025年9月"))
                                   ).scalar_one()
    assert office.post(f"/reports/{september.id}/accept", data={"version": september.version}).status_code == 302
    # October is waiting for review: refused; September is accepted: a change needs a reason ...
    r = _upload(office, _csv("单位,指标,周期,数值,原因", "甲市,t2-jobs,2025-10,1.5,", "甲市,t2-jobs,2025-09,2.5,"))
    assert "第 2 行：该报告已报送、正在审核" in r.text
    assert "第 3 行：该报告已审核通过，修改须在“原因”列填写更正原因" in r.text
    assert _count(FigureRestatement) == 0
    # ... and becomes a restatement waiting for another office member; the value in force stays
    r = _upload(office, _csv("单位,指标,周期,数值,原因", "甲市,t2-jobs,2025-10,1,", "甲市,t2-jobs,2025-09,2.5,补报"))
    assert r.status_code == 302
    restatement = db.session.execute(select(FigureRestatement)).scalar_one()
    assert restatement.state == "pending" and restatement.source == "import" and restatement.reason == "补报"
    assert _value("甲市", "t2-jobs", "2025年9月") == Decimal("2")
    other = login(app.test_client(), "office2")
    assert other.post(f"/restatements/{restatement.id}/approve", data={"version": restatement.version}).status_code == 302
    assert _value("甲市", "t2-jobs", "2025年9月") == Decimal("2.5")


def test_cli(app, setup, tmp_path):
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_csv("单位,指标,周期,数值", "甲市,t2-jobs,2025-10,1", "甲市,t2-jobs,2025-10,-5"))
    result = runner.invoke(args=["figures", "import", str(bad), "--user", "office"])
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "不能为负数" in result.output and "均未导入" in result.output
    assert _count(Figure) == 0
    good = tmp_path / "good.csv"
    good.write_bytes(GOOD)
    result = runner.invoke(args=["figures", "import", str(good), "--user", "lx-jia"])
    assert result.exit_code == 1 and "第 2 行：只能导入本单位的数据" in result.output
    result = runner.invoke(args=["figures", "import", str(good), "--user", "office"])
    assert result.exit_code == 0, result.output
    assert "新填 4 个数值" in result.output
    assert _count(Figure) == 4
    assert runner.invoke(args=["figures", "import", str(good), "--user", "nobody"]).exit_code == 2
    assert runner.invoke(args=["figures", "import", str(tmp_path / "missing.csv"), "--user", "office"]).exit_code == 2

