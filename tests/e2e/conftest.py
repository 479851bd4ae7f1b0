"""Every browser journey fails on a Content-Security-Policy violation logged in the console.

pytest-playwright's `page` is wrapped: a violation (Chromium logs "Refused to ... because it
violates the following Content Security Policy directive") on any page of ours fails the
test that caused it, so a template that brings back an inline script or style is caught.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import ConsoleMessage, Page


def is_csp_violation(message: ConsoleMessage) -> bool:
    """A console message Chromium writes when the Content-Security-Policy blocked something."""
    return "Content Security Policy" in message.text


def watch_csp(page: Page, origin: str) -> list[str]:
    """Collect the CSP violations of our own pages (`origin`) shown in `page`."""
    seen: list[str] = []

    def listen(message: ConsoleMessage) -> None:
        if is_csp_violation(message) and page.url.startswith(origin):
            seen.append(f"{page.url}: {message.text}")

    page.on("console", listen)
    return seen


@pytest.fixture
def page(page: Page, live_server: str) -> Iterator[Page]:
    """pytest-playwright's page, failing the test on any CSP violation of our pages."""
    violations = watch_csp(page, live_server)
    yield page
    assert not violations, "Content-Security-Policy violations:\n" + "\n".join(violations)
