"""In a real browser (e2e step 6): a liaison's October report with a figure is submitted, staff
accept it through the UI, and the dashboard shows the accepted figure as the indicator's total;
before the acceptance it showed none. The number links to the item behind it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import login, main_text, october_report

pytestmark = pytest.mark.browser


def test_dashboard_shows_the_accepted_figure(browser, live_server, shots):
    base, app = live_server["url"], live_server["app"]
    item_id, october = october_report(app, accept=False)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    csp_errors: list[str] = []
    page.on("console", lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None)
    login(page, base, "staff1")

    # (1) submitted, not yet accepted: the dashboard counts nothing for October
    page.goto(f"{base}/dashboard")  # one plan: straight to its dashboard
    main_text(page, "督查看板")
    page.select_option("select[name=period]", label="2025年10月")
    page.click("form.dash-filters button[type=submit]")
    total = page.locator("[data-total=t2-jobs]")
    expect(total).to_have_text("—")
    shots(page, "dashboard-before-accept")

    # (2) staff accept the report through the UI
    page.goto(f"{base}/items/{item_id}/reports/{october}")
    main_text(page, "已报送")
    page.click("text=审核通过")
    main_text(page, "报告已审核通过")
    shots(page, "accepted")

    # (3) the dashboard's figure equals the accepted figure
    page.goto(f"{base}/plans/mini-2025/dashboard?period={october}")
    expect(total).to_have_text("12.5")
    expect(page.locator("[data-count=accepted] .n")).to_have_text("1")
    assert page.locator("svg.bullet").count() >= 1 and page.locator("svg.trend").count() == 1
    shots(page, "dashboard-after-accept")

    # (4) the number links to the item behind it
    total.click()
    main_text(page, "计入指标合计")
    expect(page.locator("[data-count=list]")).to_have_text("1")
    expect(page.locator(f"tr[data-assignment='{item_id}']")).to_contain_text("自治区工业和信息化厅")
    expect(page.locator(f"tr[data-assignment='{item_id}'] td[data-value]")).to_have_text("12.5 万个")
    shots(page, "items-behind-the-total")
    assert csp_errors == []
    ctx.close()
