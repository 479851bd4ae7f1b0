"""When Microsoft's sign-in service cannot be reached, people get a page saying so (503), the
log gets one line, and no stack trace is written."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from flask import Flask

from app import create_app
from app.extensions import db
from tests.support.processes import free_port
from tests.support.rogue_idp import rogue_idp

SHARED = (
    "TESTING",
    "SQLALCHEMY_DATABASE_URI",
    "REDIS_URL",
    "RQ_QUEUE",
    "SESSION_COOKIE_SECURE",
    "REMEMBER_COOKIE_SECURE",
)


def app_signing_in_at(app: Flask, authority: str) -> Flask:
    config: dict[str, Any] = {k: app.config[k] for k in SHARED}
    config["OIDC_AUTHORITY"] = authority
    return create_app(config)


@pytest.fixture
def cleanup() -> Iterator[list[Flask]]:
    made: list[Flask] = []
    yield made
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def assert_unavailable_page(answer: Any) -> None:
    assert answer.status_code == 503
    body = answer.get_data(as_text=True)
    assert "Sign-in is unavailable" in body
    assert "try again in a minute" in body
    assert "Traceback" not in body
    assert answer.headers["Retry-After"] == "60"


def assert_one_line_logged(caplog: pytest.LogCaptureFixture) -> None:
    lines = [r for r in caplog.records if "sign-in unavailable" in r.getMessage()]
    assert len(lines) == 1
    assert all(r.exc_info is None for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_sign_in_with_the_provider_down_shows_a_503_page_without_a_stack_trace(
    app: Flask, cleanup: list[Flask], caplog: pytest.LogCaptureFixture
) -> None:
    nobody_listens = f"http://127.0.0.1:{free_port()}"
    other = app_signing_in_at(app, nobody_listens)
    cleanup.append(other)
    with caplog.at_level(logging.INFO):
        answer = other.test_client().get("/auth/login")
    assert_unavailable_page(answer)
    assert_one_line_logged(caplog)


def test_provider_gone_between_the_redirect_and_the_callback_shows_the_same_page(
    app: Flask, cleanup: list[Flask], caplog: pytest.LogCaptureFixture
) -> None:
    with rogue_idp() as idp:
        other = app_signing_in_at(app, idp.url)
        cleanup.append(other)
        client = other.test_client()
        start = client.get("/auth/login")
        redirect = httpx.get(start.headers["Location"], follow_redirects=False, timeout=10)
        callback = urlsplit(redirect.headers["location"])
    # The provider has stopped: its token endpoint no longer answers.
    with caplog.at_level(logging.INFO):
        answer = client.get(f"{callback.path}?{callback.query}")
    assert_unavailable_page(answer)
    assert_one_line_logged(caplog)
