"""An order for a reseller's customer may name up to five other resellers, with the
attestation Partner Center requires (create-a-cart.md): six are refused, and so is naming
any without the attestation, before any Partner Center request."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import ChangeRequest
from app.services import demo as demo_data
from app.services import sync
from app.services.microsoft import factory
from tests.support.processes import Emulator
from tests.support.signin import csrf_token
from tests.support.storefront import BP, open_store

NW = "/c/cust-northwind"
OTHERS = [f"res-other-{n}" for n in range(1, 7)]


@pytest.fixture
def review(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int], emulator: Emulator
) -> tuple[FlaskClient, str]:
    """Six more authorised resellers of the partner; Max (Admin of Northwind, a customer of
    Fabrikam IT) has Business Premium in the cart and opened the review page."""
    scenario = copy.deepcopy(demo_data.SCENARIO)
    scenario["resellers"] += [
        {
            "id": pc_id,
            "name": f"Other Reseller {pc_id[-1]}",
            "mpn_id": f"765432{pc_id[-1]}",
            "relationship": "authorised",
        }
        for pc_id in OTHERS
    ]
    emulator.load(scenario)
    with app.app_context():
        assert not sync.sync_all().failed
        open_store("cust-northwind", {BP: {}})
    max_ = signed_in("max@northwind.example")
    page = max_.get(f"{NW}/store").get_data(as_text=True)
    added = max_.post(
        f"{NW}/store/cart",
        data={
            "csrf_token": csrf_token(page),
            "offer_id": BP,
            "quantity": "2",
            "option": "P1Y/monthly",
        },
    )
    assert added.status_code == 303
    return max_, max_.get(f"{NW}/store/checkout").get_data(as_text=True)


def confirm(client: FlaskClient, page: str, others: list[str], attest: bool) -> Any:
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key is not None
    data: dict[str, Any] = {
        "csrf_token": csrf_token(page),
        "idempotency_key": key.group(1),
        "other_reseller": others,
    }
    if attest:
        data["attest"] = "yes"
    return client.post(f"{NW}/store/orders", data=data)


def changes() -> int:
    return int(db.session.scalar(select(func.count()).select_from(ChangeRequest)) or 0)


def test_six_other_resellers_or_no_attestation_are_refused_before_partner_center(
    app: Flask, review: tuple[FlaskClient, str], emulator: Emulator
) -> None:
    max_, page = review
    for pc_id in OTHERS:
        assert f'name="other_reseller" value="{pc_id}"' in page
    assert "partner-of-record attestation" in page
    before = len(emulator.state()["requests"])
    six = confirm(max_, page, OTHERS, attest=True)
    assert six.status_code == 422
    assert "at most 5 other resellers" in six.get_data(as_text=True)
    unattested = confirm(max_, page, OTHERS[:2], attest=False)
    assert unattested.status_code == 422
    assert "needs the attestation" in unattested.get_data(as_text=True)
    assert len(emulator.state()["requests"]) == before
    with app.app_context():
        assert changes() == 0


def test_five_other_resellers_with_the_attestation_are_bought(
    app: Flask, review: tuple[FlaskClient, str], emulator: Emulator, work: Callable[[], None]
) -> None:
    max_, page = review
    answer = confirm(max_, page, OTHERS[:5], attest=True)
    assert answer.status_code == 303
    work()
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        assert change is not None and change.state == "done", change and change.outcome
        assert change.params["other_resellers"] == OTHERS[:5]
    checkout = next(
        r["path"]
        for r in emulator.state()["requests"]
        if r["method"] == "POST" and r["path"].endswith("/checkout")
    )
    cart_path = checkout.removeprefix("/v1").removesuffix("/checkout")
    with app.app_context():
        client = factory.partner_center()
        try:
            cart = client._get(cart_path)  # the cart as Partner Center keeps it
        finally:
            client.close()
    assert cart["partnerOnRecordAttestationAccepted"] is True
    named = [p["value"] for p in cart["lineItems"][0]["participants"]]
    assert named == ["1234567"] + [f"765432{n}" for n in range(1, 6)]  # MPN ids
