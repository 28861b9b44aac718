"""In a real browser: a liaison fills and submits the monthly report, staff return it with a
reason, the liaison sees the reason, corrects and resubmits, staff accept. Liaison pages fit a
375 px wide phone screen without sideways scrolling."""

from __future__ import annotations

import pytest

from tests.e2e.pages import login, main_text

pytestmark = pytest.mark.browser




def test_report_submit_return_resubmit_accept(browser, live_server, shots):
    base = live_server["url"]
    unit_ctx = browser.new_context(viewport={"width": 375, "height": 800})
    office_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    unit, office = unit_ctx.new_page(), office_ctx.new_page()

    # (1) the liaison logs in, opens the item and fills the October report
    login(unit, base, "lx-gxt")
    main_text(unit, "我的责任事项")
    shots(unit, "liaison-items")
    unit.click("text=提高第二产业就业比重")
    unit.click("tr:has-text('2025年10月') >> text=打开")
    unit.fill("textarea[name=progress_text]", "已发布岗位 3.2 万个。")
    unit.fill("textarea[name=next_steps_text]", "继续推进岗位归集。")
    figure = unit.locator("input[name^=figure_]").first
    figure.fill("-1")
    unit.click("button[value=submit]")
    main_text(unit, "该指标不能为负数")
    shots(unit, "bad-figure")
    unit.locator("input[name^=figure_]").first.fill("8.5")
    unit.click("button[value=submit]")
    main_text(unit, "报告已报送")
    shots(unit, "submitted")

    # (2) staff return it with a reason
    login(office, base, "staff1")
    office.goto(f"{base}/review/overdue")
    office.goto(unit.url.replace(base, base))  # the item page the liaison is on
    office.click("tr:has-text('2025年10月') >> text=打开")
    main_text(office, "已报送")
    office.fill("textarea[name=reason]", "岗位数与人社部门口径不一致，请核实。")
    office.click("text=退回修改")
    main_text(office, "报告已退回")
    shots(office, "returned")

    # (3) the liaison sees the reason, corrects and resubmits
    unit.reload()
    main_text(unit, "岗位数与人社部门口径不一致")
    unit.click("tr:has-text('2025年10月') >> text=打开")
    main_text(unit, "岗位数与人社部门口径不一致")
    unit.locator("input[name^=figure_]").first.fill("8.1")
    unit.click("button[value=submit]")
    main_text(unit, "报告已报送")
    shots(unit, "resubmitted")

    # (4) staff accept
    office.reload()
    office.click("text=审核通过")
    main_text(office, "报告已审核通过")
    main_text(office, "8.1")
    shots(office, "accepted")
    unit.reload()
    main_text(unit, "已通过")
    unit_ctx.close()
    office_ctx.close()


@pytest.mark.parametrize("path", ["items", "item", "report"])
def test_liaison_pages_fit_a_phone(browser, live_server, shots, path):
    base = live_server["url"]
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    login(page, base, "lx-gxt")
    page.goto(f"{base}/items")
    if path != "items":
        page.click("text=提高第二产业就业比重")
        if path == "report":
            page.click("tr:has-text('2025年11月') >> text=打开")
    width = page.evaluate("document.documentElement.scrollWidth")
    shots(page, f"phone-{path}")
    assert width <= 375, f"{page.url} is {width}px wide on a 375px screen"
    ctx.close()
