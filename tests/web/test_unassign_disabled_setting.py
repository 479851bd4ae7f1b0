"""The setting "unassign licences of disabled people after (days)" on the customer page:
shown with its explanation, saved in place and audited, refused with the bounds, and the
provider's (a reseller admin cannot change it)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.domain.settings import SPECS
from tests.support.signin import csrf_token
from tests.web.test_admin_settings import HX, PAGE, contoso, setting_events, setting_url

KEY = "unassign_disabled_after_days"


@pytest.fixture
def pat(signed_in: Callable[[str], FlaskClient], demo: dict[str, int]) -> FlaskClient:
    return signed_in("pat@partner.example")


def test_shown_off_with_its_explanation_then_saved_and_audited(
    app: Flask, pat: FlaskClient
) -> None:
    html = pat.get(PAGE).get_data(as_text=True)
    assert f'id="setting-{KEY}-value"' in html and 'name="value" size="5"' in html
    assert SPECS[KEY].help in html and "Decided by the provider." in html
    assert contoso(app).unassign_disabled_after_days == 0
    token = csrf_token(html)
    answer = pat.post(
        setting_url(KEY), data={"value": " 30 "}, headers={**HX, "X-CSRFToken": token}
    )
    assert answer.status_code == 200
    assert "Saved" in answer.get_data(as_text=True)
    assert contoso(app).unassign_disabled_after_days == 30
    event = setting_events(app)[-1]
    assert (event.before, event.after) == ({KEY: "0"}, {KEY: "30"})
    pat.post(setting_url(KEY), data={"value": "", "csrf_token": token})  # empty: off
    assert contoso(app).unassign_disabled_after_days == 0


@pytest.mark.parametrize("typed", ["3", "1000", "ten"])
def test_out_of_bounds_is_refused_with_the_bounds_and_nothing_changes(
    app: Flask, pat: FlaskClient, typed: str
) -> None:
    token = csrf_token(pat.get(PAGE).get_data(as_text=True))
    answer = pat.post(setting_url(KEY), data={"value": typed}, headers={**HX, "X-CSRFToken": token})
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "whole number of days from 7 to 730, or 0 to switch it off" in html
    assert f'value="{typed}"' in html and 'aria-invalid="true"' in html
    assert contoso(app).unassign_disabled_after_days == 0
    assert setting_events(app) == []


def test_a_reseller_admin_cannot_change_it(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    rita = signed_in("rita@fabrikam.example")
    html = rita.get("/admin/customers/cust-northwind").get_data(as_text=True)
    answer = rita.post(
        f"/admin/customers/cust-northwind/settings/{KEY}",
        data={"value": "30", "csrf_token": csrf_token(html)},
    )
    assert answer.status_code == 403
