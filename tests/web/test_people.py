"""People and licenses: assign = buy with auto increment, free seats, buy-one-and-assign,
a failed assignment after a purchase, and a bounded number of queries for 5,000 people."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import ChangeRequest, DirectoryUser
from app.services import sync
from app.services.settings import change_settings
from tests.support.identities import demo_claims
from tests.support.processes import Emulator, OidcProvider
from tests.support.queries import statements_of_get
from tests.support.signin import csrf_token, sign_in

BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
PEOPLE = "/c/cust-acme/people"


def acme(assigned: int, quantity: int = 10, extra_users: int = 1) -> dict[str, Any]:
    """A customer with one Business Premium subscription and some people without it."""
    users = [
        {"id": f"u-free-{i}", "upn": f"zoe{i}@acme.example", "name": f"Zoe {i}", "licenses": []}
        for i in range(extra_users)
    ]
    return {
        "customers": [
            {
                "id": "cust-acme",
                "name": "Acme",
                "tenant_id": "acme-tenant",
                "domain": "acme.example",
                "users": users,
                "assigned": {BP_SKU: assigned},
                "subscriptions": [
                    {
                        "id": "acme-bp",
                        "offer_id": BP,
                        "sku_id": BP_SKU,
                        "offer_name": "Microsoft 365 Business Premium",
                        "term": "P1Y",
                        "billing_cycle": "monthly",
                        "created": "-60d",
                        "term_start": "-60d",
                        "quantity": quantity,
                    }
                ],
            }
        ]
    }


def prepare(app: Flask, emulator: Emulator, scenario: dict[str, Any], **settings: str) -> None:
    emulator.load(scenario)
    with app.app_context():
        assert sync.sync_all().failed == {}
        if settings:
            change_settings("cust-acme", settings, actor="test")


def partner_admin(app: Flask, provider: OidcProvider, demo_people: None = None) -> FlaskClient:
    from app.models import StaffRole, User

    with app.app_context():
        claims = demo_claims("pat@partner.example")
        if db.session.scalar(select(User).where(User.oid == claims["oid"])) is None:
            db.session.add(
                User(
                    tid=claims["tid"],
                    oid=claims["oid"],
                    email="pat@partner.example",
                    name="Pat",
                    staff_role=StaffRole.PARTNER_ADMIN,
                )
            )
            db.session.commit()
    client = app.test_client()
    sign_in(client, provider, "pat@partner.example", demo_claims("pat@partner.example"))
    return client


def zoe_id(app: Flask) -> int:
    with app.app_context():
        zoe = db.session.scalar(select(DirectoryUser).where(DirectoryUser.name == "Zoe 0"))
        assert zoe is not None
        return zoe.id


def assign(client: FlaskClient, person: int, buy: str = "no") -> str:
    page = client.get(PEOPLE).get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key
    answer = client.post(
        f"{PEOPLE}/{person}/assign",
        headers={"HX-Request": "true"},
        data={
            "csrf_token": csrf_token(page),
            "idempotency_key": key.group(1),
            "sku_id": BP_SKU,
            "buy": buy,
        },
    )
    return answer.get_data(as_text=True)


def polled(client: FlaskClient, fragment: str) -> str:
    """What the row shows when it polls next (the URL the pending row asks htmx to get)."""
    url = re.search(r'hx-get="([^"]+/row\?change=\d+)"', fragment)
    assert url, fragment
    return client.get(url.group(1), headers={"HX-Request": "true"}).get_data(as_text=True)


def pc_quantity(emulator: Emulator) -> int:
    subs = emulator.state()["customers"][0]["subscriptions"]
    return int(next(s for s in subs if s["id"] == "acme-bp")["quantity"])


def consumed(emulator: Emulator) -> int:
    users = emulator.state()["customers"][0]["users"]
    return sum(1 for u in users if BP_SKU in u["licenses"])


def summary(client: FlaskClient) -> tuple[int, int, int]:
    html = client.get(PEOPLE).get_data(as_text=True)
    row = re.search(
        r"Microsoft 365 Business Premium</th><td class=\"num\">(\d+)</td>"
        r"<td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>",
        html,
    )
    assert row, html[:2000]
    return int(row.group(1)), int(row.group(2)), int(row.group(3))


def test_with_auto_increment_assigning_buys_a_seat_first(
    app: Flask,
    oidc_provider: OidcProvider,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    prepare(app, emulator, acme(assigned=8), auto_increment="on")
    pat = partner_admin(app, oidc_provider)
    assert summary(pat) == (10, 8, 2)
    fragment = assign(pat, zoe_id(app))
    assert "Working: Buy one Microsoft 365 Business Premium seat and assign it to Zoe 0" in fragment
    work()
    assert summary(pat) == (11, 9, 2)  # the free-seat buffer stays as it was
    assert (pc_quantity(emulator), consumed(emulator)) == (11, 9)


def test_without_auto_increment_a_free_seat_is_used_and_no_seat_is_bought(
    app: Flask,
    oidc_provider: OidcProvider,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    prepare(app, emulator, acme(assigned=8))
    pat = partner_admin(app, oidc_provider)
    assign(pat, zoe_id(app))
    work()
    assert summary(pat) == (10, 9, 1)
    assert (pc_quantity(emulator), consumed(emulator)) == (10, 9)
    assert not [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]


def test_without_a_free_seat_buy_one_and_assign_is_offered_and_works(
    app: Flask,
    oidc_provider: OidcProvider,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    prepare(app, emulator, acme(assigned=10))
    pat = partner_admin(app, oidc_provider)
    refused = assign(pat, zoe_id(app))
    assert "No free Microsoft 365 Business Premium seat" in refused
    assert "Buy one and assign" in refused
    assign(pat, zoe_id(app), buy="yes")
    work()
    assert summary(pat) == (11, 11, 0)
    assert (pc_quantity(emulator), consumed(emulator)) == (11, 11)


def test_a_failed_assignment_after_the_purchase_is_retried_without_buying_again(
    app: Flask,
    oidc_provider: OidcProvider,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    prepare(app, emulator, acme(assigned=8), auto_increment="on")
    emulator.faults({"method": "POST", "path": "assignLicense", "status": 500})
    app.config["MICROSOFT_RETRY_SECONDS"] = 2.0
    pat = partner_admin(app, oidc_provider)
    try:
        pending = assign(pat, zoe_id(app))
        work()
    finally:
        app.config["MICROSOFT_RETRY_SECONDS"] = 30.0
    html = polled(pat, pending)
    assert "The seat was bought (now 11 seats)" in html and "Retry" in html
    assert pc_quantity(emulator) == 11 and consumed(emulator) == 8
    httpx.delete(f"{emulator.url}/_emulator/faults", timeout=10).raise_for_status()
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        assert change is not None and change.state == "failed"
        change_id = change.id
    page = pat.get(PEOPLE).get_data(as_text=True)
    pat.post(f"/c/cust-acme/changes/{change_id}/retry", data={"csrf_token": csrf_token(page)})
    work()
    assert (pc_quantity(emulator), consumed(emulator)) == (11, 9)  # no second purchase
    bought = [
        r for r in emulator.state()["requests"] if r["method"] == "PATCH" and r["status"] == 200
    ]
    assert len(bought) == 1


def test_removing_a_license_frees_the_seat_and_says_what_it_means_for_the_bill(
    app: Flask,
    oidc_provider: OidcProvider,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    scenario = acme(assigned=8)
    scenario["customers"][0]["users"][0]["licenses"] = [BP_SKU]
    prepare(app, emulator, scenario)
    pat = partner_admin(app, oidc_provider)
    page = pat.get(PEOPLE).get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key
    pending = pat.post(
        f"{PEOPLE}/{zoe_id(app)}/remove",
        headers={"HX-Request": "true"},
        data={
            "csrf_token": csrf_token(page),
            "idempotency_key": key.group(1),
            "sku_id": BP_SKU,
            "buy": "no",
        },
    ).get_data(as_text=True)
    work()
    text = polled(pat, pending)
    assert "removed from Zoe 0. The seat is free and still paid for" in text
    assert "a reduction can be scheduled for renewal" in text
    assert consumed(emulator) == 8


def test_people_page_with_5000_people_renders_in_a_bounded_number_of_queries(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator
) -> None:
    prepare(app, emulator, acme(assigned=8, extra_users=2))
    pat = partner_admin(app, oidc_provider)

    few = statements_of_get(app, pat, PEOPLE)
    with app.app_context():
        customer_id = db.session.scalar(select(DirectoryUser.customer_id))
        db.session.execute(
            DirectoryUser.__table__.insert(),
            [
                {
                    "customer_id": customer_id,
                    "graph_id": f"g-{i}",
                    "upn": f"p{i}@acme.example",
                    "name": f"Person {i:05d}",
                    "enabled": True,
                }
                for i in range(5000)
            ],
        )
        db.session.commit()
    many = statements_of_get(app, pat, PEOPLE)
    assert many == few
    assert "Page 1 of" in pat.get(PEOPLE).get_data(as_text=True)
    found = pat.get(f"{PEOPLE}?q=person 04999").get_data(as_text=True)
    assert "p4999@acme.example" in found and "1 person matching" in found
    # A page past the last one shows the last one; a search nobody matches says so.
    last = pat.get(f"{PEOPLE}?page={10**30}").get_data(as_text=True)
    assert "Page 101 of 101" in last and 'rel="prev"' in last and 'rel="next"' not in last
    assert "Zoe 1" in last  # the last by name
    assert statements_of_get(app, pat, f"{PEOPLE}?page=101") == many
    nobody = pat.get(f"{PEOPLE}?q=nobody&page=3").get_data(as_text=True)
    assert "Nobody matches “nobody”" in nobody and "0 people matching" in nobody


def test_rows_kept_from_an_earlier_page_follow_licence_changes_and_get_fresh_keys(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator
) -> None:
    from app.models import UserLicense

    prepare(app, emulator, acme(assigned=2, extra_users=2))
    pat = partner_admin(app, oidc_provider)
    first = pat.get(PEOPLE).get_data(as_text=True)
    again = pat.get(PEOPLE).get_data(as_text=True)  # rows from the first rendering
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', first + again)
    assert len(keys) > 2 and len(set(keys)) == len(keys)  # every form, every page: its own
    # Kept rows carry this response's CSRF token (a signed token holds the second it was
    # made, so two pages may differ), never a placeholder or an old token.
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', again))
    assert tokens == {csrf_token(again)} and "csrf-" not in again
    zoe = zoe_id(app)
    row = again[again.index(f'id="person-{zoe}"') :]
    assert "No licenses" in row[: row.index("</tr>")]
    with app.app_context():
        db.session.add(UserLicense(directory_user_id=zoe, sku_id=BP_SKU))
        db.session.commit()
    after = pat.get(PEOPLE).get_data(as_text=True)
    row = after[after.index(f'id="person-{zoe}"') :]
    row = row[: row.index("</tr>")]
    assert "No licenses" not in row and "Microsoft 365 Business Premium" in row


def test_assign_and_buy_warns_that_it_deletes_the_change_scheduled_for_renewal(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator
) -> None:
    scenario = acme(assigned=8)
    scenario["customers"][0]["subscriptions"][0]["scheduled"] = {"quantity": 8}
    prepare(app, emulator, scenario, auto_increment="on")
    pat = partner_admin(app, oidc_provider)
    page = pat.get(PEOPLE).get_data(as_text=True)
    row = page[page.index(f'id="person-{zoe_id(app)}"') :]
    form = row[row.index('class="assign-form"') : row.index("</form>", row.index("assign-form"))]
    assert "deletes the change scheduled for renewal of Microsoft 365 Business Premium" in form
    assert "hx-confirm=" in form


def test_a_page_shown_before_follows_renames_seats_and_settings_on_the_next_request(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator
) -> None:
    """The people page (and its htmx table) is kept as a whole: whatever it shows, changed
    by anyone (another worker, a sync), shows on the very next request."""
    from app.models import Customer, Subscription

    prepare(app, emulator, acme(assigned=8, extra_users=2))
    pat = partner_admin(app, oidc_provider)

    def shown() -> str:
        """The page, then the htmx search's table, each asked twice (kept the second time)."""
        for _ in range(2):
            page = pat.get(PEOPLE).get_data(as_text=True)
            table = pat.get(f"{PEOPLE}?q=zoe", headers={"HX-Request": "true"})
        return page + table.get_data(as_text=True)

    def change(what: Callable[[DirectoryUser, Subscription, Customer], None]) -> None:
        with app.app_context():
            zoe = db.session.scalar(select(DirectoryUser).where(DirectoryUser.upn.like("zoe1@%")))
            sub = db.session.scalar(select(Subscription))
            customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-acme"))
            assert zoe is not None and sub is not None and customer is not None
            what(zoe, sub, customer)
            db.session.commit()

    before = shown()
    assert before.count("Zoe 1") >= 2 and "(2 free)" in before and ">Assign</button>" in before
    change(lambda zoe, sub, customer: setattr(zoe, "name", "Zoé Renamed"))
    renamed = shown()
    assert renamed.count("Zoé Renamed") >= 2 and "Zoe 1" not in renamed
    change(lambda zoe, sub, customer: setattr(sub, "quantity", 15))
    bought = shown()
    assert "(7 free)" in bought and "(2 free)" not in bought and summary(pat) == (15, 8, 7)
    change(lambda zoe, sub, customer: setattr(customer, "auto_increment", True))
    auto = shown()
    assert "Auto increment is on" in auto and ">Assign</button>" not in auto
    # Each answer still has its own idempotency keys and this response's CSRF token.
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', before + auto)
    assert len(keys) > 2 and len(set(keys)) == len(keys) and "csrf-" not in before + auto


def test_a_page_with_an_assignment_in_flight_shows_it_until_it_is_done(
    app: Flask,
    oidc_provider: OidcProvider,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    prepare(app, emulator, acme(assigned=8, extra_users=2))
    pat = partner_admin(app, oidc_provider)
    zoe = zoe_id(app)
    pat.get(PEOPLE)  # the page without the change, kept
    assign(pat, zoe)
    for _ in range(2):
        page = pat.get(PEOPLE).get_data(as_text=True)
        row = page[page.index(f'id="person-{zoe}"') :]
        row = row[: row.index("</tr>")]
        assert 'aria-busy="true"' in row and "Working: " in row and "/row?change=" in row
        other = page[page.index("zoe1@acme.example") :]
        assert 'aria-busy="true"' not in other[: other.index("</tr>")]
    work()
    page = pat.get(PEOPLE).get_data(as_text=True)
    row = page[page.index(f'id="person-{zoe}"') :]
    row = row[: row.index("</tr>")]
    assert "aria-busy" not in row and "Microsoft 365 Business Premium" in row
