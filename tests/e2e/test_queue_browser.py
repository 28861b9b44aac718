"""In a real browser (issue 6, e2e step 5): staff open the review queue, select an overdue unit's
item and urge it with a message; the liaison of that unit opens the item and sees the urge with
its message. Today is frozen at 2025-11-20: the October reports (due 2025-11-07) are overdue."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import login, main_text

pytestmark = pytest.mark.browser

UNIT = "自治区工业和信息化厅"
MESSAGE = "请于11月25日前报送10月进展，并说明逾期原因。"




def test_staff_urge_from_the_queue_and_the_liaison_sees_it(browser, live_server, shots):
    base = live_server["url"]
    office_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    unit_ctx = browser.new_context(viewport={"width": 375, "height": 800})
    office, unit = office_ctx.new_page(), unit_ctx.new_page()

    # staff open the review queue: the unit's October report is overdue
    login(office, base, "staff1")
    office.goto(f"{base}/review/queue")
    main_text(office, "督办队列")
    row = office.locator("tr", has_text=UNIT)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("2025年10月")
    expect(row).to_contain_text("逾期未报")
    expect(row.locator("td.num")).to_have_text("9")  # working days since 2025-11-07
    shots(office, "queue")

    # a bulk action without a message is refused beside the field, nothing is sent
    row.locator("input[name=item]").check()
    office.click("button:has-text('执行')")
    main_text(office, "请填写催办留言")
    expect(office.locator("tr", has_text=UNIT).locator("input[name=item]")).to_be_checked()
    shots(office, "message-missing")

    # select the unit's item, urge it with a message
    office.check("input[name=action][value=urge]")
    office.fill("textarea[name=message]", MESSAGE)
    office.click("button:has-text('执行')")
    main_text(office, "已向 1 个单位的 1 个事项发出催办")
    row = office.locator("tr", has_text=UNIT)
    expect(row).to_contain_text("人工催办")  # the last contact
    expect(row).to_contain_text("催办通知")  # the step reached
    shots(office, "urged")

    # the unit's liaison opens the item and sees the urge and its message
    login(unit, base, "lx-gxt")
    main_text(unit, "我的责任事项")
    unit.click("text=提高第二产业就业比重")
    main_text(unit, MESSAGE)
    urge = unit.locator("tr", has_text="2025年10月").locator(".step")
    expect(urge).to_contain_text("催办通知")
    expect(urge).to_contain_text("王晓东")
    expect(urge).to_contain_text(MESSAGE)
    shots(unit, "liaison-item")

    # and has it in the inbox
    unit.goto(f"{base}/inbox")
    main_text(unit, "【催办】")
    shots(unit, "liaison-inbox")
    office_ctx.close()
    unit_ctx.close()
