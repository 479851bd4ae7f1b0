"""Subscribed SKUs, provisioning status and transitions against Microsoft's documented examples.

As in test_documented_shapes.py, each test names the page of Partner Center's developer
documentation (snapshot in ``../shared/reference/partner-center-docs/``) whose example it
follows; the expected shapes are written here from those examples.
"""

from __future__ import annotations

from typing import Any

from emulator import catalogue
from tests.emulator.helpers import SKU_BP, Api, northwind
from tests.emulator.test_documented_shapes import CUSTOMER, SUB, Load, assert_shape

# get-a-list-of-available-licenses.md, "Response example" (one item of the collection).
SUBSCRIBED_SKU = {
    "availableUnits": int,
    "activeUnits": int,
    "consumedUnits": int,
    "suspendedUnits": int,
    "totalUnits": int,
    "warningUnits": int,
    "productSku": {
        "id": str,
        "name": str,
        "skuPartNumber": str,
        "targetType": str,
        "licenseGroupId": str,
    },
    "servicePlans": [
        {
            "displayName": str,
            "serviceName": str,
            "id": str,
            "capabilityStatus": str,
            "targetType": str,
        }
    ],
    "capabilityStatus": str,
    "attributes": {"objectType": str},
}


def test_subscribed_skus_have_the_documented_shape(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-a-list-of-available-licenses.md: each item names its license group (`group1`:
    managed in Entra ID) and its service plans."""
    body = pc.get(f"{CUSTOMER}/subscribedskus").get_json()
    assert_shape(body, {"totalCount": int, "items": [dict], "attributes": {"objectType": str}})
    item = next(i for i in body["items"] if i["productSku"]["id"] == SKU_BP)
    assert_shape(item, SUBSCRIBED_SKU)
    assert item["productSku"]["licenseGroupId"] == "group1"
    assert item["attributes"]["objectType"] == "SubscribedSku"
    assert {p["capabilityStatus"] for p in item["servicePlans"]} == {"Enabled"}


def test_partner_center_and_graph_name_the_same_service_plans(
    northwind_loaded: dict[str, Any], pc: Api, graph: Api
) -> None:
    """A service plan's `id` in Partner Center is the `servicePlanId` Graph lists for the
    same SKU (what `assignedLicense.disabledPlans` takes)."""
    pc_item = next(
        i
        for i in pc.get(f"{CUSTOMER}/subscribedskus").get_json()["items"]
        if i["productSku"]["id"] == SKU_BP
    )
    graph_item = next(
        s for s in graph.get("/v1.0/subscribedSkus").get_json()["value"] if s["skuId"] == SKU_BP
    )
    assert {p["id"] for p in pc_item["servicePlans"]} == {
        p["servicePlanId"] for p in graph_item["servicePlans"]
    }


def test_subscribed_skus_are_filtered_by_license_group(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-a-list-of-available-licenses-by-license-group.md: `licenseGroupIds` Group1
    (Entra ID) and Group2 (Minecraft), repeatable; the emulator sells no Minecraft."""
    url = f"{CUSTOMER}/subscribedskus"
    everything = pc.get(url).get_json()["items"]
    both = pc.get(f"{url}?licenseGroupIds=Group1&licenseGroupIds=Group2").get_json()["items"]
    assert both == everything and everything
    assert pc.get(f"{url}?licenseGroupIds=Group1").get_json()["items"] == everything
    assert pc.get(f"{url}?licenseGroupIds=Group2").get_json()["items"] == []
    assert pc.get(f"{url}?licenseGroupIds=Group9").status_code == 400


def test_provisioning_status_has_the_documented_shape_with_the_end_date(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-subscription-provisioning-status.md: `skuId, status, quantity, endDate`; the end
    date is the subscription's (subscription-resources.md, SubscriptionProvisioningStatus)."""
    body = pc.get(f"{SUB}/provisioningstatus").get_json()
    assert_shape(
        body,
        {"skuId": str, "status": str, "quantity": int, "endDate": str, "attributes": dict},
    )
    sub = pc.get(SUB).get_json()
    assert (body["skuId"], body["status"], body["quantity"]) == (SKU_BP, "success", 12)
    assert body["endDate"] == sub["commitmentEndDate"]
    assert body["attributes"]["objectType"] == "SubscriptionProvisioningStatus"


# transition-a-new-commerce-subscription.md, "Get Transition Eligibilities" response example.
ELIGIBILITY = {
    "operationId": str,
    "catalogItemId": str,
    "title": str,
    "description": str,
    "quantity": int,
    "eligibilities": [{"isEligible": bool, "transitionType": str, "errors": list}],
    "subscriptionEligibilities": list,
    "attributes": {"objectType": str},
}
TARGET_SUBSCRIPTION = {
    "isEligible": bool,
    "subscriptionId": str,
    "subscriptionFriendlyName": str,
    "subscriptionTermDuration": str,
    "subscriptionBillingCycle": str,
    "errors": list,
}
# The same page, "Post Transition" response example, and transition-resources.md.
TRANSITION = {
    "fromCatalogItemId": str,
    "fromSubscriptionId": str,
    "toCatalogItemId": str,
    "toSubscriptionId": str,
    "quantity": int,
    "termDuration": str,
    "billingCycle": str,
    "transitionType": str,
    "Events": [{"name": str, "status": str, "timestamp": str, "attributes": dict}],
    "attributes": {"objectType": str},
}


def with_e5(end: str, **e5: Any) -> dict[str, Any]:
    """Northwind (Business Premium, 12 seats, P1Y) plus an E5 subscription ending on ``end``."""
    scenario = northwind()
    scenario["customers"][0]["subscriptions"].append(
        {
            "id": "sub-e5",
            "offer_id": catalogue.E5,
            "quantity": 2,
            "created": "-40d",
            "term_start": "-40d",
            "commitment_end": end,
            **e5,
        }
    )
    return scenario


def test_transition_eligibilities_have_the_documented_shape(load: Load, pc: Api) -> None:
    """Each target carries `operationId, description, quantity`, one eligibility per
    transition type, and the existing subscriptions of the target that could receive the
    seats, with the documented codes why not (4: it ends before the source)."""
    load(with_e5("2026-06-30"))
    body = pc.get(f"{SUB}/transitionEligibilities?eligibilityType=immediate").get_json()
    for item in body["items"]:
        assert_shape(item, ELIGIBILITY)
        assert item["quantity"] == 12
        assert {e["transitionType"] for e in item["eligibilities"]} == {
            "transition_only",
            "transition_with_license_transfer",
        }
    e5 = next(
        i for i in body["items"] if i["catalogItemId"] == catalogue.catalog_item_id(catalogue.E5)
    )
    assert len({i["operationId"] for i in body["items"]}) == 1
    (target,) = e5["subscriptionEligibilities"]
    assert_shape(target, TARGET_SUBSCRIPTION)
    assert (target["subscriptionId"], target["isEligible"]) == ("sub-e5", True)


def test_a_target_subscription_ending_before_the_source_is_not_eligible(
    load: Load, pc: Api
) -> None:
    """transition-a-new-commerce-subscription.md, "Subscription eligibility errors": code 4
    when the target's term ends before the source's, code 3 when its term is shorter."""
    load(with_e5("2025-12-31", term="P1M"))
    body = pc.get(f"{SUB}/transitionEligibilities?eligibilityType=immediate").get_json()
    e5 = next(
        i for i in body["items"] if i["catalogItemId"] == catalogue.catalog_item_id(catalogue.E5)
    )
    (target,) = e5["subscriptionEligibilities"]
    assert target["isEligible"] is False
    assert {e["code"] for e in target["errors"]} == {3, 4}


def test_scheduled_eligibilities_list_no_target_subscriptions(load: Load, pc: Api) -> None:
    """The same page: the list is empty for a scheduled transition (or a trial source)."""
    load(with_e5("2026-06-30"))
    body = pc.get(f"{SUB}/transitionEligibilities?eligibilityType=scheduled").get_json()
    assert all(i["subscriptionEligibilities"] == [] for i in body["items"])


def test_a_transition_answers_the_documented_transition_with_its_events(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """Post Transition: 200 with the Transition; its `Events` (Conversion, then
    LicenseReassignment for a license transfer) carry `name, status, timestamp`; there is no
    top-level `status`. get-transitions.md lists it afterwards under `transition`."""
    body = {
        "toCatalogItemId": catalogue.catalog_item_id(catalogue.E5),
        "quantity": 12,
        "transitionType": "transition_with_license_transfer",
    }
    response = pc.post(f"{SUB}/transitions", body)
    assert response.status_code == 200
    done = response.get_json()
    assert_shape(done, TRANSITION)
    assert "status" not in done
    assert [(e["name"], e["status"]) for e in done["Events"]] == [
        ("Conversion", "Started"),
        ("Conversion", "Completed"),
        ("LicenseReassignment", "Completed"),
    ]
    assert done["attributes"]["objectType"] == "Transition"
    history = pc.get(f"{SUB}/transitions").get_json()
    assert history["transition"] == [done]
    assert history["attributes"]["objectType"] == "Collection"
    only = pc.get(f"{SUB}/transitions?operationId={done['operationId']}").get_json()
    assert only["transition"] == [done]
