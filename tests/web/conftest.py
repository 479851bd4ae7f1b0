"""Fixtures of the web tests: signed-in clients of the demo people, staff without the demo."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.models import Partner, StaffRole, User
from app.services.demo import PARTNER
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import sign_in

PAT = "pat@partner.example"


@pytest.fixture
def signed_in(app: Flask, oidc_provider: OidcProvider) -> Callable[[str], FlaskClient]:
    """A new client signed in (through the local provider) as a demo identity."""

    def make(sub: str) -> FlaskClient:
        client = app.test_client()
        sign_in(client, oidc_provider, sub, demo_claims(sub))
        return client

    return make


@pytest.fixture
def partner_admin(app: Flask, signed_in: Callable[[str], FlaskClient]) -> FlaskClient:
    """Pat, the partner admin, signed in, with the partner but no demo customers."""
    claims = demo_claims(PAT)
    with app.app_context():
        db.session.add(Partner(**PARTNER))
        db.session.add(
            User(
                tid=claims["tid"],
                oid=claims["oid"],
                email=PAT,
                name="Pat Partner",
                staff_role=StaffRole.PARTNER_ADMIN,
            )
        )
        db.session.commit()
    return signed_in(PAT)
