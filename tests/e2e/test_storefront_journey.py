"""The storefront in Chromium: an Admin end user filters the products for sale, buys 5 seats
on an annual term billed monthly (the +5 % named), confirms, and sees the order pending, then
the new subscription on the license page and in Partner Center. A real worker buys it."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from playwright.sync_api import Browser, Page, expect

from app.services import profiles
from tests.e2e.test_licenses_journey import sign_in
from tests.support.processes import Emulator, OidcProvider
from tests.support.storefront import BP, E3, VISIO, open_store, staff


def test_admin_buys_five_seats_billed_monthly_and_sees_them_on_the_license_page(
    page: Page,
    app: Flask,
    live_server: str,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    worker: None,
) -> None:
    with app.app_context():
        open_store("cust-contoso", {BP: {"amount": "10"}, E3: {}, VISIO: {}})
    # Partner Center is busy once at checkout (429, retry after 2 s): the order stays pending
    # long enough to be seen, then goes through with the same request id.
    emulator.faults(
        {"method": "POST", "path": "/checkout", "status": 429, "times": 1, "retry_after": 2}
    )
    sign_in(page, live_server, oidc_provider, "ada@contoso.example")
    page.get_by_role("link", name="Buy licenses").click()
    expect(page.get_by_role("heading", name="Products for sale")).to_be_visible()

    page.get_by_label("Search", exact=True).fill("business")
    page.get_by_label("Billing", exact=True).select_option("monthly")
    page.get_by_role("button", name="Show", exact=True).click()
    offers = page.locator("#offers")
    expect(offers).to_contain_text("1 of 3 products match")
    expect(offers).not_to_contain_text("Microsoft 365 E3")
    expect(offers).to_contain_text("$25.41 per seat per month — annual term, billed monthly (+5 %)")

    page.get_by_label("Seats of Microsoft 365 Business Premium").fill("5")
    page.get_by_label("Term and billing for Microsoft 365 Business Premium").select_option(
        "P1Y/monthly"
    )
    page.get_by_role("button", name="Add Microsoft 365 Business Premium to the cart").click()
    cart = page.locator("#cart")
    expect(cart).to_contain_text("$127.05")
    cart.get_by_role("link", name="Review and buy").click()

    expect(
        page.get_by_role("heading", name="5 seats of Microsoft 365 Business Premium")
    ).to_be_visible()
    expect(page.locator("main")).to_contain_text(
        "$25.41 per seat per month — annual term, billed monthly (+5 %)"
    )
    expect(page.locator("main")).to_contain_text("$1,524.60")
    expect(page.locator(".commitment")).to_contain_text(
        re.compile(r"Annual term: seats can be reduced only within 7 days of purchase")
    )
    page.get_by_role("button", name="Confirm and buy").click()

    status = page.locator("#order-status")
    expect(status).to_contain_text("Ordering: Buy 5 seats of Microsoft 365 Business Premium")
    expect(status).to_contain_text(
        "Done: Bought 5 seats of Microsoft 365 Business Premium", timeout=20000
    )
    expect(page.locator("#live")).to_contain_text("Done: Bought 5 seats")

    status.get_by_role("link", name="See it on the license page").click()
    bought = [
        s
        for c in emulator.state()["customers"]
        if c["id"] == "cust-contoso"
        for s in c["subscriptions"]
        if s["offerId"].startswith(BP)
    ]
    assert len(bought) == 1
    assert (bought[0]["quantity"], bought[0]["termDuration"], bought[0]["billingCycle"]) == (
        5,
        "P1Y",
        "monthly",
    )
    row = page.locator(f"#sub-{bought[0]['id']}")
    expect(row).to_contain_text("Microsoft 365 Business Premium")
    expect(row.locator(".seat-count")).to_have_text("5")


def test_an_order_above_the_threshold_waits_until_the_partner_admin_approves_it(
    page: Page,
    browser: Browser,
    app: Flask,
    live_server: str,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    worker: None,
) -> None:
    with app.app_context():
        customer = open_store("cust-contoso", {BP: {}})
        profile = profiles.profile_of(customer)
        assert profile is not None
        profiles.set_approvals(staff(), profile, "100", every_order=False)
    sign_in(page, live_server, oidc_provider, "ada@contoso.example")
    page.get_by_role("link", name="Buy licenses").click()
    page.get_by_label("Seats of Microsoft 365 Business Premium").fill("10")
    page.get_by_role("button", name="Add Microsoft 365 Business Premium to the cart").click()
    page.locator("#cart").get_by_role("link", name="Review and buy").click()
    page.get_by_role("button", name="Confirm and buy").click()
    status = page.locator("#order-status")
    expect(status).to_contain_text(
        "Waiting for approval: Orders above 100.00 USD a month need the partner's approval."
    )

    approver = browser.new_context().new_page()
    sign_in(approver, live_server, oidc_provider, "pat@partner.example")
    approver.goto(f"{live_server}/admin/approvals")
    row = approver.locator("tr", has_text="Buy 10 seats of Microsoft 365 Business Premium")
    expect(row).to_contain_text("Contoso Ltd")
    assert _contoso_new(emulator) == []  # nothing reached Partner Center before approval
    row.get_by_role("button", name=re.compile("Approve order")).click()
    expect(approver.get_by_text("No order is waiting for approval.")).to_be_visible()

    expect(status).to_contain_text(
        "Done: Bought 10 seats of Microsoft 365 Business Premium", timeout=20000
    )
    assert [s["quantity"] for s in _contoso_new(emulator)] == [10]


def _contoso_new(emulator: Emulator) -> list[dict[str, Any]]:
    return [
        s
        for c in emulator.state()["customers"]
        if c["id"] == "cust-contoso"
        for s in c["subscriptions"]
        if s["offerId"].startswith(BP)
    ]
