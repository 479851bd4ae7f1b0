"""Every route x every outsider: no company data leaks, and nothing changes without CSRF.

Routes are collected from the URL map, so a new route is covered the day it is added.
The target company is Contoso Ltd; each persona holds a role somewhere else (or nowhere).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.routing import Rule

from app.domain.roles import Role
from app.extensions import db
from app.models import AuditEvent, Customer, Membership, Subscription
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import sign_in

TARGET = "cust-contoso"
TARGET_SECRETS = ("Contoso Ltd", "Microsoft 365 Business Standard", "Visio Plan 2")
PUBLIC_ENDPOINTS = {"static", "main.index", "main.healthz", "auth.login", "auth.callback"}
PERSONAS = [
    "anonymous",
    "view_elsewhere",
    "modify_elsewhere",
    "admin_elsewhere",
    "reseller_admin_elsewhere",
]


def all_rules(app: Flask) -> list[Rule]:
    return sorted(app.url_map.iter_rules(), key=lambda r: r.rule)


def url_for_rule(rule: Rule, values: dict[str, str]) -> str:
    """Fill every URL variable with a real object of the target company."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        return values.get(name, "1")

    return re.sub(r"<([^>]+)>", fill, rule.rule)


@pytest.fixture
def target_values(app: Flask, demo: dict[str, int]) -> dict[str, str]:
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == TARGET))
        assert customer is not None
        sub = db.session.scalar(select(Subscription).where(Subscription.customer_id == customer.id))
        assert sub is not None
        return {
            "customer": TARGET,
            "subscription": sub.pc_id,
            "filename": "css/seatwise.css",
            "key": "self_service",  # a relationship setting
            "kind": "partner",  # a brand's owner (logos are public: the sign-in page shows them)
        }


@pytest.fixture
def as_persona(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> Iterator[Callable[[str], FlaskClient]]:
    def make(persona: str) -> FlaskClient:
        client = app.test_client()
        if persona == "anonymous":
            return client
        sub = {
            "view_elsewhere": "vic@northwind.example",
            "modify_elsewhere": "ann@northwind.example",
            "reseller_admin_elsewhere": "rita@fabrikam.example",
        }.get(persona)
        claims = demo_claims(sub) if sub else None
        if persona == "admin_elsewhere":
            sub = "boss@northwind.example"
            claims = {**demo_claims("ann@northwind.example"), "email": sub, "oid": "boss-oid"}
            with app.app_context():
                northwind = db.session.scalar(
                    select(Customer).where(Customer.pc_id == "cust-northwind")
                )
                assert northwind is not None
                db.session.add(Membership(customer_id=northwind.id, email=sub, role=Role.ADMIN))
                db.session.commit()
        assert sub and claims
        sign_in(client, oidc_provider, sub, claims)
        return client

    yield make


@pytest.mark.parametrize("persona", PERSONAS)
def test_no_route_shows_another_company_to_someone_without_a_role_on_it(
    app: Flask,
    as_persona: Callable[[str], FlaskClient],
    target_values: dict[str, str],
    persona: str,
) -> None:
    client = as_persona(persona)
    checked = 0
    for rule in all_rules(app):
        if "GET" not in (rule.methods or set()):
            continue
        url = url_for_rule(rule, target_values)
        with client.get(url) as answer:
            body = answer.get_data(as_text=True)
        for secret in TARGET_SECRETS:
            assert secret not in body, (persona, url, answer.status_code)
        if rule.endpoint not in PUBLIC_ENDPOINTS and "<customer>" in rule.rule:
            assert answer.status_code in (302, 401, 404), (persona, url, answer.status_code)
        checked += 1
    assert checked >= 5


def test_every_state_changing_route_refuses_a_request_without_csrf_token(
    app: Flask,
    as_persona: Callable[[str], FlaskClient],
    target_values: dict[str, str],
    oidc_provider: OidcProvider,
) -> None:
    client = app.test_client()
    sign_in(client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example"))
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    changing = [
        r for r in all_rules(app) if (r.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
    ]
    assert changing, "no state-changing route found"
    for rule in changing:
        method = sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"})[0]
        url = url_for_rule(rule, target_values)
        for headers in ({}, {"HX-Request": "true"}):
            answer = client.open(url, method=method, headers=headers, data={"quantity": "99"})
            assert answer.status_code == 400, (url, headers, answer.status_code)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
    assert client.get("/companies").status_code == 200  # still signed in: nothing happened
