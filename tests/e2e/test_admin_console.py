"""A partner admin opens a customer's portal, invites a user, and later revokes them."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from app.services.demo import CONTOSO_TID
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider

NEW_USER = "new.buyer@contoso.example"


def sign_in(page: Page, live_server: str, sub: str) -> None:
    page.goto(live_server)
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def test_admin_enables_the_portal_invites_a_modify_user_then_revokes_them(
    app: Flask,
    page: Page,
    browser: Browser,
    live_server: str,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
) -> None:
    with app.app_context():
        contoso = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert contoso is not None
        contoso.self_service = False
        db.session.commit()

    # The partner admin turns the portal on for Contoso, in place.
    oidc_provider.set_user("pat@partner.example", demo_claims("pat@partner.example"))
    sign_in(page, live_server, "pat@partner.example")
    page.get_by_role("link", name="Customers").click()
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    page.get_by_role("link", name="Contoso Ltd").click()
    expect(page.get_by_role("heading", name="Relationship settings")).to_be_visible()
    switch = page.get_by_role("switch", name="Self service")
    expect(switch).to_have_attribute("aria-checked", "false")
    switch.click()
    expect(page.get_by_role("switch", name="Self service")).to_have_attribute(
        "aria-checked", "true"
    )
    expect(page.locator("#setting-self_service").get_by_role("status")).to_have_text("Saved")

    # ... and invites a new address as Modify on the existing portal-users page.
    page.get_by_role("link", name="Portal users").click()
    page.get_by_label("Email address").fill(NEW_USER)
    page.get_by_label("Access level").select_option(label="Modify")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_text(f"{NEW_USER} can use the portal at level Modify")).to_be_visible()

    # The invited person signs in with an account of Contoso's own directory.
    oidc_provider.set_user(
        NEW_USER,
        {
            "tid": CONTOSO_TID,
            "oid": "e2e00000-0000-4000-8000-000000000042",
            "name": "New Buyer",
            "email": NEW_USER,
            "preferred_username": NEW_USER,
        },
    )
    user_context = browser.new_context()
    user = user_context.new_page()
    try:
        sign_in(user, live_server, NEW_USER)
        expect(user.get_by_role("heading", name="Contoso Ltd")).to_be_visible()
        expect(user.get_by_role("row").filter(has_text="Visio Plan 2")).to_be_visible()

        # The admin revokes; the user's very next request is refused.
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name=f"Revoke access for {NEW_USER}").click()
        expect(page.get_by_text(f"{NEW_USER} no longer has access")).to_be_visible()
        user.reload()
        expect(user.get_by_text("There is nothing here")).to_be_visible()
        expect(user.get_by_text("Visio Plan 2")).to_have_count(0)
    finally:
        user_context.close()
