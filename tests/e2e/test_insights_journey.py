"""Licence insights in Chromium: an Admin opens the insights from the navigation,
unassigns an inactive person's licence (pending, then done, by a real worker), and the
license page shows the freed seat and when it leaves the bill."""

from __future__ import annotations

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from tests.e2e.test_licenses_journey import sign_in
from tests.support.processes import Emulator, OidcProvider


def test_admin_unassigns_an_inactive_persons_licence_and_sees_the_seat_freed(
    page: Page,
    live_server: str,
    oidc_provider: OidcProvider,
    app: Flask,
    demo: dict[str, int],
    emulator: Emulator,
    worker: None,
) -> None:
    with app.app_context():
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert northwind is not None
        northwind.auto_license_adjustment = True
        db.session.commit()
    sign_in(page, live_server, oidc_provider, "max@northwind.example")
    page.get_by_role("link", name="Northwind Traders").click()
    row = page.locator("#sub-sub-nw-bp")
    free_before = int(row.locator("td.num").nth(2).inner_text())

    page.get_by_role("link", name="Insights").click()
    inactive = page.locator("section:has(#insight-inactive)")
    expect(page.get_by_role("heading", name="Licences of inactive people")).to_be_visible()
    expect(page.get_by_text("Vic Viewer")).to_be_visible()
    page.get_by_role(
        "button", name="Unassign Microsoft 365 Business Premium from Vic Viewer"
    ).click()
    changes = page.locator("ul.changes")
    expect(changes).to_contain_text("Unassign Microsoft 365 Business Premium from Vic Viewer")
    expect(changes).to_contain_text("Done:", timeout=20000)
    expect(changes).to_contain_text("returned at the next reconciliation")
    expect(inactive).not_to_contain_text("Vic Viewer")
    users = {u["upn"]: u for u in emulator.state()["customers"][0]["users"]}
    assert not users["vic@northwind.example"]["licenses"]

    page.get_by_role("link", name="Licenses", exact=True).click()
    row = page.locator("#sub-sub-nw-bp")
    expect(row.locator("td.num").nth(2)).to_have_text(str(free_before + 1))
    expect(row).to_contain_text("returned at the next reconciliation")
