"""An Admin end user opens the company report in Chromium: the chart, its table, its CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from app.services import reports
from tests.e2e.test_licenses_journey import sign_in
from tests.support.processes import OidcProvider


def test_an_admin_opens_the_report_sees_the_chart_and_its_table_and_downloads_the_csv(
    page: Page,
    live_server: str,
    oidc_provider: OidcProvider,
    app: Flask,
    demo: dict[str, int],
) -> None:
    with app.app_context():
        contoso = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert contoso is not None
        contoso.reporting = True
        for sub in contoso.subscriptions:  # Business Standard: 30 seats, 28 assigned
            sub.unit_price = Decimal("12.50") if sub.pc_id == "sub-co-bs" else Decimal(0)
        db.session.commit()
        reports.take_snapshot(contoso, datetime.now(UTC).date())

    sign_in(page, live_server, oidc_provider, "ada@contoso.example")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Reports").click()
    expect(page.get_by_role("heading", name="Contoso Ltd · Reports")).to_be_visible()

    chart = page.get_by_role("img", name="Seats and assigned seats by product")
    expect(chart).to_be_visible()
    expect(chart).to_contain_text("30 seats")
    table = page.get_by_role("table", name="Seats, assigned seats and waste by product")
    row = table.get_by_role("row", name="Microsoft 365 Business Standard")
    expect(row).to_contain_text("$375.00")  # 30 x 12.50
    expect(row).to_contain_text("$25.00")  # 2 free x 12.50
    total = table.locator("tfoot tr")
    page_total = total.locator("td").nth(4).inner_text()  # the waste column of the total

    with page.expect_download() as download:
        page.get_by_role("link", name="Download this table as CSV").first.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    waste = sum(Decimal(r["waste"]) for r in rows)
    assert f"${waste:,.2f}" == page_total == "$25.00"
    bs = next(r for r in rows if r["product"] == "Microsoft 365 Business Standard")
    assert (bs["seats"], bs["assigned"], bs["monthly_cost"]) == ("30", "28", "375.00")
