"""The front page and the health check."""

from __future__ import annotations

import re

from flask.testing import FlaskClient


def test_home_page_names_the_product_and_offers_microsoft_sign_in(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h1>Seatwise</h1>" in html
    assert "Sign in with Microsoft" in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html  # CSRF header for every htmx request


def test_healthz_answers_ok(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_unknown_page_is_a_readable_404(client: FlaskClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert "There is nothing here" in page.get_data(as_text=True)


def test_every_page_names_an_icon_that_is_served(client: FlaskClient) -> None:
    page = client.get("/").get_data(as_text=True)
    icon = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', page)
    assert icon, page[:800]
    with client.get(icon.group(1)) as answer:  # a file response: closed when read
        assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
        assert answer.get_data().startswith(b"<svg")
