"""In a real browser: staff log in, issue the October monthly brief from the briefs page, download the Word
document through the browser and open it with python-docx: the period's title and an accepted figure are in it."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from docx import Document
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _accepted_october_figure(app) -> None:
    """工信厅's October report with 8.5 (万个) for t2-jobs, submitted and accepted (through the services)."""
    from sqlalchemy import select

    from app.auth.models import User
    from app.extensions import db
    from app.plans.models import Assignment, Indicator, Period, Task
    from app.reports import services as reports
    from app.units.models import Unit

    with app.app_context():
        liaison = db.session.execute(select(User).where(User.username == "lx-gxt")).scalar_one()
        staff = db.session.execute(select(User).where(User.username == "staff1")).scalar_one()
        item = db.session.execute(
            select(Assignment).join(Task, Task.id == Assignment.task_id).join(Unit, Unit.id == Assignment.unit_id)
            .where(Task.number == 2, Unit.name == "自治区工业和信息化厅")).scalar_one()
        october = db.session.execute(select(Period).where(Period.label == "2025年10月")).scalar_one()
        jobs = db.session.execute(select(Indicator).where(Indicator.key == "t2-jobs")).scalar_one()
        report = reports.save_report(item, october, liaison,
                                     reports.ReportInput("已发布岗位。", "", "", {jobs.id: Decimal("8.5")}), None)
        reports.transition(report, "submit", liaison)
        report.first_submitted_at = datetime(2025, 11, 3, 2)
        reports.transition(report, "accept", staff)
        db.session.commit()


def test_staff_issue_and_download_the_monthly_brief(browser, live_server, shots, tmp_path):
    base = live_server["url"]
    _accepted_october_figure(live_server["app"])
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "staff1")
    page.fill("input[name=password]", "e2e-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto(f"{base}/briefs")
    expect(page.locator("main")).to_contain_text("印发简报", timeout=10_000)
    shots(page, "briefs-page")
    page.select_option("select[name=kind]", "monthly")
    page.select_option("select[name=period]", label="2025年10月（月度）")
    shots(page, "issue-form")
    page.click("text=生成并印发")
    expect(page.locator("main")).to_contain_text("已印发", timeout=20_000)
    expect(page.locator("main")).to_contain_text("工作简报（2025年10月）")
    expect(page.locator("main")).to_contain_text("8.5")
    expect(page.locator("main")).not_to_contain_text("built-in method")
    shots(page, "issued")

    with page.expect_download() as info:
        page.click("text=下载 Word 文档")
    download = info.value
    assert download.suggested_filename == "月度简报-2025年10月-第1期.docx"
    path = tmp_path / "brief.docx"
    download.save_as(path)
    document = Document(str(path))
    text = "\n".join([p.text for p in document.paragraphs]
                     + [c.text for t in document.tables for row in t.rows for c in row.cells])
    assert "测试就业促进方案工作简报（2025年10月）" in text
    assert "8.5 万个" in text  # the accepted t2-jobs figure
    assert "第 1 期" in text and "审计链头" in document.sections[0].footer.paragraphs[0].text

    page.goto(f"{base}/briefs")
    expect(page.locator("main")).to_contain_text("第 1 期")
    shots(page, "briefs-list")
    context.close()
