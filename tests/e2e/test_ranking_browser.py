"""In a real browser: staff open the lagging-units ranking, filter it, read the formula, follow a
unit to its items, publish the ranking, and read the publication with its recompute check."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import login, main_text

pytestmark = pytest.mark.browser


def test_staff_read_filter_and_publish_the_ranking(browser, live_server, shots):
    base = live_server["url"]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    login(page, base, "staff1")

    page.goto(f"{base}/rankings")  # one plan: straight to its ranking
    main_text(page, "落后单位排名")
    main_text(page, "版本 2025.1")
    main_text(page, "落后指数 = 100 × Σ")
    shots(page, "ranking")

    page.select_option("select[name=kind]", "league_city")
    page.click("form.filters button[type=submit]")
    main_text(page, "只在盟市政府之间排名")
    expect(page.locator("table.ranking tbody tr")).to_have_count(2)
    shots(page, "league-city-only")

    page.click("table.ranking >> text=甲市")
    main_text(page, "排名各项数字背后的报告数")
    shots(page, "unit-items")
    page.go_back()

    expect(page.locator("textarea[name=note]")).to_have_attribute("maxlength", "500")  # (the server checks too)
    page.fill("textarea[name=note]", "十月排名，供领导小组会议使用")
    page.click("section.card button.primary")
    main_text(page, "排名已发布")
    main_text(page, "与发布的排名一致")
    main_text(page, "结果与发布时相同")
    shots(page, "publication")
