"""Hostile input: names carrying HTML and script, seeded through the emulator (Partner Center
and Graph) and the sign-in provider, never appear unescaped on any page any role can reach;
hostile quantities, other tenants' ids and oversized forms get a clear 4xx and change nothing.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from html import unescape
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, DirectoryUser, Membership
from app.services import sync
from tests.support.identities import demo_claims
from tests.support.processes import Emulator, OidcProvider
from tests.support.signin import csrf_token, sign_in

EVIL = "cust-evil"
EVIL_TID = "99999999-8888-4777-8666-555555555555"
SUB = "sub-evil"
BP, BP_SKU = "CFQ7TTC0LH18:0001", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"

# What must never reach a page as markup: each would run script if it did.
CUSTOMER = "Evil <script>alert('customer')</script> & Co"
RESELLER = "</title><script>alert('reseller')</script>"
PRODUCT = "Seats <img src=x onerror=alert('product')>"
PERSON = "\"><svg onload=alert('person')>"
SIGNED_IN = "<script>alert('me')</script>"
RAW = ("<script>alert(", "<img src=x onerror", "<svg onload", "</title><script>")

MAX_PAGES = 80  # per role: every nav page and what it links to, bounded


@pytest.fixture
def hostile(app: Flask, demo: dict[str, int], emulator: Emulator) -> Iterator[None]:
    """The demo plus a customer (with its reseller, products and people) named to attack."""
    emulator.load(
        {
            "resellers": [{"id": "res-evil", "name": RESELLER, "relationship": "authorised"}],
            "customers": [
                {
                    "id": EVIL,
                    "name": CUSTOMER,
                    "domain": "evil.example",
                    "tenant_id": EVIL_TID,
                    "reseller_id": "res-evil",
                    "users": [
                        {"id": "u-e1", "upn": "eve@evil.example", "name": PERSON, "licenses": []},
                        {
                            "id": "u-e2",
                            "upn": "mallory@evil.example",
                            "name": PERSON + "2",
                            "licenses": [BP_SKU],
                        },
                    ],
                    "subscriptions": [
                        {
                            "id": SUB,
                            "offer_id": BP,
                            "sku_id": BP_SKU,
                            "offer_name": PRODUCT,
                            "term": "P1Y",
                            "billing_cycle": "monthly",
                            "created": "-3d",
                            "term_start": "-3d",
                            "quantity": 10,
                        }
                    ],
                }
            ],
        }
    )
    with app.app_context():
        report = sync.sync_all()
        assert not report.failed, report.failed
        evil = db.session.scalar(select(Customer).where(Customer.pc_id == EVIL))
        assert evil is not None and evil.name == CUSTOMER
        evil.self_service = True
        for role in Role:
            email = f"{role.name.lower()}@evil.example"
            db.session.add(Membership(customer_id=evil.id, email=email, role=role))
        db.session.commit()
    yield


@pytest.fixture
def as_role(app: Flask, oidc_provider: OidcProvider, hostile: None) -> Callable[[str], FlaskClient]:
    def make(role: str) -> FlaskClient:
        client = app.test_client()
        if role == "partner admin":
            sub = "pat@partner.example"
            sign_in(client, oidc_provider, sub, demo_claims(sub))
            return client
        email = f"{role}@evil.example"
        claims = {"tid": EVIL_TID, "oid": f"oid-{role}", "email": email, "name": SIGNED_IN}
        sign_in(client, oidc_provider, email, claims)
        return client

    return make


def links(html: str) -> list[tuple[str, bool]]:
    """Same-site GET targets of a page: links, and htmx GETs (asked as htmx)."""
    found = [(unescape(u), False) for u in re.findall(r'\shref="(/[^"]*)"', html)]
    found += [(unescape(u), True) for u in re.findall(r'\shx-get="(/[^"]*)"', html)]
    return [(u, htmx) for u, htmx in found if not u.startswith(("//", "/static/", "/auth/"))]


def crawl(client: FlaskClient, start: list[str]) -> dict[str, int]:
    """Visit every page reachable from `start` (bounded); assert each is escaped and not 5xx."""
    seen: dict[str, int] = {}
    queue = deque((url, False) for url in start)
    while queue and len(seen) < MAX_PAGES:
        url, htmx = queue.popleft()
        key = f"{'htmx ' if htmx else ''}{url}"
        if key in seen:
            continue
        with client.get(url, headers={"HX-Request": "true"} if htmx else {}) as answer:
            seen[key] = answer.status_code
            assert answer.status_code < 500, (key, answer.status_code)
            if answer.mimetype != "text/html":
                continue
            html = answer.get_data(as_text=True)
        for raw in RAW:
            assert raw not in html, (key, raw)
        queue.extend(links(html))
    return seen


@pytest.mark.parametrize("role", ["view", "modify", "admin", "partner admin"])
def test_every_page_a_role_reaches_shows_hostile_names_escaped(
    as_role: Callable[[str], FlaskClient], role: str
) -> None:
    client = as_role(role)
    start = ["/", "/companies", f"/c/{EVIL}/licenses", f"/c/{EVIL}/people"]
    if role == "partner admin":
        start += ["/admin/", "/admin/customers", f"/admin/customers/{EVIL}", "/admin/audit"]
    seen = crawl(client, start)
    licenses = client.get(f"/c/{EVIL}/licenses").get_data(as_text=True)
    assert "Evil &lt;script&gt;" in licenses  # the name is shown, escaped
    assert "&lt;img src=x onerror" in licenses
    if role in ("admin", "partner admin"):
        people = client.get(f"/c/{EVIL}/people").get_data(as_text=True)
        assert "&lt;svg onload" in people
    assert len(seen) >= (10 if role == "partner admin" else 3), seen


def evil_state(emulator: Emulator) -> dict[str, Any]:
    customer = next(c for c in emulator.state()["customers"] if c["id"] == EVIL)
    return next(s for s in customer["subscriptions"] if s["id"] == SUB)


def changes(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(ChangeRequest)) or 0)


@pytest.mark.parametrize("quantity", ["-1", "0", "1e9", "1.5", "", "١٢", "1_2", " 12", "12\x00"])
def test_hostile_quantities_are_refused_clearly_and_change_nothing(
    app: Flask, as_role: Callable[[str], FlaskClient], emulator: Emulator, quantity: str
) -> None:
    client = as_role("modify")
    token = csrf_token(client.get(f"/c/{EVIL}/licenses").get_data(as_text=True))
    for headers in ({}, {"HX-Request": "true"}):
        answer = client.post(
            f"/c/{EVIL}/subscriptions/{SUB}/quantity",
            data={"quantity": quantity, "csrf_token": token, "idempotency_key": uuid.uuid4().hex},
            headers=headers,
        )
        assert answer.status_code == 422, (quantity, headers, answer.status_code)
        assert "Traceback" not in answer.get_data(as_text=True)
    assert changes(app) == 0
    assert evil_state(emulator)["quantity"] == 10


def test_other_tenants_ids_are_not_found_and_change_nothing(
    app: Flask, as_role: Callable[[str], FlaskClient], emulator: Emulator
) -> None:
    client = as_role("admin")
    token = csrf_token(client.get(f"/c/{EVIL}/licenses").get_data(as_text=True))
    with app.app_context():
        northwind_person = db.session.scalar(
            select(DirectoryUser.id)
            .join(Customer, Customer.id == DirectoryUser.customer_id)
            .where(Customer.pc_id == "cust-northwind")
            .limit(1)
        )
    form = {"csrf_token": token, "idempotency_key": uuid.uuid4().hex, "quantity": "11"}
    for url, data in [
        (f"/c/{EVIL}/subscriptions/sub-nw-bp/quantity", form),  # theirs, through ours
        ("/c/cust-northwind/subscriptions/sub-nw-bp/quantity", form),  # theirs, directly
        (f"/c/{EVIL}/people/{northwind_person}/assign", {**form, "sku_id": BP_SKU}),
        (f"/c/{EVIL}/changes/999999/retry", form),
    ]:
        answer = client.post(url, data=data)
        assert answer.status_code == 404, (url, answer.status_code)
    assert client.get("/c/cust-northwind/licenses").status_code == 404
    assert changes(app) == 0
    writes = [r for r in emulator.state()["requests"] if r["method"] != "GET"]
    # the demo's Azure usage import POSTs Microsoft's read-only usage *export*: not a change
    assert not [r for r in writes if not r["path"].startswith("/v1.0/reports/partners/billing/")]


def test_oversized_forms_are_refused_with_413_and_change_nothing(
    app: Flask, as_role: Callable[[str], FlaskClient], emulator: Emulator
) -> None:
    client = as_role("modify")
    token = csrf_token(client.get(f"/c/{EVIL}/licenses").get_data(as_text=True))
    url = f"/c/{EVIL}/subscriptions/{SUB}/quantity"
    big_field = {"quantity": "11", "csrf_token": token, "idempotency_key": "x" * 600_000}
    big_body = {"quantity": "11", "csrf_token": token, "padding": "y" * (3 * 1024 * 1024)}
    many_fields = {f"f{i}": "1" for i in range(5_000)} | {"csrf_token": token, "quantity": "11"}
    for data in (big_field, big_body, many_fields):
        answer = client.post(url, data=data)
        assert 400 <= answer.status_code < 500, answer.status_code
        assert answer.status_code in (413, 422), answer.status_code
    assert changes(app) == 0
    assert evil_state(emulator)["quantity"] == 10
