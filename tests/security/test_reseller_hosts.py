"""Reseller hosts (issue 19): the host is the client's Host unless a trusted proxy says
otherwise; sign-in comes back to a verified host only; people who do not belong on a
reseller's host are sent to their own without seeing that brand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Reseller

HOST = "portal.fabrikam.example"
PROVIDER = "seatwise.partner.example"


@pytest.fixture
def fabrikam_host(app: Flask, demo: dict[str, int]) -> Iterator[None]:
    """Fabrikam's proven host, and the provider's own host configured."""
    with app.app_context():
        reseller = db.session.scalar(select(Reseller).where(Reseller.pc_id == "res-fabrikam"))
        assert reseller is not None
        reseller.host_name = HOST
        db.session.commit()
    app.config["PROVIDER_HOSTS"] = [PROVIDER]
    yield
    app.config["PROVIDER_HOSTS"] = []


def on_host(client: FlaskClient, host: str) -> FlaskClient:
    """The browser's session cookie, as it would be on `host`."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    client.set_cookie("session", cookie.value, domain=host)
    return client


def test_x_forwarded_host_is_ignored_without_a_trusted_proxy(
    app: Flask, fabrikam_host: None
) -> None:
    forged = app.test_client().get("/", headers={"Host": PROVIDER, "X-Forwarded-Host": HOST})
    assert "Fabrikam IT" not in forged.get_data(as_text=True)


def test_x_forwarded_host_is_believed_behind_a_configured_proxy(
    app: Flask, fabrikam_host: None
) -> None:
    from app import create_app

    behind_proxy = create_app({**app.config, "TRUSTED_PROXY_COUNT": 1})
    try:
        answer = behind_proxy.test_client().get(
            "/", headers={"Host": "10.0.0.5", "X-Forwarded-Host": HOST}
        )
        assert "<h1>Fabrikam IT</h1>" in answer.get_data(as_text=True)
    finally:
        with behind_proxy.app_context():
            db.engine.dispose()  # this app's own pool: close it, not the garbage collector


def redirect_uri_of(app: Flask, host: str) -> str:
    start = app.test_client().get("/auth/login", headers={"Host": host})
    assert start.status_code == 302
    return parse_qs(urlsplit(start.headers["Location"]).query)["redirect_uri"][0]


def test_sign_in_comes_back_to_a_proven_reseller_host_and_never_to_an_unknown_one(
    app: Flask, fabrikam_host: None
) -> None:
    assert redirect_uri_of(app, HOST) == f"http://{HOST}/auth/callback"
    assert redirect_uri_of(app, PROVIDER) == f"http://{PROVIDER}/auth/callback"
    assert redirect_uri_of(app, "evil.example") == f"http://{PROVIDER}/auth/callback"


def test_a_direct_customers_user_on_a_reseller_host_is_sent_to_the_providers_host(
    app: Flask, fabrikam_host: None, signed_in: Callable[[str], FlaskClient]
) -> None:
    ada = on_host(signed_in("ada@contoso.example"), HOST)  # Admin on Contoso (direct)
    answer = ada.get("/c/cust-contoso/licenses", headers={"Host": HOST})
    assert answer.status_code == 303
    assert answer.headers["Location"] == f"http://{PROVIDER}/c/cust-contoso/licenses"
    assert "Fabrikam" not in answer.get_data(as_text=True)


def test_the_resellers_own_people_stay_on_its_host(
    app: Flask, fabrikam_host: None, signed_in: Callable[[str], FlaskClient]
) -> None:
    ann = on_host(signed_in("ann@northwind.example"), HOST)  # Modify on Northwind (Fabrikam)
    page = ann.get("/c/cust-northwind/licenses", headers={"Host": HOST})
    assert page.status_code == 200 and "Fabrikam IT" in page.get_data(as_text=True)
    rita = on_host(signed_in("rita@fabrikam.example"), HOST)
    assert rita.get("/admin/", headers={"Host": HOST}).status_code == 200
