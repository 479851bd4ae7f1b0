"""The people directory (names, sign-in addresses, licences) is for the company's Admins and
partner staff only, as PRODUCT.md's role table says: View and Modify users get 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import Customer, DirectoryUser, Membership
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import sign_in

NW = "cust-northwind"
SIGNED_IN = ("vic@northwind.example", "ann@northwind.example")  # not their own name


def a_person(app: Flask) -> DirectoryUser:
    with app.app_context():
        person = db.session.scalar(
            select(DirectoryUser)
            .join(Customer, Customer.id == DirectoryUser.customer_id)
            .where(Customer.pc_id == NW, DirectoryUser.upn.not_in(SIGNED_IN))
            .order_by(DirectoryUser.id)
            .limit(1)
        )
        assert person is not None
        db.session.expunge(person)
        return person


@pytest.mark.parametrize("sub", SIGNED_IN)
def test_view_and_modify_users_cannot_list_the_people_directory(
    app: Flask, demo: dict[str, int], signed_in: Callable[[str], FlaskClient], sub: str
) -> None:
    client = signed_in(sub)
    person = a_person(app)
    licenses = client.get(f"/c/{NW}/licenses")
    assert licenses.status_code == 200
    assert f"/c/{NW}/people" not in licenses.get_data(as_text=True)  # no dead link either
    for url in (f"/c/{NW}/people", f"/c/{NW}/people?q=a", f"/c/{NW}/people/{person.id}/row"):
        for headers in ({}, {"HX-Request": "true"}):
            answer = client.get(url, headers=headers)
            assert answer.status_code == 403, (url, headers)
            body = answer.get_data(as_text=True)
            assert person.upn not in body
            assert person.name not in body


def test_a_company_admin_lists_the_people_directory(
    app: Flask, demo: dict[str, int], oidc_provider: OidcProvider
) -> None:
    boss = "boss@northwind.example"
    with app.app_context():
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == NW))
        assert northwind is not None
        db.session.add(Membership(customer_id=northwind.id, email=boss, role=Role.ADMIN))
        db.session.commit()
    client = app.test_client()
    sign_in(
        client,
        oidc_provider,
        boss,
        {**demo_claims("ann@northwind.example"), "email": boss, "oid": "boss-oid"},
    )
    person = a_person(app)
    answer = client.get(f"/c/{NW}/people")
    assert answer.status_code == 200
    assert person.upn in answer.get_data(as_text=True)
