"""Steps the browser tests share."""

from __future__ import annotations

from playwright.sync_api import expect

PASSWORD = "e2e-pass-123"  # every account of the live server (tests/e2e/conftest.py)


def main_text(page, text: str) -> None:
    """Wait (up to 10 s) until the page's main area shows `text`; fails with the page otherwise."""
    expect(page.locator("main")).to_contain_text(text, timeout=10_000)


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
