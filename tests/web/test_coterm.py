"""Co-terming at checkout: the review page offers the end dates Partner Center allows (custom
term end dates), the chosen one reaches the cart line and the emulator's new subscription
ends with the existing one; a date Partner Center did not offer is refused before any
Partner Center request."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import ChangeRequest
from app.services.demo import SCENARIO, seed_demo
from tests.support.processes import Emulator
from tests.support.signin import csrf_token
from tests.support.storefront import BP, open_store

CO = "/c/cust-contoso"


def emulator_subs(emulator: Emulator) -> dict[str, dict[str, Any]]:
    contoso = next(c for c in emulator.state()["customers"] if c["id"] == "cust-contoso")
    return {s["id"]: s for s in contoso["subscriptions"]}


@pytest.fixture
def review(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> tuple[FlaskClient, str]:
    """Ada has 5 seats of Business Premium (annual, billed monthly) in her cart and opened
    the review page."""
    with app.app_context():
        open_store("cust-contoso", {BP: {}})
    ada = signed_in("ada@contoso.example")
    page = ada.get(f"{CO}/store").get_data(as_text=True)
    added = ada.post(
        f"{CO}/store/cart",
        data={
            "csrf_token": csrf_token(page),
            "offer_id": BP,
            "quantity": "5",
            "option": "P1Y/monthly",
        },
    )
    assert added.status_code == 303
    return ada, ada.get(f"{CO}/store/checkout").get_data(as_text=True)


def confirm(ada: FlaskClient, page: str, end: str) -> Any:
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key is not None
    return ada.post(
        f"{CO}/store/orders",
        data={"csrf_token": csrf_token(page), "idempotency_key": key.group(1), "end-0": end},
    )


def test_a_new_subscription_co_terms_with_an_existing_one(
    app: Flask, review: tuple[FlaskClient, str], emulator: Emulator, work: Callable[[], None]
) -> None:
    ada, page = review
    standard_end = emulator_subs(emulator)["sub-co-bs"]["commitmentEndDate"][:10]
    offered = re.search(
        rf'name="end-0" value="{standard_end}"> End with Microsoft 365 Business Standard on '
        r"\d+ \w+ \d{4}",
        page,
    )
    assert offered is not None, page
    assert "End with the calendar month on" in page
    # The shorter first term is priced for its days, not as a whole term.
    days = (date.fromisoformat(standard_end) - date.today()).days + 1
    first_term = re.search(
        rf'value="{standard_end}">[^<]* — a first term of {days} days: \$([\d,.]+)', page
    )
    whole_term = re.search(r"The full term \(\$([\d,.]+)\)", page)
    assert first_term is not None and whole_term is not None, page
    assert (
        0
        < float(first_term.group(1).replace(",", ""))
        < float(whole_term.group(1).replace(",", ""))
    )
    answer = confirm(ada, page, standard_end)
    assert answer.status_code == 303
    order = ada.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Buy 5 seats of Microsoft 365 Business Premium (annual term, billed monthly" in order
    assert ", ending on " in order
    before = set(emulator_subs(emulator))
    work()
    new = [s for k, s in emulator_subs(emulator).items() if k not in before]
    assert len(new) == 1 and new[0]["quantity"] == 5
    assert new[0]["commitmentEndDate"][:10] == standard_end


def test_an_end_date_partner_center_did_not_offer_is_refused_and_nothing_written(
    app: Flask, review: tuple[FlaskClient, str], emulator: Emulator
) -> None:
    ada, page = review
    before = len(emulator.state()["requests"])
    beyond_the_term = (date.today() + timedelta(days=800)).isoformat()
    answer = confirm(ada, page, beyond_the_term)
    assert answer.status_code == 422
    assert "not one Partner Center allows" in answer.get_data(as_text=True)
    assert len(emulator.state()["requests"]) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 0


def test_subscriptions_ending_the_same_day_are_offered_as_one_choice_naming_each(
    app: Flask, signed_in: Callable[[str], FlaskClient], emulator: Emulator
) -> None:
    """Partner Center names the subscriptions of a co-terming date by id only
    (`cotermSubscriptionIds`); the page names each as the license page does."""
    scenario = copy.deepcopy(SCENARIO)
    contoso = next(c for c in scenario["customers"] if c["id"] == "cust-contoso")
    bs = next(s for s in contoso["subscriptions"] if s["id"] == "sub-co-bs")
    contoso["subscriptions"].append({**bs, "id": "sub-co-bs-sales", "friendly_name": "Sales"})
    emulator.load(scenario)
    with app.app_context():
        seed_demo()
        open_store("cust-contoso", {BP: {}})
    ada = signed_in("ada@contoso.example")
    page = ada.get(f"{CO}/store").get_data(as_text=True)
    ada.post(
        f"{CO}/store/cart",
        data={
            "csrf_token": csrf_token(page),
            "offer_id": BP,
            "quantity": "5",
            "option": "P1Y/monthly",
        },
    )
    review = ada.get(f"{CO}/store/checkout").get_data(as_text=True)
    end = emulator_subs(emulator)["sub-co-bs"]["commitmentEndDate"][:10]
    assert emulator_subs(emulator)["sub-co-bs-sales"]["commitmentEndDate"][:10] == end
    choices = re.findall(rf'value="{end}"> (End with [^<]*?) on ', review)
    assert choices == ["End with Microsoft 365 Business Standard and Sales"], review
