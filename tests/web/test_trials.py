"""A trial on the license page: its end; convert now (at least 25 seats, into a new or an
existing subscription that does not end earlier), at the end of the trial, or let it end;
through the outbox and the emulator, which agrees."""

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
from app.models import AuditEvent, ChangeRequest, Subscription
from app.services import demo as demo_data
from app.services import sync
from tests.support.processes import Emulator
from tests.support.signin import csrf_token
from tests.support.storefront import BP, BP_TRIAL

CO = "/c/cust-contoso"
TRIAL = f"{CO}/store/trial/sub-co-trial"


def changes() -> int:
    return int(db.session.scalar(select(func.count()).select_from(ChangeRequest)) or 0)


def emulator_sub(emulator: Emulator, sub_id: str) -> dict[str, Any]:
    for customer in emulator.state()["customers"]:
        for sub in customer["subscriptions"]:
            if sub["id"] == sub_id:
                return dict(sub)
    raise AssertionError(sub_id)


def _sub(sub_id: str, offer: str, term: str, created: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sub_id,
        "offer_id": offer,
        "sku_id": demo_data.BP_SKU,
        "offer_name": "Microsoft 365 Business Premium" + (" Trial" if extra.get("trial") else ""),
        "term": term,
        "billing_cycle": "monthly",
        "created": created,
        "term_start": created,
        **extra,
    }


@pytest.fixture
def contoso_trial(app: Flask, demo: dict[str, int], emulator: Emulator) -> None:
    """Contoso also holds a Business Premium trial (3 days old), a paid annual Business
    Premium (ends in about 11 months) and a paid monthly one (ends in about 10 days)."""
    scenario = copy.deepcopy(demo_data.SCENARIO)
    contoso = next(c for c in scenario["customers"] if c["id"] == "cust-contoso")
    contoso["subscriptions"] += [
        _sub("sub-co-trial", BP_TRIAL, "P1M", "-3d", quantity=25, trial=True),
        _sub("sub-co-bp-year", BP, "P1Y", "-30d", quantity=5),
        _sub("sub-co-bp-month", BP, "P1M", "-20d", quantity=2),
    ]
    emulator.load(scenario)
    with app.app_context():
        report = sync.sync_all()
        assert not report.failed, report.failed


def post(client: FlaskClient, page: str, when: str, **fields: str) -> Any:
    """Post the page's form for `when` (now, at-end, let-end) with its own keys."""
    form = page[page.index(f'action="{TRIAL}/{when}"') :].split("</form>")[0]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key is not None, when
    return client.post(
        f"{TRIAL}/{when}",
        data={"csrf_token": csrf_token(page), "idempotency_key": key.group(1), **fields},
    )


def test_the_trial_page_shows_its_end_and_where_it_may_convert(
    signed_in: Callable[[str], FlaskClient], contoso_trial: None
) -> None:
    ada = signed_in("ada@contoso.example")
    panel = ada.get(f"{CO}/subscriptions/sub-co-trial/manage", headers={"HX-Request": "true"})
    assert f'href="{TRIAL}"' in panel.get_data(as_text=True)
    page = ada.get(TRIAL).get_data(as_text=True)
    assert re.search(r"The trial has 25 seats and ends on <strong>\d+ \w+ \d{4}</strong>", page)
    assert "Convert now to Microsoft 365 Business Premium" in page
    assert 'name="into" value="sub-co-bp-year"' in page  # ends later: offered
    assert 'name="into" value="sub-co-bp-month"' not in page  # ends earlier: explained
    assert "before the trial ends" in page
    assert "Convert at the end of the trial" in page and "Let the trial end" in page


def test_fewer_than_25_seats_now_or_an_earlier_end_are_refused_before_partner_center(
    app: Flask, signed_in: Callable[[str], FlaskClient], contoso_trial: None, emulator: Emulator
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(TRIAL).get_data(as_text=True)
    before = len(emulator.state()["requests"])
    few = post(ada, page, "now", quantity="24", option="P1Y/monthly")
    assert few.status_code == 422
    assert "A trial converts now to at least 25 seats" in few.get_data(as_text=True)
    earlier = post(ada, page, "now", quantity="25", option="P1Y/monthly", into="sub-co-bp-month")
    assert earlier.status_code == 422
    assert "before the trial ends" in earlier.get_data(as_text=True)
    assert len(emulator.state()["requests"]) == before
    with app.app_context():
        assert changes() == 0
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.kind == "change.convert_trial", AuditEvent.outcome == "refused")
            )
            == 2
        )


def test_converting_now_makes_the_trial_a_paid_subscription_and_partner_center_agrees(
    app: Flask,
    signed_in: Callable[[str], FlaskClient],
    contoso_trial: None,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(TRIAL).get_data(as_text=True)
    answer = post(ada, page, "now", quantity="30", option="P1Y/annual")
    assert answer.status_code == 303
    licenses = ada.get(f"{CO}/licenses").get_data(as_text=True)
    assert "Convert the trial now to 30 seats of Microsoft 365 Business Premium" in licenses
    assert emulator_sub(emulator, "sub-co-trial")["isTrial"] is True
    work()
    sub = emulator_sub(emulator, "sub-co-trial")
    assert (sub["isTrial"], sub["quantity"], sub["termDuration"]) == (False, 30, "P1Y")
    assert sub["billingCycle"] == "annual" and sub["offerId"].startswith(f"{BP}:")
    with app.app_context():
        ours = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-co-trial"))
        assert ours is not None and not ours.is_trial and ours.quantity == 30
        change = db.session.scalar(select(ChangeRequest))
        assert change is not None and change.state == "done"
        assert "the trial is now a paid subscription" in (change.outcome or "")


def test_converting_into_an_existing_subscription_adds_the_seats_there(
    app: Flask,
    signed_in: Callable[[str], FlaskClient],
    contoso_trial: None,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(TRIAL).get_data(as_text=True)
    answer = post(ada, page, "now", quantity="25", option="P1Y/monthly", into="sub-co-bp-year")
    assert answer.status_code == 303
    work()
    assert emulator_sub(emulator, "sub-co-bp-year")["quantity"] == 30
    assert emulator_sub(emulator, "sub-co-trial")["status"] == "expired"


def test_a_conversion_scheduled_for_the_end_of_the_trial_happens_then(
    signed_in: Callable[[str], FlaskClient],
    contoso_trial: None,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(TRIAL).get_data(as_text=True)
    assert post(ada, page, "at-end", quantity="10").status_code == 303
    work()
    assert emulator_sub(emulator, "sub-co-trial")["isTrial"] is True
    emulator.clock(advance="P1M")
    sub = emulator_sub(emulator, "sub-co-trial")
    assert (sub["isTrial"], sub["quantity"]) == (False, 10)


def test_letting_the_trial_end_turns_auto_renew_off(
    signed_in: Callable[[str], FlaskClient],
    contoso_trial: None,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(TRIAL).get_data(as_text=True)
    assert post(ada, page, "let-end").status_code == 303
    work()
    assert emulator_sub(emulator, "sub-co-trial")["autoRenewEnabled"] is False
    after = ada.get(TRIAL).get_data(as_text=True)
    assert "Auto-renew is off: it ends on" in after


def test_only_admins_convert_trials(
    signed_in: Callable[[str], FlaskClient], contoso_trial: None
) -> None:
    vic = signed_in("vic@northwind.example")
    assert vic.get("/c/cust-northwind/store/trial/sub-nw-teams-trial").status_code == 403
