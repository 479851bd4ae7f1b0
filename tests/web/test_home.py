"""The front page and the health check."""

from __future__ import annotations

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
