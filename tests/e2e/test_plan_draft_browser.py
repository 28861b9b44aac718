"""In a real browser (Debian's Chromium, fixtures in tests/e2e/conftest.py): office staff upload the
issued document, the task links move and highlight the source beside the form, and the corrected
draft is imported — through the real login, CSRF tokens and a multipart upload."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.pages import login

NMG_DOCUMENT = Path(__file__).resolve().parents[1] / "data" / "plans" / "nmg-2025-employment-plan.txt"



def test_upload_check_beside_the_source_and_import(browser, live_server, shots):
    base = live_server["url"]
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    page = context.new_page()
    failed: list[str] = []
    page.on("pageerror", lambda e: failed.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(r.url))
    login(page, base, "staff1")

    page.goto(f"{base}/plans/")
    page.click("text=从公文起草方案")
    page.set_input_files("input[type=file]", str(NMG_DOCUMENT))
    page.click("text=上传并生成草稿")
    page.wait_for_selector("#draft-source")
    shots(page, "draft")

    # a task's link scrolls the source pane to the task's first line and highlights its lines
    pane = page.locator("#draft-source")
    assert pane.evaluate("e => e.scrollTop") == 0
    link = page.locator("#task-12 a.goto-source")
    first = link.get_attribute("data-first")
    link.click()
    assert pane.evaluate("e => e.scrollTop") > 0
    assert page.evaluate("""first => {
        const line = document.getElementById('L' + first).getBoundingClientRect();
        const pane = document.getElementById('draft-source').getBoundingClientRect();
        return line.top >= pane.top && line.bottom <= pane.bottom; }""", first)
    active = page.locator(".src-line.active")
    assert active.count() > 1
    assert {active.nth(i).get_attribute("data-task") for i in range(active.count())} == {"12"}
    shots(page, "task-12-in-source")
    # editing another task brings its lines up
    page.focus("#tasks-2-title")
    assert page.locator(".src-line.active").first.get_attribute("data-task") == "3"

    # correct and import: the names of the document are new to this system; confirm them all
    page.fill("#slug", "nmg-2025-employment")
    page.fill("#tasks-0-title", "推动产业与就业互促共进（核对）")
    page.check("#confirm_all_new")
    page.click("button[value=import]")
    page.wait_for_url(f"{base}/plans/nmg-2025-employment")
    assert "已导入方案 内政发〔2025〕7号：19 项任务" in page.content()
    assert "推动产业与就业互促共进（核对）" in page.content()
    shots(page, "imported")
    assert failed == []
    context.close()
