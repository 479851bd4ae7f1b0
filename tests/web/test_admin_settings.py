"""Relationship settings on the customer page: saved in place, audited, refused with reasons."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain.settings import SETTINGS
from app.extensions import db
from app.models import AuditEvent, Customer
from tests.support.signin import csrf_token

PAGE = "/admin/customers/cust-contoso"
HX = {"HX-Request": "true"}
TOGGLES = [spec.key for spec in SETTINGS if spec.kind == "bool"]


def setting_url(key: str) -> str:
    return f"{PAGE}/settings/{key}"


def contoso(app: Flask) -> Customer:
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None
        db.session.expunge(customer)
        return customer


def setting_events(app: Flask) -> list[AuditEvent]:
    with app.app_context():
        events = list(
            db.session.scalars(
                select(AuditEvent)
                .where(AuditEvent.kind == "settings.changed")
                .order_by(AuditEvent.id)
            )
        )
        db.session.expunge_all()
        return events


@pytest.fixture
def pat(signed_in: Callable[[str], FlaskClient], demo: dict[str, int]) -> FlaskClient:
    return signed_in("pat@partner.example")


@pytest.fixture
def token(pat: FlaskClient) -> str:
    return csrf_token(pat.get(PAGE).get_data(as_text=True))


def test_the_page_shows_every_setting_with_their_explanations_and_links(
    pat: FlaskClient,
) -> None:
    page = pat.get(PAGE)
    assert page.status_code == 200
    assert "HX-Request" in page.headers.get("Vary", "")
    html = page.get_data(as_text=True)
    for spec in SETTINGS:
        assert f'id="setting-{spec.key}"' in html
        assert spec.help.replace("'", "&#39;") in html
    assert html.count('role="switch"') == 8
    assert 'value="17.65"' in html
    assert 'href="/admin/customers/cust-contoso/portal"' in html
    assert 'href="/c/cust-contoso/licenses"' in html


@pytest.mark.parametrize("key", TOGGLES)
def test_each_toggle_is_saved_in_place_persists_and_is_audited(
    app: Flask, pat: FlaskClient, token: str, key: str
) -> None:
    if key == "auto_license_adjustment":  # needs auto increment first (tested below)
        pat.post(setting_url("auto_increment"), data={"value": "on", "csrf_token": token})
    before = bool(getattr(contoso(app), key))
    new = "off" if before else "on"
    answer = pat.post(setting_url(key), data={"value": new}, headers={**HX, "X-CSRFToken": token})
    assert answer.status_code == 200
    assert "HX-Request" in answer.headers["Vary"]
    html = answer.get_data(as_text=True)
    assert "<html" not in html
    assert f'<form id="setting-{key}"' in html
    assert "Saved" in html
    assert f'aria-checked="{"false" if before else "true"}"' in html
    assert getattr(contoso(app), key) is (not before)
    event = setting_events(app)[-1]
    assert event.object_id == "cust-contoso" and event.actor == "pat@partner.example"
    assert event.before == {key: "on" if before else "off"}
    assert event.after == {key: new}


def test_without_htmx_a_toggle_posts_and_comes_back_to_the_page_saying_saved(
    app: Flask, pat: FlaskClient, token: str
) -> None:
    answer = pat.post(setting_url("reporting"), data={"value": "on", "csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"{PAGE}?saved=reporting#setting-reporting")
    page = pat.get(answer.headers["Location"]).get_data(as_text=True)
    assert "<html" in page
    section = page[page.index('id="setting-reporting"') :]
    section = section[: section.index("</form>")]
    assert "Saved" in section and 'aria-checked="true"' in section
    assert contoso(app).reporting is True


def test_enabling_adjustment_without_auto_increment_is_refused_with_the_reason(
    app: Flask, pat: FlaskClient, token: str
) -> None:
    answer = pat.post(
        setting_url("auto_license_adjustment"),
        data={"value": "on"},
        headers={**HX, "X-CSRFToken": token},
    )
    assert answer.status_code == 422  # the one refusal status; base.html has htmx swap it
    html = answer.get_data(as_text=True)
    assert "<html" not in html
    assert "needs Auto increment on" in html and "Turn on Auto increment first" in html
    assert 'aria-checked="false"' in html and "Saved" not in html

    page = pat.post(
        setting_url("auto_license_adjustment"), data={"value": "on", "csrf_token": token}
    )
    assert page.status_code == 422
    assert "<html" in page.get_data(as_text=True)
    assert "needs Auto increment on" in page.get_data(as_text=True)
    assert contoso(app).auto_license_adjustment is False
    assert setting_events(app) == []


def test_turning_auto_increment_off_under_adjustment_is_refused(
    app: Flask, pat: FlaskClient, token: str
) -> None:
    headers = {**HX, "X-CSRFToken": token}
    pat.post(setting_url("auto_increment"), data={"value": "on"}, headers=headers)
    pat.post(setting_url("auto_license_adjustment"), data={"value": "on"}, headers=headers)
    answer = pat.post(setting_url("auto_increment"), data={"value": "off"}, headers=headers)
    assert "needs Auto increment on" in answer.get_data(as_text=True)
    assert contoso(app).auto_increment is True


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("-1", "must be between 0 and 500, not -1"),
        ("500.001", "must be between 0 and 500, not 500.001"),
        ("abc", "must be a number such as 17.65, not &#39;abc&#39;"),
        ("12.345", "takes at most two decimals"),
    ],
)
def test_markup_refuses_bad_values_with_a_message_and_keeps_what_was_typed(
    app: Flask, pat: FlaskClient, token: str, typed: str, message: str
) -> None:
    url = setting_url("azure_markup_percent")
    answer = pat.post(url, data={"value": typed}, headers={**HX, "X-CSRFToken": token})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "<html" not in html
    assert message in html
    assert 'aria-invalid="true"' in html and f'value="{typed}"' in html
    page = pat.post(url, data={"value": typed, "csrf_token": token})
    assert page.status_code == 422
    assert message in page.get_data(as_text=True)
    assert contoso(app).azure_markup_percent == Decimal("17.65")
    assert setting_events(app) == []


def test_markup_is_saved_with_two_decimals_and_audited(
    app: Flask, pat: FlaskClient, token: str
) -> None:
    url = setting_url("azure_markup_percent")
    answer = pat.post(url, data={"value": " 20.5 "}, headers={**HX, "X-CSRFToken": token})
    html = answer.get_data(as_text=True)
    assert "Saved" in html and 'value="20.50"' in html
    assert contoso(app).azure_markup_percent == Decimal("20.50")
    event = setting_events(app)[-1]
    assert (event.before, event.after) == (
        {"azure_markup_percent": "17.65"},
        {"azure_markup_percent": "20.50"},
    )


def test_an_unknown_setting_is_not_found(pat: FlaskClient, token: str) -> None:
    answer = pat.post(setting_url("nope"), data={"value": "on", "csrf_token": token})
    assert answer.status_code == 404


def test_reseller_admin_reads_the_commercial_settings_of_their_customer_but_cannot_change_them(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    rita = signed_in("rita@fabrikam.example")
    page = rita.get("/admin/customers/cust-northwind")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "the provider keeps the commercial settings" in html
    assert html.count("disabled") >= 7  # the provider's seven; Self service and Reporting: hers
    answer = rita.post(
        "/admin/customers/cust-northwind/settings/auto_increment",
        data={"value": "on", "csrf_token": csrf_token(html)},
    )
    assert answer.status_code == 403
    assert rita.get(PAGE).status_code == 404  # Contoso is not Fabrikam's customer


def test_end_users_do_not_find_the_customer_page(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    ada = signed_in("ada@contoso.example")  # Admin on Contoso, but not partner staff
    assert ada.get(PAGE).status_code == 404
    token = csrf_token(ada.get("/").get_data(as_text=True))
    answer = ada.post(setting_url("reporting"), data={"value": "on", "csrf_token": token})
    assert answer.status_code == 404
