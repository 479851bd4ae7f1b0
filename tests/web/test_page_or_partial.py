"""The web layer's one convention: every route that has a partial answers the partial only to
a plain htmx request, and the whole page (with the navigation) to a browser, to a boosted
navigation and to a history restore; every answer says it varies on those headers."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, DirectoryUser
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import sign_in

NW = "/c/cust-northwind"
NAV = 'aria-label="Main"'

ROUTES = [
    f"{NW}/licenses?page=2",
    f"{NW}/subscriptions/sub-nw-bp/row",
    f"{NW}/subscriptions/sub-nw-bp/manage",
    f"{NW}/people",
    f"{NW}/people/<person>/row",
    "/admin/jobs/",
    "/admin/customers",
    "/admin/audit",
]

KINDS = {
    "plain": ({}, True),
    "htmx": ({"HX-Request": "true"}, False),
    "boosted": ({"HX-Request": "true", "HX-Boosted": "true"}, True),
    "history restore": ({"HX-Request": "true", "HX-History-Restore-Request": "true"}, True),
}


@pytest.fixture
def pat(app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]) -> FlaskClient:
    client = app.test_client()
    sign_in(client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example"))
    return client


def person_id(app: Flask) -> int:
    with app.app_context():
        found = db.session.scalar(
            select(DirectoryUser.id)
            .join(Customer, Customer.id == DirectoryUser.customer_id)
            .where(Customer.pc_id == "cust-northwind")
            .order_by(DirectoryUser.id)
            .limit(1)
        )
    assert found is not None
    return found


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("route", ROUTES)
def test_a_partial_only_for_plain_htmx_requests(
    app: Flask, pat: FlaskClient, route: str, kind: str
) -> None:
    headers, whole = KINDS[kind]
    answer = pat.get(route.replace("<person>", str(person_id(app))), headers=headers)
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert ("<!doctype html>" in html) is whole
    assert (NAV in html) is whole  # a whole page always has the navigation
    assert {"HX-Request", "HX-Boosted", "HX-History-Restore-Request"} <= set(answer.vary)


def test_every_page_a_partner_admin_uses_is_in_the_navigation(pat: FlaskClient) -> None:
    html = pat.get("/admin/customers").get_data(as_text=True)
    nav = html[html.index(NAV) : html.index("</nav>")]
    for link in ("/companies", "/admin/customers", "/admin/reconciliation/", "/admin/jobs/"):
        assert f'href="{link}"' in nav
    for link in ("/admin/audit", "/admin/branding"):
        assert f'href="{link}"' in nav
