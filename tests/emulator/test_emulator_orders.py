"""The catalogue, carts and checkout, transitions (upgrades)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from emulator import catalogue
from tests.emulator.helpers import BP, Api, northwind

Load = Callable[[dict[str, Any]], dict[str, Any]]
CUSTOMER = "/v1/customers/cust-1"
SUB = f"{CUSTOMER}/subscriptions/sub-1"


def item(key: str) -> str:
    """The catalog item id of an offer."""
    offer = catalogue.offer(key)
    assert offer is not None
    return offer.catalog_item_id


def buy(pc: Api, *lines: tuple[str, int], **cart: Any) -> Any:
    """Create a cart of (offer, quantity) lines and check it out."""
    body = {"lineItems": [{"catalogItemId": item(k), "quantity": q} for k, q in lines], **cart}
    created = pc.post(f"{CUSTOMER}/carts", body)
    if created.status_code != 201:
        return created
    return pc.post(f"{CUSTOMER}/carts/{created.get_json()['id']}/checkout")


def refusal(response: Any) -> tuple[int, int]:
    """Status and Partner Center error code."""
    return response.status_code, response.get_json()["code"]


def test_the_catalogue_lists_about_twenty_offers_with_prices(pc: Api) -> None:
    products = pc.get("/v1/products?country=US&targetView=OnlineServices").get_json()["items"]
    assert len(products) >= 18
    skus = []
    for product in products:
        skus += pc.get(f"/v1/products/{product['id']}/skus").get_json()["items"]
    titles = {s["title"] for s in skus}
    assert {"Microsoft 365 Business Premium", "Microsoft 365 Copilot", "Microsoft 365 E5"} <= titles
    assert len(skus) >= 20
    assert all(s["unitPrice"] >= 0 for s in skus)
    assert any(s["isTrial"] for s in skus)
    assert any(s["limitPerCustomer"] == 1 for s in skus)


def test_availabilities_carry_the_catalog_item_id_and_terms(pc: Api) -> None:
    body = pc.get("/v1/products/CFQ7TTC0LCHC/skus/0002/availabilities?country=US").get_json()
    availability = body["items"][0]
    assert availability["catalogItemId"] == item(BP)
    assert availability["catalogItemId"].startswith("CFQ7TTC0LCHC:0002:")
    assert {t["duration"] for t in availability["terms"]} == {"P1M", "P1Y", "P3Y"}
    assert pc.get("/v1/products/CFQ7TTC0LCHC/skus/0002").get_json()["id"] == "0002"
    assert pc.get("/v1/products/CFQ7TTC0LCHC").get_json()["id"] == "CFQ7TTC0LCHC"


def test_unknown_catalogue_entries_answer_404_and_country_is_required(pc: Api) -> None:
    assert refusal(pc.get("/v1/products/NOPE/skus")) == (404, 800404)
    assert refusal(pc.get("/v1/products/NOPE")) == (404, 800404)
    assert refusal(pc.get("/v1/products/CFQ7TTC0LCHC/skus/9999/availabilities")) == (404, 800404)
    assert refusal(pc.get("/v1/products")) == (400, 800002)


def test_checkout_creates_subscriptions_in_one_order(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    response = buy(pc, (catalogue.E5, 3), (catalogue.VISIO, 1))
    assert response.status_code == 201
    order = response.get_json()["orders"][0]
    assert [line["quantity"] for line in order["lineItems"]] == [3, 1]
    new_id = order["lineItems"][0]["subscriptionId"]
    sub = pc.get(f"{CUSTOMER}/subscriptions/{new_id}").get_json()
    assert (sub["offerId"], sub["quantity"], sub["status"], sub["autoRenewEnabled"]) == (
        item(catalogue.E5),
        3,
        "active",
        True,
    )
    assert sub["refundableQuantity"]["totalQuantity"] == 3
    assert sub["commitmentEndDate"] == "2026-03-09T00:00:00Z"
    assert sub["partnerId"] == "res-1"
    records = pc.get("/v1/auditrecords").get_json()["items"]
    assert (records[-1]["operationType"], records[-1]["resourceType"]) == ("create_order", "order")


def test_a_cart_is_checked_out_only_once(northwind_loaded: dict[str, Any], pc: Api) -> None:
    """checkout-a-cart.md: checkout is idempotent; a second checkout of a cart checked out
    successfully re-iterates the first result and buys nothing more."""
    cart = pc.post(f"{CUSTOMER}/carts", {"lineItems": [{"catalogItemId": item(BP), "quantity": 1}]})
    cart_id = cart.get_json()["id"]
    assert pc.get(f"{CUSTOMER}/carts/{cart_id}").get_json()["status"] == "Active"
    first = pc.post(f"{CUSTOMER}/carts/{cart_id}/checkout")
    assert first.status_code == 201
    assert pc.get(f"{CUSTOMER}/carts/{cart_id}").get_json()["status"] == "Ordered"
    held = pc.get(f"{CUSTOMER}/subscriptions").get_json()["totalCount"]
    second = pc.post(f"{CUSTOMER}/carts/{cart_id}/checkout")
    assert second.status_code == 201 and second.get_json() == first.get_json()
    assert pc.get(f"{CUSTOMER}/subscriptions").get_json()["totalCount"] == held
    assert refusal(pc.post(f"{CUSTOMER}/carts/unknown/checkout")) == (404, 800404)


def test_a_cart_with_an_unknown_item_or_bad_quantity_is_refused(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    unknown = pc.post(
        f"{CUSTOMER}/carts", {"lineItems": [{"catalogItemId": "X:Y:Z", "quantity": 1}]}
    )
    assert refusal(unknown) == (400, 800114)
    assert refusal(buy(pc, (BP, 0))) == (400, 800002)
    assert refusal(pc.post(f"{CUSTOMER}/carts", {"lineItems": []})) == (400, 800002)
    term = {"lineItems": [{"catalogItemId": item(BP), "quantity": 1, "termDuration": "P2Y"}]}
    assert refusal(pc.post(f"{CUSTOMER}/carts", term)) == (400, 800002)


def test_naming_resellers_needs_the_partner_of_record_attestation(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    line = {
        "catalogItemId": item(BP),
        "quantity": 1,
        "participants": [{"key": "transaction_reseller", "value": "res-1"}],
    }
    assert refusal(pc.post(f"{CUSTOMER}/carts", {"lineItems": [line]})) == (400, 800111)
    attested = {"lineItems": [line], "partnerOnRecordAttestationAccepted": True}
    assert pc.post(f"{CUSTOMER}/carts", attested).status_code == 201


def test_more_than_five_additional_resellers_are_refused(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    def cart(extra: int) -> dict[str, Any]:
        others = [
            {"key": "additional_transaction_reseller", "value": f"r{n}"} for n in range(extra)
        ]
        participants = [{"key": "transaction_reseller", "value": "res-1"}, *others]
        line = {"catalogItemId": item(BP), "quantity": 1, "participants": participants}
        return {"lineItems": [line], "partnerOnRecordAttestationAccepted": True}

    assert pc.post(f"{CUSTOMER}/carts", cart(5)).status_code == 201
    assert refusal(pc.post(f"{CUSTOMER}/carts", cart(6))) == (400, 800110)


def test_a_reseller_without_an_authorised_relationship_is_refused(load: Load, pc: Api) -> None:
    scenario = northwind()
    scenario["resellers"] = [{"id": "res-1", "name": "Fabrikam", "relationship": "pending"}]
    load(scenario)
    assert refusal(buy(pc, (BP, 1))) == (400, 800112)


def test_copilot_seats_may_not_exceed_base_seats_counting_the_same_cart(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert refusal(buy(pc, (catalogue.COPILOT, 13))) == (400, 800108)
    assert buy(pc, (catalogue.COPILOT, 13), (catalogue.E3, 1)).status_code == 201
    assert refusal(buy(pc, (catalogue.COPILOT, 1))) == (400, 800108)


def test_copilot_needs_a_prerequisite_base_license(load: Load, pc: Api) -> None:
    load(northwind(offer_id=catalogue.VISIO))
    assert refusal(buy(pc, (catalogue.COPILOT, 1))) == (400, 800108)


def test_copilot_increases_beyond_base_seats_are_refused(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    order = buy(pc, (catalogue.COPILOT, 12)).get_json()["orders"][0]
    path = f"{CUSTOMER}/subscriptions/{order['lineItems'][0]['subscriptionId']}"
    sub = pc.get(path).get_json()
    sub["quantity"] = 13
    assert refusal(pc.patch(path, sub)) == (400, 800108)


def test_multi_geo_needs_at_least_five_percent_of_base_seats_rounded_up(
    load: Load, pc: Api
) -> None:
    load(northwind(tranches=[{"quantity": 41, "added": "-40d"}]))
    assert refusal(buy(pc, (catalogue.MULTI_GEO, 2))) == (400, 800108)
    assert buy(pc, (catalogue.MULTI_GEO, 3)).status_code == 201


def test_one_per_customer_offers_allow_a_single_subscription(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert refusal(
        buy(pc, (catalogue.TEAMS_PREMIUM_INTRO, 1), (catalogue.TEAMS_PREMIUM_INTRO, 1))
    ) == (
        400,
        800109,
    )
    assert buy(pc, (catalogue.TEAMS_PREMIUM_INTRO, 1)).status_code == 201
    assert refusal(buy(pc, (catalogue.TEAMS_PREMIUM_INTRO, 1))) == (400, 800109)


def test_a_trial_is_bought_with_exactly_twenty_five_seats_for_one_month(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert refusal(buy(pc, (catalogue.PREMIUM_TRIAL, 10))) == (400, 800002)
    order = buy(pc, (catalogue.PREMIUM_TRIAL, 25)).get_json()["orders"][0]
    sub = pc.get(f"{CUSTOMER}/subscriptions/{order['lineItems'][0]['subscriptionId']}").get_json()
    assert (sub["isTrial"], sub["quantity"], sub["termDuration"]) == (True, 25, "P1M")
    assert sub["refundableQuantity"]["totalQuantity"] == 0
    assert refusal(buy(pc, (catalogue.PREMIUM_TRIAL, 25))) == (400, 800109)


def eligibility(pc: Api, kind: str = "immediate") -> dict[str, bool]:
    """Target offer → eligible, for the test subscription."""
    body = pc.get(f"{SUB}/transitionEligibilities?eligibilityType={kind}").get_json()
    return {
        i["catalogItemId"].rsplit(":", 1)[0]: i["eligibilities"][0]["isEligible"]
        for i in body["items"]
    }


def test_transition_eligibilities_list_the_upward_targets(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert eligibility(pc) == {catalogue.E3: True, catalogue.E5: True}
    assert eligibility(pc, "scheduled") == {catalogue.E3: True, catalogue.E5: True}
    assert pc.get(f"{SUB}/transitionEligibilities?eligibilityType=later").status_code == 400


def test_a_subscription_in_its_cancellation_window_is_not_eligible_now(load: Load, pc: Api) -> None:
    load(northwind(created="-1d", term_start="-1d", tranches=[]))
    body = pc.get(f"{SUB}/transitionEligibilities?eligibilityType=immediate").get_json()
    assert body["items"][0]["eligibilities"][0]["errors"][0]["code"] == 2


def transition(pc: Api, target: str, quantity: int, **extra: Any) -> Any:
    """POST a transition of the test subscription."""
    body = {
        "fromSubscriptionId": "sub-1",
        "toCatalogItemId": item(target),
        "quantity": quantity,
        "transitionType": "transition_with_license_transfer",
        **extra,
    }
    return pc.post(f"{SUB}/transitions", body)


def test_a_full_upgrade_keeps_the_subscription_id_and_moves_the_licenses(
    northwind_loaded: dict[str, Any], pc: Api, graph: Api
) -> None:
    response = transition(pc, catalogue.E5, 12)
    assert response.status_code == 201
    assert response.get_json()["toSubscriptionId"] == "sub-1"
    sub = pc.get(SUB).get_json()
    assert (sub["offerId"], sub["quantity"], sub["commitmentEndDate"]) == (
        item(catalogue.E5),
        12,
        "2026-01-28T00:00:00Z",
    )
    assert sub["refundableQuantity"]["totalQuantity"] == 0
    e5 = catalogue.offer(catalogue.E5)
    assert e5 is not None
    skus = {
        s["skuId"]: s["consumedUnits"]
        for s in graph.get("/v1.0/subscribedSkus").get_json()["value"]
    }
    assert skus[e5.sku_id] == 5


def test_a_partial_upgrade_creates_a_co_terminous_subscription(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    response = transition(pc, catalogue.E3, 4, transitionType="transition_only")
    assert response.status_code == 201
    new_id = response.get_json()["toSubscriptionId"]
    assert new_id != "sub-1"
    source = pc.get(SUB).get_json()
    target = pc.get(f"{CUSTOMER}/subscriptions/{new_id}").get_json()
    assert source["quantity"] == 8
    assert (target["offerId"], target["quantity"]) == (item(catalogue.E3), 4)
    assert target["commitmentEndDate"] == source["commitmentEndDate"]
    assert target["cancellationAllowedUntilDate"] is None


def test_a_downgrade_is_refused(load: Load, pc: Api) -> None:
    load(northwind(offer_id=catalogue.E5))
    assert refusal(transition(pc, catalogue.E3, 1)) == (400, 800113)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (catalogue.EMS_E3, catalogue.EMS_E5),
        (catalogue.WINDOWS_E3, catalogue.E5),
        (catalogue.DEFENDER_P1, catalogue.DEFENDER_P2),
    ],
)
def test_unsupported_upgrade_paths_are_refused(
    load: Load, pc: Api, source: str, target: str
) -> None:
    load(northwind(offer_id=source))
    response = transition(pc, target, 1)
    assert refusal(response) == (400, 800113)
    assert "not supported" in response.get_json()["description"]


def test_only_active_subscriptions_upgrade(load: Load, pc: Api) -> None:
    load(northwind(status="suspended"))
    assert refusal(transition(pc, catalogue.E5, 1)) == (400, 800113)


def test_an_upgrade_to_a_shorter_term_or_beyond_the_seats_is_refused(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert refusal(transition(pc, catalogue.E5, 1, termDuration="P1M")) == (400, 800113)
    assert refusal(transition(pc, catalogue.E5, 13)) == (400, 800002)


def with_e5(end: str) -> dict[str, Any]:
    """Northwind plus an E5 subscription ending on ``end``."""
    scenario = northwind()
    scenario["customers"][0]["subscriptions"].append(
        {"id": "sub-e5", "offer_id": catalogue.E5, "quantity": 2, "commitment_end": end}
    )
    return scenario


def test_an_upgrade_can_move_seats_into_an_existing_target_subscription(
    load: Load, pc: Api
) -> None:
    load(with_e5("2026-06-30"))
    response = transition(pc, catalogue.E5, 3, toSubscriptionId="sub-e5")
    assert response.get_json()["toSubscriptionId"] == "sub-e5"
    assert pc.get(SUB).get_json()["quantity"] == 9
    assert pc.get(f"{CUSTOMER}/subscriptions/sub-e5").get_json()["quantity"] == 5


def test_an_upgrade_into_a_subscription_that_ends_earlier_is_refused(load: Load, pc: Api) -> None:
    load(with_e5("2025-12-31"))
    assert refusal(transition(pc, catalogue.E5, 3, toSubscriptionId="sub-e5")) == (400, 800113)


def test_an_upgrade_answers_409_while_a_renewal_is_pending(
    load: Load, pc: Api, clock: Callable[..., dict[str, Any]]
) -> None:
    load(northwind(commitment_end="+1d"))
    clock(now="2025-03-12T01:00:00Z")
    assert refusal(transition(pc, catalogue.E5, 12)) == (409, 800082)
