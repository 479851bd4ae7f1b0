"""The customer report, its CSV, the partner dashboard and the billing export, by role."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Customer, Subscription
from app.services import reports
from tests.support.signin import csrf_token

NW = "/c/cust-northwind"
Client = Callable[[str], FlaskClient]


def _northwind_priced(app: Flask, reporting: bool) -> None:
    """Business Premium at 22.00 a seat (12 seats, 9 assigned), everything else free; one
    snapshot of today."""
    with app.app_context():
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert northwind is not None
        northwind.reporting = reporting
        for sub in northwind.subscriptions:
            sub.unit_price = Decimal("22.00") if sub.pc_id == "sub-nw-bp" else Decimal(0)
        db.session.commit()
        reports.take_snapshot(northwind, datetime.now(UTC).date())


def _products_table(html: str) -> dict[str, list[str]]:
    """The product table's rows as {product: [seats, assigned, free, cost, waste]}."""
    table = html[html.index("<caption>Seats, assigned seats and waste by product") :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        name = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        cells = re.findall(r'<td class="num">(.*?)</td>', row, re.S)
        assert name
        rows[name.group(1).strip()] = [c.strip() for c in cells]
    return rows


def test_an_admin_end_user_sees_seats_assigned_and_waste_with_reporting_on(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _northwind_priced(app, reporting=True)
    max_ = signed_in("max@northwind.example")
    answer = max_.get(f"{NW}/reports")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200
    row = _products_table(html)["Microsoft 365 Business Premium"]
    assert row == ["12", "9", "3", "$264.00", "$66.00"]  # 3 free x 22.00 wasted a month
    assert 'role="img"' in html and "Seats and assigned seats by product</title>" in html
    assert "<dt>Licence waste</dt><dd>$66.00" in html
    assert "style=" not in html[html.index("<main") :]  # the CSP forbids style attributes


def test_money_is_formatted_in_the_readers_locale(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _northwind_priced(app, reporting=True)
    html = (
        signed_in("max@northwind.example")
        .get(f"{NW}/reports", headers={"Accept-Language": "de-DE"})
        .get_data(as_text=True)
    )
    assert _products_table(html)["Microsoft 365 Business Premium"][3] == "264,00\xa0$"


def test_with_reporting_off_an_end_user_finds_no_reports_and_is_told_who_can_switch_them_on(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _northwind_priced(app, reporting=False)
    answer = signed_in("ann@northwind.example").get(f"{NW}/reports")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 404 and answer.mimetype == "text/html"
    assert "Reports are switched off for Northwind Traders" in html
    assert "Fabrikam IT can switch them on" in html  # Northwind's reseller
    assert "$264.00" not in html and "Business Premium" not in html
    csv_answer = signed_in("ann@northwind.example").get(f"{NW}/reports/products.csv")
    assert csv_answer.status_code == 404 and "Business Premium" not in csv_answer.get_data(
        as_text=True
    )
    for staff in ("pat@partner.example", "rita@fabrikam.example"):
        page = signed_in(staff).get(f"{NW}/reports")
        assert page.status_code == 200
        assert _products_table(page.get_data(as_text=True))["Microsoft 365 Business Premium"][
            :3
        ] == ["12", "9", "3"]


def test_another_companys_report_is_not_found(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _northwind_priced(app, reporting=True)
    ada = signed_in("ada@contoso.example")  # Admin on Contoso only
    assert ada.get(f"{NW}/reports").status_code == 404
    assert ada.get(f"{NW}/reports/products.csv").status_code == 404
    assert ada.get("/c/cust-contoso/reports").status_code == 404  # her own: Reporting is off


def test_the_csv_has_the_same_numbers_as_the_table(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _northwind_priced(app, reporting=True)
    max_ = signed_in("max@northwind.example")
    table = _products_table(max_.get(f"{NW}/reports").get_data(as_text=True))
    answer = max_.get(f"{NW}/reports/products.csv")
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert {r["product"] for r in rows} == set(table)
    for r in rows:
        seats, assigned, free, cost, waste = table[r["product"]]
        assert [r["seats"], r["assigned"], r["free"]] == [seats, assigned, free]
        assert f"${Decimal(r['monthly_cost']):,.2f}" == cost
        assert f"${Decimal(r['waste']):,.2f}" == waste


def test_the_history_chart_and_table_follow_the_snapshots_and_the_product_chosen(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _northwind_priced(app, reporting=True)
    with app.app_context():
        bp = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-nw-bp"))
        assert bp is not None and bp.sku_id
        sku = bp.sku_id
    fragment = (
        signed_in("max@northwind.example")
        .get(f"{NW}/reports?product={sku}", headers={"HX-Request": "true"})
        .get_data(as_text=True)
    )
    assert fragment.lstrip().startswith('<section id="history"')
    assert "over time: Microsoft 365 Business Premium</title>" in fragment
    assert re.search(
        r'<td class="num">12</td><td class="num">9</td><td class="num">3</td>', fragment
    )


def test_the_partner_dashboard_lists_each_customers_waste_and_is_staff_only(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    _northwind_priced(app, reporting=True)
    html = signed_in("pat@partner.example").get("/admin/reports").get_data(as_text=True)
    assert "Northwind Traders" in html and "Contoso Ltd" in html
    northwind = html[html.index(">Northwind Traders</a>") :]
    assert "$66.00" in northwind[: northwind.index("</tr>")]
    rita = signed_in("rita@fabrikam.example").get("/admin/reports").get_data(as_text=True)
    assert "Northwind Traders" in rita and "Contoso Ltd" not in rita  # her customers only
    assert signed_in("max@northwind.example").get("/admin/reports").status_code == 404


# --- billing ---------------------------------------------------------------------------------


def _audit_quantity(app: Flask, at: datetime, before: int, after: int) -> None:
    """What the change job records when it applied a quantity change to Business Premium."""
    with app.app_context():
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert northwind is not None
        db.session.add(
            AuditEvent(
                at=at,
                actor="job:change-1",
                customer_id=northwind.id,
                kind="change.quantity",
                object_type="subscription",
                object_id="sub-nw-bp",
                before={"quantity": before, "status": "active"},
                after={"quantity": after, "status": "active"},
                outcome="done",
            )
        )
        db.session.commit()


def test_the_billing_export_prorates_a_mid_month_change_by_day_with_the_agreement_id(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    with app.app_context():
        bp = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-nw-bp"))
        assert bp is not None
        bp.unit_price, bp.quantity = Decimal("22.00"), 15
        bp.creation_date = datetime(2026, 6, 1, tzinfo=UTC)
        added = db.session.scalar(  # the first sync saw it then, with 12 seats
            select(AuditEvent).where(
                AuditEvent.kind == "sync.subscription_added", AuditEvent.object_id == "sub-nw-bp"
            )
        )
        assert added is not None
        added.at = bp.creation_date
        db.session.commit()
    # 12 seats until 20 Nov, 13 from 21 Nov; 15 from 3 Dec (after the month: not billed in it)
    _audit_quantity(app, datetime(2026, 11, 21, 9, 30, tzinfo=UTC), 12, 13)
    _audit_quantity(app, datetime(2026, 12, 3, 8, 0, tzinfo=UTC), 13, 15)
    pat = signed_in("pat@partner.example")
    page = pat.get("/admin/billing?customer=cust-northwind").get_data(as_text=True)
    saved = pat.post(
        "/admin/billing/cust-northwind/sub-nw-bp",
        data={"csrf_token": csrf_token(page), "billed": "y", "agreement_id": "CW-4711"},
    )
    assert saved.status_code == 303
    answer = pat.get("/admin/billing/export.csv?month=2026-11")
    assert answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))
    assert [r["subscription_id"] for r in rows] == ["sub-nw-bp"]  # only what is billed
    row = rows[0]
    assert row["agreement_id"] == "CW-4711"
    assert (row["opening_quantity"], row["closing_quantity"]) == ("12", "13")
    assert row["changes"] == "2026-11-21:13"
    # 22.00 x (12 seats x 20 days + 13 seats x 10 days) / 30 days = 271.333… → 271.33
    assert (row["seat_days"], row["charge"]) == ("370", "271.33")
    data = pat.get("/admin/billing/export.json?month=2026-11").get_json()
    assert data["lines"][0]["charge"] == "271.33"
    assert data["lines"][0]["agreement_id"] == "CW-4711"


def test_send_all_subscriptions_includes_a_subscription_that_appears_after_it_was_switched_on(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    with app.app_context():
        contoso = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert contoso is not None
        contoso.send_all_subscriptions = True
        db.session.commit()
        db.session.add(  # as the sync adds a subscription bought later
            Subscription(
                customer_id=contoso.id,
                pc_id="sub-co-new",
                offer_id="CFQ7TTC0LH18:0001",
                offer_name="Microsoft 365 Business Basic",
                quantity=4,
                status="active",
                term_duration="P1M",
                billing_cycle="monthly",
                creation_date=datetime.now(UTC),
                term_start=datetime.now(UTC),
                commitment_end=date.today(),
                unit_price=Decimal("6.00"),
            )
        )
        db.session.commit()
    rows = list(
        csv.DictReader(
            io.StringIO(
                signed_in("pat@partner.example")
                .get(f"/admin/billing/export.csv?month={date.today():%Y-%m}")
                .get_data(as_text=True)
            )
        )
    )
    ids = {r["subscription_id"] for r in rows}
    assert "sub-co-new" in ids and "sub-co-bs" in ids  # every Contoso subscription, new too
    assert not any(i.startswith("sub-nw-") for i in ids)  # Northwind sends none


def test_only_partner_admins_can_download_the_billing_export(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    with app.app_context():
        for sub in db.session.scalars(select(Subscription)):
            sub.billing_enabled = True
        db.session.commit()
    for person, status in (
        ("vic@northwind.example", 404),  # View end user
        ("max@northwind.example", 404),  # Admin end user
        ("rita@fabrikam.example", 403),  # reseller admin
    ):
        client = signed_in(person)
        for url in ("/admin/billing/export.csv?month=2026-11", "/admin/billing/export.json"):
            answer = client.get(url)
            assert answer.status_code == status, (person, url)
            assert "sub-nw-bp" not in answer.get_data(as_text=True)
    assert signed_in("pat@partner.example").get("/admin/billing/export.json").status_code == 200


def test_an_agreement_id_a_spreadsheet_would_run_as_a_formula_is_quoted_in_the_csv(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    pat = signed_in("pat@partner.example")
    page = pat.get("/admin/billing?customer=cust-northwind").get_data(as_text=True)
    pat.post(
        "/admin/billing/cust-northwind/sub-nw-bp",
        data={"csrf_token": csrf_token(page), "billed": "y", "agreement_id": "=1+2"},
    )
    text = pat.get(f"/admin/billing/export.csv?month={date.today():%Y-%m}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["agreement_id"] for r in rows] == ["'=1+2"]
    json_lines = pat.get("/admin/billing/export.json").get_json()["lines"]
    assert [line["agreement_id"] for line in json_lines] == ["=1+2"]  # JSON keeps it as typed
