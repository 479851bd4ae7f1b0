"""The customer list: what staff see, search and filters, and a query count that does not grow."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, insert, select

from app.extensions import db
from app.models import Customer, Partner, Reseller, Subscription

LIST = "/admin/customers"
HX = {"HX-Request": "true"}


@contextmanager
def counted_queries(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement the app runs inside the block."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def add_customers(app: Flask, count: int, *, start: int = 0) -> None:
    """Insert `count` customers (each with two subscriptions, one active) in bulk."""
    now = datetime.now(UTC)
    with app.app_context():
        partner_id = db.session.scalar(select(Partner.id))
        reseller = Reseller(partner_id=partner_id, pc_id="res-bulk", name="Bulk Reseller")
        if start == 0:
            db.session.add(reseller)
            db.session.flush()
        reseller_id = db.session.scalar(select(Reseller.id).where(Reseller.pc_id == "res-bulk"))
        rows = [
            {
                "partner_id": partner_id,
                "reseller_id": reseller_id if i % 2 else None,
                "pc_id": f"bulk-{i:05d}",
                "name": f"Bulk Customer {i:05d}",
                "domain": f"bulk{i}.example",
                "tenant_id": f"00000000-0000-4000-8000-{i:012d}",
                "self_service": i % 3 == 0,
                "last_synced_at": now if i % 5 else None,
                "last_sync_error": "Partner Center answered 500" if i % 7 == 0 else None,
                "created_at": now,
            }
            for i in range(start, start + count)
        ]
        db.session.execute(insert(Customer), rows)
        ids = dict(
            db.session.execute(
                select(Customer.pc_id, Customer.id).where(Customer.pc_id.like("bulk-%"))
            ).all()
        )
        subs = [
            {
                "customer_id": ids[row["pc_id"]],
                "pc_id": f"{row['pc_id']}-{n}",
                "offer_id": "CFQ7TTC0LCHC:0002",
                "offer_name": "Microsoft 365 Business Premium",
                "quantity": 10 + n,
                "status": "active" if n == 0 else "suspended",
                "term_duration": "P1Y",
                "billing_cycle": "monthly",
                "creation_date": now,
                "term_start": now,
                "commitment_end": date(2030, 1, 1),
                "unit_price": Decimal("22.00"),
                "synced_at": now,
                "version": 1,
            }
            for row in rows
            for n in (0, 1)
        ]
        db.session.execute(insert(Subscription), subs)
        db.session.commit()


def test_partner_admin_sees_every_customer_with_reseller_sync_portal_seats_and_cost(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    pat = signed_in("pat@partner.example")
    page = pat.get(LIST)
    assert page.status_code == 200
    assert "HX-Request" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    assert "Northwind Traders" in html and "Contoso Ltd" in html
    assert 'href="/admin/customers/cust-northwind"' in html
    assert "Fabrikam IT" in html and "Synced" in html
    assert "2 customers" in html
    row = html[html.index("Northwind Traders") :]
    row = row[: row.index("</tr>")]
    assert "On" in row  # the demo turns the portal on


def test_seats_and_cost_sum_only_active_subscriptions(
    app: Flask, partner_admin: FlaskClient
) -> None:
    add_customers(app, 3)
    html = partner_admin.get(LIST, query_string={"q": "Bulk Customer 00001"}).get_data(as_text=True)
    row = html[html.index("Bulk Customer 00001</a>") :]
    row = row[: row.index("</tr>")]
    assert '<td class="num">10</td>' in row  # the suspended 11 seats do not count
    assert '<td class="num">220.00</td>' in row
    assert "Bulk Reseller" in row


def test_search_and_filters_narrow_the_list(app: Flask, partner_admin: FlaskClient) -> None:
    add_customers(app, 30)

    def names(**query: str) -> set[str]:
        html = partner_admin.get(LIST, query_string=query).get_data(as_text=True)
        return {f"bulk-{n:05d}" for n in range(30) if f"Bulk Customer {n:05d}</a>" in html}

    assert names(q="customer 0001") == {f"bulk-{n:05d}" for n in range(10, 20)}
    assert names(q="bulk7.example") == {"bulk-00007"}
    assert names(q="%") == set()  # LIKE wildcards are searched for, not obeyed
    assert names(q="bulk_") == set()
    assert names(q="CUSTOMER 00029") == {"bulk-00029"}  # any case
    assert names(q="bulk-00003") == {"bulk-00003"}  # the Partner Center id, exactly
    assert names(q="customer 0001", portal="on") == {"bulk-00012", "bulk-00015", "bulk-00018"}
    assert names(reseller="direct") == {f"bulk-{n:05d}" for n in range(0, 30, 2)}
    assert names(reseller="res-bulk") == {f"bulk-{n:05d}" for n in range(1, 30, 2)}
    assert names(portal="on") == {f"bulk-{n:05d}" for n in range(0, 30, 3)}
    assert names(portal="off") == {f"bulk-{n:05d}" for n in range(30) if n % 3}
    assert names(sync="error") == {f"bulk-{n:05d}" for n in range(0, 30, 7)}
    assert names(sync="never") == {f"bulk-{n:05d}" for n in range(30) if n % 5 == 0 and n % 7}
    failed = partner_admin.get(LIST, query_string={"sync": "error"}).get_data(as_text=True)
    assert "Sync failed" in failed and "Partner Center answered 500" in failed


def test_an_htmx_search_returns_only_the_table_and_a_normal_one_the_page(
    app: Flask, partner_admin: FlaskClient
) -> None:
    add_customers(app, 3)
    fragment = partner_admin.get(LIST, query_string={"q": "00002"}, headers=HX)
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="customer-table"')
    assert "Bulk Customer 00002" in html and "Bulk Customer 00001" not in html
    assert "HX-Request" in fragment.headers["Vary"]
    boosted = partner_admin.get(LIST, headers={**HX, "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)  # a boosted link wants the whole page
    page = partner_admin.get(LIST, query_string={"q": "00002"}).get_data(as_text=True)
    assert "<html" in page and 'id="customer-table"' in page


def test_pages_hold_fifty_customers_and_link_to_the_next(
    app: Flask, partner_admin: FlaskClient
) -> None:
    add_customers(app, 120)
    first = partner_admin.get(LIST).get_data(as_text=True)
    assert "1–50 of 120 customers" in first
    assert "Page 1 of 3" in first and "page=2" in first
    last = partner_admin.get(LIST, query_string={"page": "3", "portal": "off"})
    html = last.get_data(as_text=True)
    assert "of 80 customers" in html and "portal=off" in html
    assert partner_admin.get(LIST, query_string={"page": "999"}).status_code == 200
    assert partner_admin.get(LIST, query_string={"page": "x"}).status_code == 200


def test_a_page_costs_the_same_few_queries_with_10_or_10000_customers(
    app: Flask, partner_admin: FlaskClient
) -> None:
    def queries_for_a_page(**query: str) -> int:
        with counted_queries(app) as statements:
            answer = partner_admin.get(LIST, query_string=query)
        assert answer.status_code == 200
        return len(statements)

    add_customers(app, 10)
    small = queries_for_a_page()
    small_search = queries_for_a_page(q="bulk", page="1")
    add_customers(app, 9990, start=10)
    large = queries_for_a_page()
    large_search = queries_for_a_page(q="bulk", page="150")
    assert small == large <= 10
    assert small_search == large_search <= 10
    assert "Bulk Customer 07450" in partner_admin.get(
        LIST, query_string={"q": "bulk", "page": "150"}
    ).get_data(as_text=True)


def test_reseller_admin_sees_only_the_customers_of_their_reseller(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    rita = signed_in("rita@fabrikam.example")
    html = rita.get(LIST).get_data(as_text=True)
    assert "Northwind Traders" in html and "Contoso Ltd" not in html
    assert 'name="reseller"' not in html  # no reseller filter for a reseller
    assert "Contoso Ltd" not in rita.get(LIST, query_string={"q": "Contoso"}).get_data(as_text=True)
    assert rita.get("/admin/customers/cust-contoso").status_code == 404
    assert rita.get("/admin/customers/cust-northwind").status_code == 200


def test_people_who_are_not_staff_do_not_find_the_list(
    signed_in: Callable[[str], FlaskClient], client: FlaskClient, demo: dict[str, int]
) -> None:
    assert signed_in("ada@contoso.example").get(LIST).status_code == 404
    assert signed_in("ann@northwind.example").get(LIST).status_code == 404
    assert client.get(LIST).status_code == 302  # to sign-in


def test_the_list_shows_a_change_on_the_next_view(app: Flask, partner_admin: FlaskClient) -> None:
    """The table and the filters are kept between views, but never past a change."""
    add_customers(app, 3)

    def row(query: dict[str, str]) -> str:
        html = partner_admin.get(LIST, query_string=query).get_data(as_text=True)
        found = html[html.index("Bulk Customer 00001</a>") :]
        return found[: found.index("</tr>")]

    for _ in range(2):  # the second view is the kept one
        assert '<td class="num">10</td>' in row({"q": "Bulk Customer 00001"})
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "bulk-00001"))
        assert customer is not None
        active = db.session.scalar(
            select(Subscription).where(
                Subscription.customer_id == customer.id, Subscription.status == "active"
            )
        )
        assert active is not None
        active.quantity = 12
        reseller = db.session.scalar(select(Reseller).where(Reseller.pc_id == "res-bulk"))
        assert reseller is not None
        reseller.name = "Renamed Reseller"
        db.session.commit()
    changed = row({"q": "Bulk Customer 00001"})
    assert '<td class="num">12</td>' in changed and "Renamed Reseller" in changed
    form = partner_admin.get(LIST).get_data(as_text=True)
    assert '<option value="res-bulk">Renamed Reseller</option>' in form
    # Another page of the same list is its own table.
    assert "Bulk Customer 00002" in partner_admin.get(LIST, query_string={"q": "00002"}).get_data(
        as_text=True
    )
