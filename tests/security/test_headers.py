"""Security headers on every answer: a Content-Security-Policy without inline script that
allows the page's one inline style by its hash, no framing, no sniffing, a Referrer-Policy,
and HSTS over HTTPS only."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.signin import csrf_token

NW = "/c/cust-northwind"


def assert_secure_headers(answer: TestResponse, where: str) -> None:
    csp = answer.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ") if d}
    assert directives.get("frame-ancestors") == ["'none'"] or "sandbox" in directives, where
    assert "default-src" in directives, where
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, where
    if "sandbox" not in directives:  # the logo's own, stricter policy
        assert directives["script-src"] == ["'self'"], where
        assert directives["form-action"] == ["'self'"], where
    assert answer.headers.get("X-Frame-Options") == "DENY", where
    assert answer.headers.get("X-Content-Type-Options") == "nosniff", where
    assert answer.headers.get("Referrer-Policy") in (
        "strict-origin-when-cross-origin",
        "same-origin",
    ), where


def assert_no_inline_script_or_style(html: str, csp: str, where: str) -> None:
    """Every inline script is absent; every inline style is allowed by its hash."""
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), where
    assert not re.search(r"\son[a-z]+\s*=", html), where  # no onclick= and the like
    assert not re.search(r"\sstyle\s*=", html), where  # style attributes need unsafe-inline
    assert "hx-on" not in html, where
    for css in re.findall(r"<style>(.*?)</style>", html, re.S):
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp, where


def test_anonymous_answers_carry_the_headers(client: FlaskClient, demo: dict[str, int]) -> None:
    for url in ("/", "/healthz", "/auth/login", "/static/css/seatwise.css", "/nowhere", NW):
        with client.get(url) as answer:
            assert_secure_headers(answer, url)
            if answer.mimetype == "text/html":
                html = answer.get_data(as_text=True)
                csp = answer.headers["Content-Security-Policy"]
                assert_no_inline_script_or_style(html, csp, url)
    assert "Strict-Transport-Security" not in client.get("/").headers  # plain HTTP: no HSTS


def test_signed_in_pages_partials_and_refusals_carry_the_headers(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    pat = signed_in("pat@partner.example")
    pages = [
        "/companies",
        f"{NW}/licenses",
        f"{NW}/people",
        "/admin/",
        "/admin/customers",
        "/admin/audit",
        "/admin/branding",
        "/admin/jobs/",
    ]
    for url in pages:
        for headers in ({}, {"HX-Request": "true"}):
            answer = pat.get(url, headers=headers)
            assert answer.status_code == 200, url
            assert_secure_headers(answer, url)
            html = answer.get_data(as_text=True)
            assert_no_inline_script_or_style(html, answer.headers["Content-Security-Policy"], url)
    refused = pat.post(f"{NW}/subscriptions/sub-nw-bp/quantity", data={"quantity": "3"})
    assert refused.status_code == 400  # no CSRF token
    assert_secure_headers(refused, "csrf refusal")
    token = csrf_token(pat.get("/companies").get_data(as_text=True))
    signed_out = pat.post("/auth/logout", data={"csrf_token": token})
    assert_secure_headers(signed_out, "redirect")


def test_the_brand_style_hash_follows_the_brand_colour(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    pat = signed_in("pat@partner.example")
    token = csrf_token(pat.get("/admin/branding").get_data(as_text=True))
    pat.post("/admin/branding", data={"name": "", "color": "#008060", "csrf_token": token})
    answer = pat.get("/companies")
    html = answer.get_data(as_text=True)
    assert "<style>:root { --brand: #008060; }</style>" in html
    css = ":root { --brand: #008060; }"
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in answer.headers["Content-Security-Policy"]


@pytest.mark.parametrize("url", ["/", "/healthz"])
def test_hsts_is_sent_over_https(client: FlaskClient, url: str) -> None:
    answer = client.get(url, base_url="https://localhost")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
