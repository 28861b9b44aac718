"""In a real browser: a liaison switches the interface to English on the account page, sees the navigation
and their items in English, and switches back to Chinese. And the liaison's pages (my items, one item, the
report form, the inbox and a notice, the account page) fit a 375 px wide phone in both languages, with long
Chinese task titles, unit names and tables: the document is never wider than the screen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.e2e.pages import login

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 800}
LONG_TITLE = ("推动重点群体高质量充分就业促进高校毕业生和农民工及退役军人等重点群体多渠道就业创业并"
              "强化困难人员兜底帮扶持续开展公共就业服务进园区进社区进校园专项活动")



def set_language(page, base: str, label: str) -> None:
    page.goto(f"{base}/account")
    page.select_option("select[name=locale]", label=label)
    page.click("#language button[type=submit]")
    page.wait_for_url(lambda url: url.endswith("/account"))


@pytest.fixture(scope="module")
def phone_world(live_server):
    """Long Chinese titles and unit names, a returned report with a long reason, and inbox notices."""
    app = live_server["app"]
    with app.app_context():
        from sqlalchemy import select

        from app.auth.models import User
        from app.extensions import db
        from app.plans.models import Assignment, Task
        from app.reminders.sweep import sweep
        from app.timeutil import today

        liaison = db.session.execute(select(User).where(User.username == "lx-gxt")).scalar_one()
        for task in db.session.execute(select(Task).join(Assignment, Assignment.task_id == Task.id)
                                       .where(Assignment.unit_id == liaison.unit_id)).scalars():
            task.title = f"{task.title}{LONG_TITLE}"
        liaison.unit.name = "内蒙古自治区工业和信息化厅（自治区国防科技工业办公室、自治区中小企业服务局）"
        db.session.commit()
        start = today()
        for days in (0, 5, 12, 30):
            sweep(start + timedelta(days=days))
        db.session.commit()
    return live_server


def _width(page) -> int:
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def test_liaison_switches_to_english_and_back(browser, live_server, shots):
    base = live_server["url"]
    ctx = browser.new_context(viewport={"width": 1024, "height": 800})
    page = ctx.new_page()
    login(page, base, "lx-gxt")
    expect(page.locator("header nav")).to_contain_text("我的责任事项")
    shots(page, "chinese-items")

    set_language(page, base, "English")
    expect(page.locator("main")).to_contain_text("The interface is now in English.")
    assert page.locator("html").get_attribute("lang") == "en"
    shots(page, "account-english")
    nav = page.locator("header nav")
    expect(nav).to_contain_text("My items")
    expect(nav).to_contain_text("Plans")
    expect(page.locator("header .who")).to_contain_text("Sign out")

    page.click("header nav >> text=My items")
    expect(page.locator("main h1")).to_have_text("My items")
    expect(page.locator("main")).to_contain_text("Task")
    expect(page.locator("main")).not_to_contain_text("我的责任事项")
    shots(page, "items-english")

    set_language(page, base, "中文")
    expect(page.locator("main")).to_contain_text("界面语言已切换为中文。")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    page.goto(f"{base}/items")
    expect(page.locator("main h1")).to_have_text("我的责任事项")
    shots(page, "items-chinese-again")
    ctx.close()


def _pages(page, base: str) -> dict[str, str]:
    """The URLs of the liaison's pages, found by clicking through as a liaison would."""
    page.goto(f"{base}/items")
    items = f"{base}/items"
    page.locator("ul.items a").first.click()
    page.wait_for_url(lambda url: "/items/" in url)
    item = page.url
    page.locator("table.periods a").first.click()
    page.wait_for_url(lambda url: "/reports/" in url)
    report = page.url
    page.goto(f"{base}/inbox")
    urls = {"items": items, "item": item, "report": report, "inbox": f"{base}/inbox", "account": f"{base}/account"}
    notice = page.locator("main table a").first
    if notice.count():
        urls["notice"] = base + notice.get_attribute("href")
    return urls


@pytest.mark.parametrize("language", ["中文", "English"])
def test_liaison_pages_fit_a_375px_phone(browser, phone_world, shots, language):
    base = phone_world["url"]
    ctx = browser.new_context(viewport=PHONE)
    page = ctx.new_page()
    login(page, base, "lx-gxt")
    set_language(page, base, language)
    urls = _pages(page, base)
    assert "notice" in urls, "the sweep left no notice in the liaison's inbox"
    too_wide = {}
    for name, url in urls.items():
        page.goto(url)
        page.wait_for_load_state("load")
        shots(page, f"phone-{name}")
        width = _width(page)
        if width > PHONE["width"]:
            too_wide[name] = width
    # the report form: a validation error beside a field must not widen the page either
    page.goto(urls["report"])
    if page.locator("input[name^=figure_]").count():
        page.locator("input[name^=figure_]").first.fill("-1")
        page.click("button[value=save]")
        expect(page.locator(".error").first).to_be_visible()
        shots(page, "phone-report-error")
        if _width(page) > PHONE["width"]:
            too_wide["report-error"] = _width(page)
    set_language(page, base, "中文")
    ctx.close()
    assert too_wide == {}, f"pages wider than a 375px screen: {too_wide}"
