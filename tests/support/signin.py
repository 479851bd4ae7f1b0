"""Signing in through the real local OpenID provider, without a browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.processes import OidcProvider


def sign_in(
    client: FlaskClient,
    provider: OidcProvider,
    sub: str,
    claims: dict[str, Any],
    next_path: str | None = None,
) -> TestResponse:
    """Go through /auth/login, the provider's form and /auth/callback; return the final answer."""
    provider.set_user(sub, claims)
    query = {"next": next_path} if next_path else {}
    start = client.get("/auth/login", query_string=query)
    assert start.status_code == 302, start.status_code
    authorize_url = start.headers["Location"]
    answer = httpx.post(authorize_url, data={"sub": sub}, follow_redirects=False, timeout=10)
    assert answer.status_code in (302, 303), answer.text[:500]
    callback = urlsplit(answer.headers["location"])
    return client.get(f"{callback.path}?{callback.query}")


def csrf_token(html: str) -> str:
    """The CSRF token a rendered page carries (form field or the htmx header on <body>)."""
    import re

    match = (
        re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
        or re.search(r'name="csrf_token" value="([^"]+)"', html)
        or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    )
    assert match, "no CSRF token in the page"
    return match.group(1)
