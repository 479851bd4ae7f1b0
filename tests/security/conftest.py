"""Fixtures of the security tests: clients signed in through the real local provider."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import sign_in


@pytest.fixture
def signed_in(app: Flask, oidc_provider: OidcProvider) -> Callable[[str], FlaskClient]:
    """A new client signed in (through the local provider) as a demo identity."""

    def make(sub: str) -> FlaskClient:
        client = app.test_client()
        sign_in(client, oidc_provider, sub, demo_claims(sub))
        return client

    return make
