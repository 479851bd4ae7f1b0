"""Signing out ends the session on the server: a copied session cookie is refused after it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.support.signin import csrf_token

PAT = "pat@partner.example"


def copy_session(source: FlaskClient, app: Flask) -> FlaskClient:
    """A second browser holding a stolen copy of `source`'s session cookie."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    return thief


def sign_out(client: FlaskClient) -> None:
    page = client.get("/companies")
    answer = client.post("/auth/logout", data={"csrf_token": csrf_token(page.get_data(True))})
    assert answer.status_code == 302


def test_a_copied_session_cookie_is_refused_after_sign_out(
    app: Flask, demo: dict[str, int], signed_in: Callable[[str], FlaskClient]
) -> None:
    owner = signed_in(PAT)
    thief = copy_session(owner, app)
    assert thief.get("/companies").status_code == 200  # the copy works while signed in

    sign_out(owner)

    answer = thief.get("/companies")
    assert answer.status_code == 302
    assert "/auth/login" in answer.headers["Location"]
    assert thief.get("/admin/customers").status_code in (302, 404)


def test_signing_in_again_after_sign_out_works_and_the_old_copy_stays_refused(
    app: Flask, demo: dict[str, int], signed_in: Callable[[str], FlaskClient]
) -> None:
    first = signed_in(PAT)
    stolen = copy_session(first, app)
    sign_out(first)

    again = signed_in(PAT)
    assert again.get("/companies").status_code == 200
    assert stolen.get("/companies").status_code == 302
