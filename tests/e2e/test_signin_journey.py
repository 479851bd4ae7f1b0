"""A person signs in with Microsoft (the local provider) in Chromium, sees licenses, signs out."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider


def test_modify_user_signs_in_sees_the_licenses_and_signs_out(
    page: Page, live_server: str, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    oidc_provider.set_user("ann@northwind.example", demo_claims("ann@northwind.example"))
    page.goto(live_server)
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_placeholder("sub").fill("ann@northwind.example")
    page.get_by_role("button", name="Authorize", exact=True).click()
    expect(page.get_by_role("heading", name="Northwind Traders")).to_be_visible()
    row = page.get_by_role("row").filter(has_text="Microsoft 365 Business Premium")
    expect(row).to_contain_text("NCE")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(f"{live_server}/c/cust-northwind/licenses")
    expect(page.get_by_placeholder("sub")).to_be_visible()  # back at the sign-in form
