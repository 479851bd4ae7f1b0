"""Azure usage, the printable monthly report and who finds reports at all (404 without
Reporting), by role."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select

from app.extensions import db
from app.models import AzureUsage, Customer

CO = "/c/cust-contoso"
Client = Callable[[str], FlaskClient]
REPORT_ROUTES = (
    "/reports",
    "/reports/products.csv",
    "/reports/history.csv",
    "/reports/renewals.csv",
    "/reports/azure",
    "/reports/azure.csv",
    "/reports/monthly",
    "/reports/monthly?month=2026-10",
)


def _contoso(app: Flask, **changes: object) -> None:
    with app.app_context():
        contoso = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert contoso is not None
        for key, value in changes.items():
            setattr(contoso, key, value)
        db.session.commit()


def _table(html: str, caption: str) -> dict[str, list[str]]:
    """A table's body rows and its total as {row header: [cells]}."""
    table = html[html.index(f"<caption>{caption}") :]
    table = table[: table.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if name:
            rows[name.group(1).strip()] = [
                c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            ]
    return rows


@pytest.mark.parametrize("route", REPORT_ROUTES)
def test_a_view_user_without_reporting_finds_no_reports(
    app: Flask, demo: dict[str, int], signed_in: Client, route: str
) -> None:
    _contoso(app, reporting=False)
    answer = signed_in("ada@contoso.example").get(CO + route)
    assert answer.status_code == 404
    assert "$" not in answer.get_data(as_text=True).split("<main", 1)[-1]


def test_without_reporting_the_page_says_who_can_switch_it_on_and_the_nav_has_no_reports(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _contoso(app, reporting=False)
    ada = signed_in("ada@contoso.example")
    html = ada.get(f"{CO}/reports/azure").get_data(as_text=True)
    assert "Reports are switched off for Contoso Ltd" in html
    assert "Contoso Cloud Partner can switch them on" in html
    licenses = ada.get(f"{CO}/licenses").get_data(as_text=True)
    nav = licenses[licenses.index('<nav aria-label="Main">') : licenses.index("</nav>")]
    assert "/reports" not in nav
    _contoso(app, reporting=True)
    licenses = ada.get(f"{CO}/licenses").get_data(as_text=True)
    nav = licenses[licenses.index('<nav aria-label="Main">') : licenses.index("</nav>")]
    assert f'href="{CO}/reports"' in nav


def test_partner_staff_see_cost_price_and_margin_and_the_csv_adds_up_to_the_page(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    pat = signed_in("pat@partner.example")
    answer = pat.get(f"{CO}/reports/azure")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert (
        'role="img"' in html
        and '<title id="azure-chart-title">Azure cost by resource group' in html
    )
    assert "style=" not in html[html.index("<main") :]
    month = re.search(r'<option value="(\d{4}-\d\d)" selected>', html)
    assert month
    groups = _table(html, "Azure cost by resource group")
    assert set(groups) >= {"rg-web-prod", "rg-data", "Total"}
    cost, price, margin = groups["Total"]
    rows = list(
        csv.DictReader(
            io.StringIO(
                pat.get(f"{CO}/reports/azure.csv?month={month.group(1)}").get_data(as_text=True)
            )
        )
    )
    assert {"cost", "price", "margin"} <= set(rows[0])
    for column, shown in (("cost", cost), ("price", price), ("margin", margin)):
        assert f"${sum(Decimal(r[column]) for r in rows):,.2f}" == shown


def test_end_users_see_the_price_only(app: Flask, demo: dict[str, int], signed_in: Client) -> None:
    _contoso(app, reporting=True)
    ada = signed_in("ada@contoso.example")
    html = ada.get(f"{CO}/reports/azure").get_data(as_text=True)
    assert "Partner cost" not in html and "Margin" not in html
    groups = _table(html, "Azure cost by resource group")
    assert len(groups["Total"]) == 1
    text = ada.get(f"{CO}/reports/azure.csv").get_data(as_text=True)
    header = next(csv.reader(io.StringIO(text)))
    assert "price" in header and "cost" not in header and "margin" not in header


def test_a_mark_up_of_17_65_percent_shows_a_cost_of_100_as_117_65(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _contoso(app, azure_markup_percent=Decimal("17.65"))
    with app.app_context():
        contoso = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert contoso is not None
        rows = list(
            db.session.scalars(select(AzureUsage).where(AzureUsage.customer_id == contoso.id))
        )
        latest = max(row.month for row in rows)
        keep = next(row for row in rows if row.month == latest)
        for row in rows:
            if row is not keep:
                db.session.delete(row)
        keep.cost = Decimal("100.00")
        db.session.commit()
    html = signed_in("pat@partner.example").get(f"{CO}/reports/azure").get_data(as_text=True)
    assert _table(html, "Azure cost by resource group")["Total"] == ["$100.00", "$117.65", "$17.65"]


def test_azure_sync_off_and_no_usage_yet_say_what_to_do(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    pat = signed_in("pat@partner.example")
    _contoso(app, azure_sync=False)
    html = pat.get(f"{CO}/reports/azure").get_data(as_text=True)
    assert "Azure sync is off for Contoso Ltd" in html
    assert "Contoso Cloud Partner can switch it on" in html
    assert pat.get(f"{CO}/reports/azure.csv").status_code == 404
    _contoso(app, azure_sync=True)
    with app.app_context():
        db.session.execute(delete(AzureUsage))
        db.session.commit()
    html = pat.get(f"{CO}/reports/azure").get_data(as_text=True)
    assert "No Azure usage has been imported for Contoso Ltd yet" in html
    assert "The next import runs on" in html and "UTC" in html


def test_the_monthly_report_prints_with_the_partners_name_and_its_sections(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    pat = signed_in("pat@partner.example")
    answer = pat.get(f"{CO}/reports/monthly")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Prepared by <strong>Contoso Cloud Partner</strong> for Contoso Ltd" in html
    for heading in ("Seats and cost by product", "Renewals and ends of term", "Azure usage"):
        assert heading in html
    assert "Microsoft 365 Business Standard" in html
    assert 'class="filters no-print"' in html
    assert "style=" not in html[html.index("<main") :]
    refused = pat.get(f"{CO}/reports/monthly?month=last-year")
    assert refused.status_code == 400 and "The month must look like 2026-11." in refused.get_data(
        as_text=True
    )
    assert app.static_folder is not None
    css = (Path(app.static_folder) / "css" / "seatwise.css").read_text(encoding="utf-8")
    assert "@media print" in css and ".site-header, .site-footer, .no-print" in css


def test_a_resellers_customer_gets_the_monthly_report_under_the_resellers_name(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    html = (
        signed_in("rita@fabrikam.example")
        .get("/c/cust-northwind/reports/monthly")
        .get_data(as_text=True)
    )
    assert "Prepared by <strong>Fabrikam IT</strong> for Northwind Traders" in html
    assert "Azure usage" not in html  # Northwind has Azure sync off
