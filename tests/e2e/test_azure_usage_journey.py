"""An Admin end user opens the Azure usage report in Chromium: the chart by its accessible
name, the table behind it, and the CSV whose totals match the page."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from tests.e2e.test_licenses_journey import sign_in
from tests.support.processes import OidcProvider


def test_an_admin_opens_the_azure_usage_finds_chart_and_table_and_the_csv_adds_up(
    page: Page,
    live_server: str,
    oidc_provider: OidcProvider,
    app: Flask,
    demo: dict[str, int],
) -> None:
    with app.app_context():  # seed-demo imported Contoso's Azure usage (Azure sync on)
        contoso = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert contoso is not None and contoso.azure_sync
        contoso.reporting = True
        db.session.commit()

    sign_in(page, live_server, oidc_provider, "ada@contoso.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    page.get_by_role("link", name="Azure usage").click()
    expect(page.get_by_role("heading", name="Contoso Ltd · Azure usage")).to_be_visible()

    chart = page.get_by_role("img", name="Azure cost by resource group")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("rg-web-prod")
    table = page.get_by_role("table", name="Azure cost by resource group")
    expect(table.get_by_role("row", name="rg-data")).to_be_visible()
    expect(table).not_to_contain_text("Partner cost")  # an end user sees the price only
    page_total = table.locator("tfoot tr td").last.inner_text()
    for row in table.locator("tbody tr").all():  # the chart writes each group's price
        name = row.locator("th").inner_text()
        expect(chart).to_contain_text(name[:31])
        expect(chart).to_contain_text(row.locator("td").last.inner_text())

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the usage as CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and "cost" not in rows[0]
    total = sum(Decimal(r["price"]) for r in rows)
    assert f"${total:,.2f}" == page_total
    by_group: dict[str, Decimal] = {}
    for r in rows:
        by_group[r["resource_group"]] = by_group.get(r["resource_group"], Decimal(0)) + Decimal(
            r["price"]
        )
    web = table.get_by_role("row", name="rg-web-prod").locator("td").last.inner_text()
    assert f"${by_group['rg-web-prod']:,.2f}" == web
