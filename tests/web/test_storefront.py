"""The storefront pages: closed without a profile, offers and prices by term and billing,
refusals of crafted and bad forms (422, nothing written), and an order from cart to done."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import (
    AuditEvent,
    CatalogueItem,
    ChangeRequest,
    Customer,
    ProfileOffer,
    Subscription,
)
from app.services import catalogue, profiles
from app.views.storefront import _Sections
from tests.support.processes import Emulator
from tests.support.queries import statements_of_get
from tests.support.signin import csrf_token
from tests.support.storefront import BP, E3, VISIO, open_store, staff

CO = "/c/cust-contoso"
NW = "/c/cust-northwind"


def changes() -> int:
    return int(db.session.scalar(select(func.count()).select_from(ChangeRequest)) or 0)


def add(client: FlaskClient, store: str, **fields: str) -> tuple[int, str]:
    page = client.get(f"{store}/store").get_data(as_text=True)
    answer = client.post(
        f"{store}/store/cart",
        data={"csrf_token": csrf_token(page), **fields},
        headers={"HX-Request": "true"},
    )
    return answer.status_code, answer.get_data(as_text=True)


@pytest.fixture
def contoso_store(app: Flask, demo: dict[str, int]) -> None:
    """Contoso's profile: Business Premium at cost + 10 %, Visio at a fixed price, 1 to 50."""
    with app.app_context():
        open_store(
            "cust-contoso",
            {
                BP: {"amount": "10"},
                VISIO: {"price_kind": "fixed", "amount": "20", "max_quantity": "50"},
            },
        )


