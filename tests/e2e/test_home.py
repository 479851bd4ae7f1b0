"""The front page in a real browser (headless Chromium)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_home_page_shows_the_product_and_the_sign_in_button(page: Page, live_server: str) -> None:
    page.goto(live_server)
    expect(page.get_by_role("heading", name="Seatwise")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()


def test_browser_is_the_system_chromium(page: Page) -> None:
    version = page.context.browser.version if page.context.browser else ""
    assert re.match(r"^\d+\.", version), version
