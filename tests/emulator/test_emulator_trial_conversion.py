"""Converting a trial now, as Microsoft documents it for new commerce: a transition of the
trial source (transition-a-new-commerce-subscription.md, "or convert an NCE trial to a paid
subscription"), with the emulator's own rule of at least the trial's 25 seats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator import catalogue
from tests.emulator.helpers import BP, Api, northwind

Load = Callable[[dict[str, Any]], dict[str, Any]]
CUSTOMER = "/v1/customers/cust-1"
TRIAL = f"{CUSTOMER}/subscriptions/sub-1"


def item(key: str) -> str:
    offer = catalogue.offer(key)
    assert offer is not None
    return offer.catalog_item_id


def trial_and_paid(**paid: Any) -> dict[str, Any]:
    """A Business Premium trial (sub-1, 25 seats, 3 days old) and a paid Business Premium
    subscription (sub-2, 10 seats, a year from 40 days ago unless overridden)."""
    scenario = northwind(
        trial=True,
        offer_id=catalogue.PREMIUM_TRIAL,
        tranches=[],
        quantity=25,
        created="-3d",
        term_start="-3d",
        term="P1M",
    )
    scenario["customers"][0]["subscriptions"].append(
        {
            "id": "sub-2",
            "offer_id": BP,
            "sku_id": "sku-bp",
            "offer_name": "Microsoft 365 Business Premium",
            "term": "P1Y",
            "created": "-40d",
            "term_start": "-40d",
            "quantity": 10,
            **paid,
        }
    )
    return scenario


def convert(pc: Api, quantity: int, **extra: Any) -> Any:
    return pc.post(
        f"{TRIAL}/transitions",
        {
            "toCatalogItemId": item(BP),
            "quantity": quantity,
            "transitionType": "transition_with_license_transfer",
            **extra,
        },
    )


def test_a_trial_is_eligible_to_convert_to_its_paid_equivalent_only(load: Load, pc: Api) -> None:
    load(trial_and_paid())
    body = pc.get(f"{TRIAL}/transitionEligibilities?eligibilityType=immediate").get_json()
    assert [i["catalogItemId"] for i in body["items"]] == [item(BP)]
    assert body["items"][0]["eligibilities"][0]["isEligible"] is True
    # The page: the list of destination subscriptions is empty for a trial source.
    assert body["items"][0]["subscriptionEligibilities"] == []
    upgrade = convert(pc, 25, toCatalogItemId=item(catalogue.E5))
    assert upgrade.status_code == 400


def test_a_trial_converts_now_with_at_least_25_seats_keeping_its_id(load: Load, pc: Api) -> None:
    load(trial_and_paid())
    assert convert(pc, 24).status_code == 400
    answer = convert(pc, 30, termDuration="P1Y", billingCycle="monthly")
    assert answer.status_code == 200, answer.get_json()
    done = answer.get_json()
    assert done["toSubscriptionId"] == "sub-1"
    assert [e["status"] for e in done["Events"]][:2] == ["Started", "Completed"]
    sub = pc.get(TRIAL).get_json()
    assert (sub["isTrial"], sub["quantity"], sub["termDuration"]) == (False, 30, "P1Y")
    assert sub["offerId"] == item(BP)
    assert sub["refundableQuantity"]["totalQuantity"] == 30  # a purchase: a new window
    assert len(pc.get(f"{TRIAL}/transitions").get_json()["transition"]) == 1


def test_a_trial_converts_into_an_existing_subscription_that_ends_no_earlier(
    load: Load, pc: Api
) -> None:
    load(trial_and_paid())
    answer = convert(pc, 25, toSubscriptionId="sub-2")
    assert answer.status_code == 200, answer.get_json()
    assert pc.get(f"{CUSTOMER}/subscriptions/sub-2").get_json()["quantity"] == 35
    assert pc.get(TRIAL).get_json()["status"] == "expired"


def test_a_trial_does_not_convert_into_a_subscription_that_ends_earlier(
    load: Load, pc: Api
) -> None:
    load(trial_and_paid(term="P1M", created="-20d", term_start="-20d"))  # ends in ~10 days
    answer = convert(pc, 25, toSubscriptionId="sub-2")
    assert answer.status_code == 400
    assert "CommitmentEndDate" in answer.get_json()["description"]
    assert pc.get(TRIAL).get_json()["isTrial"] is True
