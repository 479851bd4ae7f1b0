"""Rate limits (real Redis): sign-in per address, changes per person and per address; a clear
429 page (or, for htmx, a message at the top of the page) and nothing changed."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy import select

from app.extensions import db
from app.models import Customer
from app.services import ratelimit
from tests.support.processes import free_port
from tests.support.signin import csrf_token

SETTING = "/admin/customers/cust-contoso/settings/azure_markup_percent"
LIMITS = (
    "RATELIMIT_SIGNIN_PER_ADDRESS",
    "RATELIMIT_CHANGES_PER_USER",
    "RATELIMIT_CHANGES_PER_ADDRESS",
)


@pytest.fixture
def low_limits(app: Flask, redis_url: str) -> Iterator[Callable[..., None]]:
    """Set low limits for the test (and start from empty counters); restore them after."""
    saved = {k: app.config[k] for k in LIMITS}
    redis = Redis.from_url(redis_url)
    for key in redis.scan_iter("seatwise:ratelimit:*"):
        redis.delete(key)

    def set_limits(**limits: str) -> None:
        app.config.update({f"RATELIMIT_{k.upper()}": v for k, v in limits.items()})

    yield set_limits
    app.config.update(saved)
    redis.close()


def markup(app: Flask) -> Decimal:
    with app.app_context():
        contoso = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert contoso is not None
        return contoso.azure_markup_percent


def set_markup(client: FlaskClient, value: str, **headers: str) -> int:
    token = csrf_token(client.get("/admin/customers/cust-contoso").get_data(as_text=True))
    answer = client.post(SETTING, data={"value": value, "csrf_token": token}, headers=headers)
    return answer.status_code


def test_sign_in_is_limited_per_address(app: Flask, low_limits: Callable[..., None]) -> None:
    low_limits(signin_per_address="3/60")
    flood = app.test_client()
    address = {"REMOTE_ADDR": f"203.0.113.{uuid.uuid4().int % 250 + 1}"}
    for _ in range(3):
        assert flood.get("/auth/login", environ_base=address).status_code == 302
    refused = flood.get("/auth/login", environ_base=address)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    body = " ".join(refused.get_data(as_text=True).split())
    assert "Too many requests" in body and "try again" in body
    assert "Content-Security-Policy" in refused.headers  # a page like every other
    other = {"REMOTE_ADDR": "198.51.100.9"}
    assert app.test_client().get("/auth/login", environ_base=other).status_code == 302


def test_changes_are_limited_per_person_and_nothing_is_changed(
    app: Flask,
    demo: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    low_limits: Callable[..., None],
) -> None:
    pat = signed_in("pat@partner.example")
    low_limits(changes_per_user="2/60")
    assert set_markup(pat, "10") == 303
    assert set_markup(pat, "11") == 303
    assert set_markup(pat, "12") == 429
    assert markup(app) == Decimal("11")
    assert pat.get("/admin/customers/cust-contoso").status_code == 200  # pages still open

    rita = signed_in("rita@fabrikam.example")  # another person is not held back
    token = csrf_token(rita.get("/admin/branding").get_data(as_text=True))
    answer = rita.post("/admin/branding", data={"name": "Fab", "color": "", "csrf_token": token})
    assert answer.status_code == 302


def test_an_htmx_change_over_the_limit_gets_a_message_at_the_top_of_the_page(
    app: Flask,
    demo: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    low_limits: Callable[..., None],
) -> None:
    pat = signed_in("pat@partner.example")
    low_limits(changes_per_user="1/60")
    assert set_markup(pat, "10", **{"HX-Request": "true"}) == 200
    token = csrf_token(pat.get("/admin/customers/cust-contoso").get_data(as_text=True))
    answer = pat.post(
        SETTING, data={"value": "13", "csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert answer.status_code == 429
    assert answer.headers["HX-Retarget"] == "#main"
    assert answer.headers["HX-Reswap"] == "afterbegin"
    html = answer.get_data(as_text=True)
    assert 'role="alert"' in html and "nothing was" in html and "<html" not in html
    assert markup(app) == Decimal("10")


def test_changes_are_limited_per_address_across_people(
    app: Flask,
    demo: dict[str, int],
    signed_in: Callable[[str], FlaskClient],
    low_limits: Callable[..., None],
) -> None:
    pat = signed_in("pat@partner.example")
    low_limits(changes_per_address="2/60")
    assert set_markup(pat, "10") == 303
    rita = signed_in("rita@fabrikam.example")
    token = csrf_token(rita.get("/admin/branding").get_data(as_text=True))
    assert rita.post("/admin/branding", data={"name": "F", "csrf_token": token}).status_code == 302
    assert set_markup(pat, "12") == 429  # the same address: third change in the window
    assert markup(app) == Decimal("10")


def test_with_redis_unreachable_requests_are_let_through() -> None:
    gone = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    assert ratelimit.hit(gone, "x", ratelimit.Limit(1, 60), now=1000.0) is None


def test_limits_are_read_as_requests_per_seconds() -> None:
    assert ratelimit.Limit.parse("600/60") == ratelimit.Limit(600, 60)
    with pytest.raises(ValueError, match="600/60"):
        ratelimit.Limit.parse("lots")
