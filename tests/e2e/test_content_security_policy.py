"""The browser enforces our Content-Security-Policy, and the journeys' check sees a breach."""

from __future__ import annotations

import contextlib

from playwright.sync_api import Browser, Error, expect

from tests.e2e.conftest import watch_csp


def test_an_injected_inline_script_and_style_are_blocked_and_reported(
    browser: Browser, live_server: str
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        violations = watch_csp(page, live_server)
        page.goto(live_server)
        expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()
        assert violations == []  # the page itself needs nothing the policy forbids
        with contextlib.suppress(Error):  # Playwright may report the blocked tag as an error
            page.add_script_tag(content="document.title = 'owned'")
        with contextlib.suppress(Error):
            page.add_style_tag(content="body { display: none; }")
        assert page.title() != "owned"
        expect(page.get_by_role("button", name="Sign in with Microsoft")).to_be_visible()
        for _ in range(100):  # the console messages arrive as events: give them a moment
            if len(violations) >= 2:
                break
            page.wait_for_timeout(50)
        assert len(violations) >= 2, violations
    finally:
        context.close()
