"""White-label hosts in Chromium (issue 19): the same page under two host names shows two
brands; signing in on the reseller's host comes back to it; a direct customer's user who
signs in on the reseller's host is sent to the provider's host.

Chromium resolves both names to the live server on 127.0.0.1 (`--host-resolver-rules`).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserType, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Reseller
from tests.e2e.conftest import watch_csp
from tests.support.identities import demo_claims
from tests.support.processes import CHROMIUM, OidcProvider

RESELLER = "reseller.example"
PROVIDER = "partner.example"


@pytest.fixture
def two_hosts(app: Flask, demo: dict[str, int]) -> Iterator[None]:
    """Fabrikam's proven host and the provider's own host."""
    with app.app_context():
        fabrikam = db.session.scalar(select(Reseller).where(Reseller.pc_id == "res-fabrikam"))
        assert fabrikam is not None
        fabrikam.host_name = RESELLER
        db.session.commit()
    app.config["PROVIDER_HOSTS"] = [PROVIDER]
    yield
    app.config["PROVIDER_HOSTS"] = []


@pytest.fixture
def mapped_browser(browser_type: BrowserType) -> Iterator[Browser]:
    """Chromium with both host names resolving to 127.0.0.1."""
    rules = f"MAP {RESELLER} 127.0.0.1, MAP {PROVIDER} 127.0.0.1"
    browser = browser_type.launch(executable_path=CHROMIUM, args=[f"--host-resolver-rules={rules}"])
    yield browser
    browser.close()


def new_page(browser: Browser, violations: list[list[str]], port: str) -> Page:
    page = browser.new_page()
    violations.append(watch_csp(page, f"http://{RESELLER}:{port}"))
    violations.append(watch_csp(page, f"http://{PROVIDER}:{port}"))
    return page


def sign_in_at_provider(page: Page, oidc_provider: OidcProvider, who: str) -> None:
    oidc_provider.set_user(who, demo_claims(who))
    page.get_by_placeholder("sub").fill(who)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_two_hosts_two_brands_and_sign_in_stays_on_the_right_host(
    mapped_browser: Browser, live_server: str, oidc_provider: OidcProvider, two_hosts: None
) -> None:
    port = live_server.rsplit(":", 1)[1]
    reseller_url, provider_url = f"http://{RESELLER}:{port}", f"http://{PROVIDER}:{port}"
    violations: list[list[str]] = []

    # The same page under two host names: two brands.
    page = new_page(mapped_browser, violations, port)
    page.goto(f"{provider_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Seatwise")
    page.goto(f"{reseller_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fabrikam IT")

    # Ann (Northwind, a Fabrikam customer) signs in on the reseller's host and comes back.
    page.get_by_role("button", name="Sign in with Microsoft").click()
    redirect_uri = parse_qs(urlsplit(page.url).query)["redirect_uri"][0]
    assert redirect_uri == f"{reseller_url}/auth/callback"
    sign_in_at_provider(page, oidc_provider, "ann@northwind.example")
    expect(page.get_by_role("heading", name="Northwind Traders")).to_be_visible()
    assert page.url.startswith(f"{reseller_url}/")
    expect(page.get_by_role("banner")).to_contain_text("Fabrikam IT")

    # Ada (Contoso, a direct customer) signs in on the reseller's host: sent to the provider's.
    other = new_page(mapped_browser, violations, port)
    seen_hosts: list[str] = []
    other.on("request", lambda request: seen_hosts.append(urlsplit(request.url).netloc))
    other.goto(f"{reseller_url}/")
    other.get_by_role("button", name="Sign in with Microsoft").click()
    sign_in_at_provider(other, oidc_provider, "ada@contoso.example")
    # Her session on the reseller's host is no use on the provider's: she signs in there.
    expect(other.get_by_placeholder("sub")).to_be_visible()
    assert f"{PROVIDER}:{port}" in seen_hosts
    redirect_uri = parse_qs(urlsplit(other.url).query)["redirect_uri"][0]
    assert redirect_uri == f"{provider_url}/auth/callback"
    sign_in_at_provider(other, oidc_provider, "ada@contoso.example")
    expect(other.get_by_role("heading", name="Contoso")).to_be_visible()
    assert other.url.startswith(f"{provider_url}/")
    expect(other.get_by_role("banner")).not_to_contain_text("Fabrikam")
    assert not [v for seen in violations for v in seen], violations