def test_without_a_profile_the_storefront_is_closed_and_says_who_to_ask(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(f"{CO}/store").get_data(as_text=True)
    assert "The storefront is closed for Contoso Ltd" in page
    assert "Ask Contoso Cloud Partner to open the storefront" in page
    assert "Add to cart" not in page
    ann = signed_in("ann@northwind.example")
    assert "Ask Fabrikam IT to open" in ann.get(f"{NW}/store").get_data(as_text=True)


def test_prices_name_their_term_and_billing_and_filters_narrow_them(
    signed_in: Callable[[str], FlaskClient], contoso_store: None
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(f"{CO}/store", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    # Business Premium: $23.10 billed monthly (+5 %) + the partner's 10 % = $25.41.
    assert "$25.41 per seat per month — annual term, billed monthly (+5 %)" in page
    assert "$24.20 per seat per month — annual term, paid upfront yearly" in page
    assert "Visio Plan 2" in page and "Microsoft 365 E3" not in page  # only the profile's
    assert "$20.00 per seat per month — annual term, paid upfront yearly" in page  # fixed
    # The reader's locale: a German reader sees euros' formatting rules applied to dollars.
    german = ada.get(f"{CO}/store", headers={"Accept-Language": "de-DE"}).get_data(as_text=True)
    assert "25,41\xa0$ per seat per month" in german
    # Filters, as htmx asks for them: only the offers' partial comes back.
    part = ada.get(f"{CO}/store?billing=annual&q=premium", headers={"HX-Request": "true"})
    html = part.get_data(as_text=True)
    assert "<html" not in html and 'id="offers"' in html
    assert "$24.20" in html and "$25.41 per seat" not in html and "Visio" not in html


def test_a_crafted_post_for_an_offer_outside_the_profile_is_refused_and_nothing_written(
    app: Flask, signed_in: Callable[[str], FlaskClient], contoso_store: None
) -> None:
    ada = signed_in("ada@contoso.example")
    status, html = add(ada, CO, offer_id=E3, quantity="5", option="P1Y/monthly")
    assert status == 422
    assert "This product is not offered to your company" in html
    assert "The cart is empty" in ada.get(f"{CO}/store").get_data(as_text=True)
    page = ada.get(f"{CO}/store/checkout").get_data(as_text=True)
    answer = ada.post(
        f"{CO}/store/orders", data={"csrf_token": csrf_token(page), "idempotency_key": "k" * 32}
    )
    assert answer.status_code == 422 and "The cart is empty" in answer.get_data(as_text=True)
    with app.app_context():
        assert changes() == 0


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("", "Enter the number of seats."),
        ("-1", "Enter a whole number of seats from 1 to 100,000."),
        ("1.5", "Enter a whole number of seats from 1 to 100,000."),
        ("1e9", "Enter a whole number of seats from 1 to 100,000."),
        ("51", "Visio Plan 2 can be bought here up to 50 seats at a time"),
    ],
)
def test_bad_quantities_are_refused_with_a_message_and_nothing_is_written(
    app: Flask,
    signed_in: Callable[[str], FlaskClient],
    contoso_store: None,
    quantity: str,
    message: str,
) -> None:
    ada = signed_in("ada@contoso.example")
    status, html = add(ada, CO, offer_id=VISIO, quantity=quantity, option="P1Y/annual")
    assert status == 422 and message in html
    assert "The cart is empty" in html
    with app.app_context():
        assert changes() == 0


def test_view_and_modify_users_see_prices_but_cannot_buy(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    with app.app_context():
        open_store("cust-northwind", {BP: {}})
    for who in ("vic@northwind.example", "ann@northwind.example"):
        user = signed_in(who)
        page = user.get(f"{NW}/store").get_data(as_text=True)
        assert "$23.10 per seat per month — annual term, billed monthly (+5 %)" in page
        assert "Add to cart" not in page and "Only an Admin of Northwind Traders can buy" in page
        answer = user.post(
            f"{NW}/store/cart",
            data={"csrf_token": csrf_token(page), "offer_id": BP, "quantity": "1"},
        )
        assert answer.status_code == 403


def test_an_admin_reviews_the_totals_and_commitment_confirms_and_the_order_is_bought(
    app: Flask,
    signed_in: Callable[[str], FlaskClient],
    contoso_store: None,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ada = signed_in("ada@contoso.example")
    status, html = add(ada, CO, offer_id=BP, quantity="5", option="P1Y/monthly")
    assert status == 200 and 'id="cart"' in html and "<html" not in html  # the cart partial
    assert "Microsoft 365 Business Premium" in html and "$127.05" in html  # 5 x 25.41
    review = ada.get(f"{CO}/store/checkout", headers={"Accept-Language": "en-US"})
    page = review.get_data(as_text=True)
    assert "5 seats of Microsoft 365 Business Premium" in page
    assert "$127.05" in page and "$1,524.60" in page  # per month, for the 12-month term
    assert re.search(
        r"Annual term: seats can be reduced only within 7 days of purchase \(until .+ UTC\); "
        r"cancellable until .+ UTC\.",
        page,
    )
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key is not None
    data = {"csrf_token": csrf_token(page), "idempotency_key": key.group(1)}
    first = ada.post(f"{CO}/store/orders", data=data)
    assert first.status_code == 303
    again = ada.post(f"{CO}/store/orders", data=data)  # a double click: the same order
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    with app.app_context():
        assert changes() == 1
    pending = ada.get(first.headers["Location"]).get_data(as_text=True)
    assert "Ordering: Buy 5 seats of Microsoft 365 Business Premium" in pending
    assert 'hx-trigger="every 1s"' in pending
    work()
    done = ada.get(first.headers["Location"], headers={"HX-Request": "true"})
    text = done.get_data(as_text=True)
    assert "Done: Bought 5 seats of Microsoft 365 Business Premium" in text
    assert "every 1s" not in text and 'id="live"' in text  # stops polling, announces once
    with app.app_context():
        sub = db.session.scalar(
            select(Subscription).where(Subscription.offer_id == BP, Subscription.quantity == 5)
        )
        assert sub is not None
        pc_id = sub.pc_id
    licenses = ada.get(f"{CO}/licenses").get_data(as_text=True)
    assert f'id="sub-{pc_id}"' in licenses
    # The storefront lists the order, linked to its page, with how it ended.
    store = ada.get(f"{CO}/store").get_data(as_text=True)
    recent = store[store.index('id="orders-heading"') :]
    assert f'href="{first.headers["Location"]}"' in recent
    assert "Buy 5 seats of Microsoft 365 Business Premium" in recent and "— done" in recent
    # The partner's console lists the order with the other jobs, and the audit log has it.
    pat = signed_in("pat@partner.example")
    jobs = pat.get("/admin/jobs/").get_data(as_text=True)
    assert "Buy 5 seats of Microsoft 365 Business Premium" in jobs
    with app.app_context():
        kinds = set(
            db.session.scalars(select(AuditEvent.kind).where(AuditEvent.customer_id.is_not(None)))
        )
        assert {"order.requested", "order.bought"} <= kinds


def test_a_reseller_admin_manages_profiles_for_its_own_customers_only(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    with app.app_context():
        catalogue.refresh()
        partners = profiles.create_profile(staff(), "Partner's own")
        partners_id = partners.id
    rita = signed_in("rita@fabrikam.example")  # reseller admin of Fabrikam IT (Northwind)
    page = rita.get("/admin/profiles").get_data(as_text=True)
    assert "Partner's own" not in page and "Refresh the catalogue" not in page
    token = csrf_token(page)
    made = rita.post("/admin/profiles", data={"csrf_token": token, "name": "Fabrikam basics"})
    assert made.status_code == 303
    profile_url = made.headers["Location"]
    added = rita.post(
        f"{profile_url}/offers",
        data={"csrf_token": token, "offer_id": BP, "price_kind": "margin", "amount": "12"},
    )
    assert added.status_code == 303
    given = rita.post(
        f"{profile_url}/customers", data={"csrf_token": token, "customer": "cust-northwind"}
    )
    assert given.status_code == 303
    assert "Northwind Traders" in rita.get(profile_url).get_data(as_text=True)
    # Not the partner's profiles, not another reseller's customers.
    assert rita.get(f"/admin/profiles/{partners_id}").status_code == 404
    other = rita.post(
        f"{profile_url}/customers", data={"csrf_token": token, "customer": "cust-contoso"}
    )
    assert other.status_code == 404
    assert rita.post("/admin/catalogue/refresh", data={"csrf_token": token}).status_code == 403
    ann = signed_in("ann@northwind.example")
    store = ann.get(f"{NW}/store").get_data(as_text=True)
    assert "$25.87 per seat per month — annual term, billed monthly (+5 %)" in store  # 23.10+12 %
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None and profiles.profile_of(customer) is None


def test_the_storefront_reads_a_constant_number_of_statements_however_many_offers(
    app: Flask, signed_in: Callable[[str], FlaskClient], contoso_store: None
) -> None:
    """Issue 14 (the page targets of bench.pages): 2 offers or 1,002, with a line in the
    cart, the page runs the same statements (the profile and the catalogue are read once)."""
    ada = signed_in("ada@contoso.example")
    code, _ = add(ada, CO, offer_id=BP, quantity="3", option="P1Y/monthly")
    assert code == 200
    few = statements_of_get(app, ada, f"{CO}/store")
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None
        profile = profiles.profile_of(customer)
        assert profile is not None
        bulk = [f"BULK{n:04d}:0001" for n in range(1_000)]
        db.session.execute(
            CatalogueItem.__table__.insert(),
            [
                {
                    "market": "US",
                    "offer_id": offer,
                    "catalog_item_id": f"{offer}:0001",
                    "product_id": offer.split(":")[0],
                    "title": f"Bulk product {offer}",
                    "prerequisites": [],
                    "prices": [
                        {"term": "P1Y", "billing": "annual", "monthly": "4.00", "currency": "USD"}
                    ],
                }
                for offer in bulk
            ],
        )
        db.session.execute(
            ProfileOffer.__table__.insert(),
            [{"profile_id": profile.id, "offer_id": o, "margin_percent": 10} for o in bulk],
        )
        db.session.commit()
    many = statements_of_get(app, ada, f"{CO}/store")
    assert many == few
    page = ada.get(f"{CO}/store").get_data(as_text=True)
    assert page.count('<tr id="offer-') == 1_002 and "Bulk product BULK0999:0001" in page
    assert "Business Premium" in page[page.index('id="cart"') :]  # the cart still priced


def prices_of(page: str, offer_id: str) -> str:
    """The text of one offer's row."""
    start = page.index(f'<tr id="offer-{offer_id.replace(":", "-")}"')
    return page[start : page.index("</tr>", start)]


def test_the_partners_changes_show_on_the_next_page_view(
    app: Flask, signed_in: Callable[[str], FlaskClient], contoso_store: None
) -> None:
    """The offers are kept between page views: a change of the profile, of its offers or of
    the catalogue shows on the very next one (the whole page and the filtered partial)."""
    ada = signed_in("ada@contoso.example")
    en = {"Accept-Language": "en-US"}
    page = ada.get(f"{CO}/store", headers=en).get_data(as_text=True)
    assert "$25.41 per seat per month — annual term, billed monthly" in prices_of(page, BP)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None
        profile = profiles.profile_of(customer)
        assert profile is not None
        # The partner admin raises the margin and lowers Visio's maximum.
        profiles.set_offer(staff(), profile, profiles.OfferTerms(BP, "margin", "20"))
        profiles.set_offer(
            staff(), profile, profiles.OfferTerms(VISIO, "fixed", "20", max_quantity="40")
        )
    page = ada.get(f"{CO}/store", headers=en).get_data(as_text=True)
    row = prices_of(page, BP)
    assert "$27.72 per seat per month — annual term, billed monthly" in row  # 23.10 + 20 %
    assert "$25.41" not in row
    assert 'max="40"' in prices_of(page, VISIO) and "1 to 40 seats" in prices_of(page, VISIO)
    part = ada.get(f"{CO}/store?billing=annual", headers={"HX-Request": "true", **en})
    assert "$26.40 per seat per month" in part.get_data(as_text=True)  # 22.00 + 20 %
    with app.app_context():
        # The catalogue's refresh changes Microsoft's price (written without the ORM).
        db.session.execute(
            update(CatalogueItem)
            .where(CatalogueItem.offer_id == BP)
            .values(
                prices=[
                    {"term": "P1Y", "billing": "annual", "monthly": "30.00", "currency": "USD"}
                ],
                publisher="Fabrikam Software",
            )
        )
        db.session.commit()
    page = ada.get(f"{CO}/store", headers=en).get_data(as_text=True)
    row = prices_of(page, BP)
    assert "$36.00 per seat per month — annual term, paid upfront yearly" in row
    assert "billed monthly" not in row and "Fabrikam Software · " in row
    assert '<option value="Fabrikam Software">Fabrikam Software</option>' in page  # a filter
    # The filters' form shows the filters chosen.
    for query in ("visio", "premium"):
        page = ada.get(f"{CO}/store?q={query}&publisher=Fabrikam+Software").get_data(as_text=True)
        assert f'name="q" value="{query}"' in page
        assert '<option value="Fabrikam Software" selected>' in page
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None
        profile = profiles.profile_of(customer)
        assert profile is not None
        profiles.remove_offer(staff(), profile, VISIO)
    page = ada.get(f"{CO}/store", headers=en).get_data(as_text=True)
    assert "Visio Plan 2" not in page and "1 of 1 products" in page
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None
        profiles.assign(staff(), customer, None)
    page = ada.get(f"{CO}/store", headers=en).get_data(as_text=True)
    assert "The storefront is closed for Contoso Ltd" in page and "Add to cart" not in page


def test_kept_offers_show_each_reader_their_role_and_their_own_form_tokens(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    """Northwind's offers seen by an Admin and by a user who may only look, in turn: each
    sees what their role allows, and each page's forms carry that session's CSRF token."""
    with app.app_context():
        open_store("cust-northwind", {BP: {}})
    ann = signed_in("ann@northwind.example")
    admins = [signed_in("max@northwind.example"), signed_in("max@northwind.example")]
    tokens = set()
    for admin in admins:
        assert "Add to cart" not in ann.get(f"{NW}/store").get_data(as_text=True)
        page = admin.get(f"{NW}/store").get_data(as_text=True)
        assert "Add to cart" in page
        mine = set(re.findall(r'name="csrf_token" value="([^"]+)"', page))
        assert mine == {csrf_token(page)} == set(re.findall(r'"X-CSRFToken": "([^"]+)"', page))
        tokens |= mine
        status, html = add(admin, NW, offer_id=BP, quantity="2", option="P1Y/annual")
        assert status == 200 and "$44.00" in html  # 2 x 22.00
    assert len(tokens) == 2  # one per session, never the first reader's


def test_a_worker_keeps_sections_within_a_budget_the_least_recently_used_dropped() -> None:
    kept = _Sections(size=10)
    kept.put("a", "12345")
    kept.put("b", "12345")
    assert kept.get("a") == "12345"  # now the most recently used
    kept.put("c", "123")
    assert kept.get("b") is None and kept.get("a") == "12345" and kept.get("c") == "123"
    kept.put("d", "x" * 11)  # more than the whole budget: not kept, nothing dropped
    assert kept.get("d") is None and kept.get("a") == "12345" and kept.get("c") == "123"
