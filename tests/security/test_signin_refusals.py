"""Sign-in refuses tokens with a wrong issuer, audience or nonce, or from a tenant not allowed.

These use a provider that issues exactly the flawed token each test needs, with an
Entra-style issuer template (`.../{tenantid}/v2.0`) in its discovery document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.models import AuditEvent, User
from tests.support.rogue_idp import RogueIdp, rogue_idp

NORTHWIND_TID = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def idp() -> Iterator[RogueIdp]:
    with rogue_idp() as provider:
        yield provider


@pytest.fixture
def entra_app(app: Flask, idp: RogueIdp) -> Iterator[Flask]:
    """The same app configuration, signing in through the rogue provider."""
    config: dict[str, Any] = {
        k: app.config[k]
        for k in (
            "TESTING",
            "SQLALCHEMY_DATABASE_URI",
            "REDIS_URL",
            "RQ_QUEUE",
            "SESSION_COOKIE_SECURE",
            "REMEMBER_COOKIE_SECURE",
        )
    }
    config["OIDC_AUTHORITY"] = idp.url
    other = create_app(config)
    yield other
    with other.app_context():  # close its pooled connections (PostgreSQL warns otherwise)
        db.session.remove()
        db.engine.dispose()


def attempt(client: FlaskClient) -> Any:
    """Run the whole sign-in; the provider answers at once with its token."""
    start = client.get("/auth/login")
    answer = httpx.get(start.headers["Location"], follow_redirects=False, timeout=10)
    callback = urlsplit(answer.headers["location"])
    return client.get(f"{callback.path}?{callback.query}")


def users(app: Flask) -> int:
    with app.app_context():
        return int(db.session.scalar(select(func.count()).select_from(User)) or 0)


def test_a_correct_token_with_the_tenant_issuer_signs_in(entra_app: Flask) -> None:
    answer = attempt(entra_app.test_client())
    assert answer.status_code == 302
    assert users(entra_app) == 1


@pytest.mark.parametrize(
    ("flaw", "value"),
    [
        ("issuer", "https://login.microsoftonline.com/99999999-9999-4999-8999-999999999999/v2.0"),
        ("audience", "someone-elses-client-id"),
        ("nonce", "a-replayed-nonce"),
    ],
)
def test_a_token_with_a_wrong_claim_is_refused_and_audited(
    entra_app: Flask, idp: RogueIdp, flaw: str, value: str
) -> None:
    setattr(idp.behaviour, flaw, value)
    answer = attempt(entra_app.test_client())
    assert answer.status_code == 403
    assert "could not be verified" in answer.get_data(as_text=True)
    assert users(entra_app) == 0
    with entra_app.app_context():
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "auth.sign_in_refused"))
            is not None
        )


def test_issuer_of_another_tenant_than_the_tid_claim_is_refused(
    entra_app: Flask, idp: RogueIdp
) -> None:
    idp.behaviour.claims = {"tid": NORTHWIND_TID}
    idp.behaviour.issuer = f"{idp.url}/22222222-3333-4444-5555-666666666666/v2.0"
    assert attempt(entra_app.test_client()).status_code == 403
    assert users(entra_app) == 0


def test_a_tenant_outside_the_allow_list_is_refused_with_the_reason(
    entra_app: Flask, idp: RogueIdp
) -> None:
    entra_app.config["OIDC_ALLOWED_TENANTS"] = ["22222222-3333-4444-5555-666666666666"]
    answer = attempt(entra_app.test_client())
    assert answer.status_code == 403
    assert "not allowed to sign in" in answer.get_data(as_text=True)
    assert users(entra_app) == 0


def test_personal_microsoft_accounts_are_refused(entra_app: Flask, idp: RogueIdp) -> None:
    idp.behaviour.claims = {"tid": "9188040d-6c67-4c5b-b112-36a304b66dad"}
    answer = attempt(entra_app.test_client())
    assert answer.status_code == 403
    assert "Personal Microsoft accounts" in answer.get_data(as_text=True)


def test_a_token_for_another_app_that_names_us_as_azp_is_refused(
    entra_app: Flask, idp: RogueIdp
) -> None:
    # authlib alone accepts it: `azp` is ours, and only `azp` was compared with our client id.
    idp.behaviour.audience = "someone-elses-client-id"
    idp.behaviour.claims = {"azp": entra_app.config["OIDC_CLIENT_ID"]}
    answer = attempt(entra_app.test_client())
    assert answer.status_code == 403
    assert "could not be verified" in answer.get_data(as_text=True)
    assert users(entra_app) == 0


def test_a_token_whose_audience_list_holds_our_client_id_signs_in(
    entra_app: Flask, idp: RogueIdp
) -> None:
    client_id = entra_app.config["OIDC_CLIENT_ID"]
    idp.behaviour.audience = [client_id, "an-api-of-ours"]  # type: ignore[assignment]
    idp.behaviour.claims = {"azp": client_id}
    assert attempt(entra_app.test_client()).status_code == 302
    assert users(entra_app) == 1
