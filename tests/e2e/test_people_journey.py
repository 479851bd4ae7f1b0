"""PRODUCT.md's example in Chromium: 10 seats, 8 assigned, auto increment on, assign one
more person → 11 seats, 9 assigned, on the page and at Partner Center."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect

from tests.e2e.test_licenses_journey import sign_in
from tests.support.processes import Emulator, OidcProvider
from tests.web.test_people import BP_SKU, acme, partner_admin, pc_quantity, prepare


def test_assigning_with_auto_increment_buys_the_seat_and_keeps_the_buffer(
    page: Page,
    live_server: str,
    app: Flask,
    oidc_provider: OidcProvider,
    emulator: Emulator,
    worker: None,
) -> None:
    prepare(app, emulator, acme(assigned=8), auto_increment="on")
    partner_admin(app, oidc_provider)  # makes sure the partner admin exists
    sign_in(page, live_server, oidc_provider, "pat@partner.example")
    page.goto(f"{live_server}/c/cust-acme/people")
    products = page.get_by_role("row").filter(has_text="Microsoft 365 Business Premium").first
    expect(products).to_contain_text("10")
    row = page.locator("tr", has=page.get_by_text("zoe0@acme.example"))
    row.get_by_label("Product to assign to Zoe 0").select_option(BP_SKU)
    row.get_by_role("button", name="Buy and assign").click()
    expect(row).to_contain_text(
        "Done: Zoe 0 has Microsoft 365 Business Premium (one seat bought).", timeout=15000
    )
    page.reload()
    summary = page.get_by_role("row").filter(has_text="Microsoft 365 Business Premium").first
    expect(summary.get_by_role("cell")).to_have_text(["11", "9", "2"])
    assert pc_quantity(emulator) == 11
    users = emulator.state()["customers"][0]["users"]
    assert sum(1 for u in users if BP_SKU in u["licenses"]) == 9
