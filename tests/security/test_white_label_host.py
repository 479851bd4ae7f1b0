"""A reseller admin cannot claim the partner's own host name (nor another brand's) as its
white-label address: that would rebrand the whole portal, sign-in page and all."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import Reseller, StaffRole, User
from app.services import branding, resellers
from tests.support.signin import csrf_token

PAGE = "/admin/branding"
PORTAL = "portal.partner.example"  # where the partner serves Seatwise


@pytest.fixture
def rita(signed_in: Callable[[str], FlaskClient], demo: dict[str, int]) -> FlaskClient:
    return signed_in("rita@fabrikam.example")


@pytest.fixture
def provider_hosts(app: Flask) -> Iterator[None]:
    app.config["PROVIDER_HOSTS"] = ["seatwise.partner.example"]
    yield
    app.config["PROVIDER_HOSTS"] = []


def claim(client: FlaskClient, host: str, served_on: str = PORTAL) -> tuple[int, str]:
    """Post the host-name form on the partner's portal (the Host header it is served on)."""
    headers = {"Host": served_on}
    session = client.get_cookie("session")
    assert session is not None
    client.set_cookie("session", session.value, domain=served_on)  # the browser on that host
    token = csrf_token(client.get(PAGE, headers=headers).get_data(as_text=True))
    answer = client.post(
        f"{PAGE}/host", data={"host_name": host, "csrf_token": token}, headers=headers
    )
    return answer.status_code, " ".join(answer.get_data(as_text=True).split())


def fabrikam_host(app: Flask) -> str | None:
    with app.app_context():
        reseller = db.session.scalar(select(Reseller).where(Reseller.pc_id == "res-fabrikam"))
        assert reseller is not None
        return reseller.host_name


def test_the_host_the_partners_portal_is_served_on_cannot_be_claimed(
    app: Flask, rita: FlaskClient
) -> None:
    status, html = claim(rita, "Portal.Partner.Example.")
    assert status == 422
    assert "is the partner&#39;s own portal address" in html
    assert fabrikam_host(app) is None
    home = app.test_client().get("/", headers={"Host": PORTAL}).get_data(as_text=True)
    assert "Fabrikam IT" not in home  # the partner's sign-in page keeps the partner's brand


def test_a_configured_provider_host_cannot_be_claimed(
    app: Flask, rita: FlaskClient, provider_hosts: None
) -> None:
    status, html = claim(rita, "seatwise.partner.example")
    assert status == 422
    assert "own portal address" in html
    assert fabrikam_host(app) is None


def test_a_host_of_another_reseller_cannot_be_claimed(app: Flask, rita: FlaskClient) -> None:
    with app.app_context():
        fabrikam = db.session.scalar(select(Reseller).where(Reseller.pc_id == "res-fabrikam"))
        assert fabrikam is not None
        db.session.add(
            Reseller(
                partner_id=fabrikam.partner_id,
                pc_id="res-other",
                name="Other",
                host_name="portal.other.example",
            )
        )
        db.session.commit()
    status, html = claim(rita, "portal.other.example")
    assert status == 422 and "already used by another reseller" in html
    assert fabrikam_host(app) is None


def test_a_reseller_keeps_its_own_host_when_saving_it_from_that_host(
    app: Flask, rita: FlaskClient
) -> None:
    assert claim(rita, "portal.fabrikam.example")[0] == 302
    assert fabrikam_host(app) is None  # asked for, not active until proven (issue 19)
    with app.app_context():
        partner_admin = db.session.scalar(
            select(User).where(User.staff_role == StaffRole.PARTNER_ADMIN)
        )
        assert partner_admin is not None
        resellers.approve_host(partner_admin, "res-fabrikam")
    # Saved again while on its own white-label host: that host is the reseller's, not ours.
    assert claim(rita, "portal.fabrikam.example", served_on="portal.fabrikam.example")[0] == 302
    assert fabrikam_host(app) == "portal.fabrikam.example"


def test_server_name_and_configured_hosts_are_the_partners_own() -> None:
    hosts = branding.provider_hosts(
        ["Seatwise.Partner.Example"], "app.partner.example:8443", "portal.partner.example", None
    )
    assert hosts == {"seatwise.partner.example", "app.partner.example", "portal.partner.example"}
