"""Partner Center customers and subscriptions: shapes, paging, PATCH and the NCE rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from emulator.catalogue import catalog_item_id
from tests.emulator.helpers import BP, SKU_BP, TENANT, Api, northwind

Load = Callable[[dict[str, Any]], dict[str, Any]]
Clock = Callable[..., dict[str, Any]]
SUB = "/v1/customers/cust-1/subscriptions/sub-1"


def fetch(pc: Api) -> dict[str, Any]:
    """GET the test subscription."""
    response = pc.get(SUB)
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def put(pc: Api, **changes: Any) -> Any:
    """The safe pattern: GET, change, PATCH the whole object with If-Match."""
    sub = fetch(pc)
    sub.update(changes)
    return pc.patch(SUB, sub, headers={"If-Match": sub["attributes"]["etag"]})


def refusal(response: Any) -> tuple[int, int]:
    """Status and Partner Center error code."""
    return response.status_code, response.get_json()["code"]


def many_customers(count: int, reseller: str | None = None) -> dict[str, Any]:
    """A scenario with numbered customers."""
    return {
        "resellers": [{"id": "res-9", "name": "Reseller Nine"}],
        "customers": [
            {"id": f"c-{n:03d}", "name": f"Company {n}", "reseller_id": reseller if n % 2 else None}
            for n in range(count)
        ],
    }


def test_customers_are_listed_as_a_partner_center_collection(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    body = pc.get("/v1/customers").get_json()
    assert body["totalCount"] == 1
    assert body["attributes"] == {"objectType": "Collection"}
    customer = body["items"][0]
    assert customer["id"] == "cust-1"
    assert customer["companyProfile"]["tenantId"] == TENANT
    assert customer["companyProfile"]["domain"] == "northwind.example"
    assert customer["companyProfile"]["companyName"] == "Northwind Traders"
    assert customer["associatedPartnerId"] == "res-1"
    assert customer["attributes"]["objectType"] == "Customer"


def test_customer_pages_continue_with_the_continuation_token_header(load: Load, pc: Api) -> None:
    load(many_customers(5))
    first = pc.get("/v1/customers?size=2").get_json()
    ids = [c["id"] for c in first["items"]]
    next_link = first["links"]["next"]
    while next_link:
        header = {h["key"]: h["value"] for h in next_link["headers"]}
        page = pc.get("/v1/customers", headers=header).get_json()
        ids += [c["id"] for c in page["items"]]
        next_link = page["links"].get("next")
    assert ids == ["c-000", "c-001", "c-002", "c-003", "c-004"]


def test_customer_pages_continue_by_following_the_next_uri(load: Load, pc: Api) -> None:
    load(many_customers(3))
    first = pc.get("/v1/customers?size=2").get_json()
    uri = first["links"]["next"]["uri"]
    assert uri.startswith("/customers?")
    second = pc.get("/v1" + uri).get_json()
    assert [c["id"] for c in second["items"]] == ["c-002"]
    assert "next" not in second["links"]


def test_customers_can_be_filtered_by_indirect_reseller(load: Load, pc: Api) -> None:
    load(many_customers(6, reseller="res-9"))
    spec = json.dumps({"Field": "IndirectReseller", "Value": "res-9", "Operator": "starts_with"})
    body = pc.get(f"/v1/customers?filter={quote(spec)}").get_json()
    assert [c["id"] for c in body["items"]] == ["c-001", "c-003", "c-005"]
    assert all(c["associatedPartnerId"] == "res-9" for c in body["items"])


def test_a_malformed_filter_or_size_is_refused(northwind_loaded: dict[str, Any], pc: Api) -> None:
    assert refusal(pc.get("/v1/customers?filter=nope")) == (400, 800002)
    assert refusal(pc.get("/v1/customers?size=-1")) == (400, 800002)
    assert refusal(pc.get("/v1/customers", headers={"MS-ContinuationToken": "!!"})) == (
        400,
        800002,
    )


def test_unknown_customers_and_subscriptions_answer_404(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert refusal(pc.get("/v1/customers/nobody")) == (404, 800404)
    assert refusal(pc.get("/v1/customers/cust-1/subscriptions/nothing")) == (404, 800404)
    assert refusal(pc.get("/v1/no/such/route")) == (404, 800404)


def test_a_subscription_carries_the_partner_center_fields(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    sub = fetch(pc)
    assert {
        "id",
        "offerId",
        "offerName",
        "friendlyName",
        "quantity",
        "status",
        "autoRenewEnabled",
        "isTrial",
        "termDuration",
        "billingCycle",
        "creationDate",
        "effectiveStartDate",
        "commitmentEndDate",
        "cancellationAllowedUntilDate",
        "refundableQuantity",
        "partnerId",
        "scheduledNextTermInstructions",
        "attributes",
    } <= sub.keys()
    assert (
        sub["offerId"] == catalog_item_id(BP)
        and sub["quantity"] == 12
        and sub["partnerId"] == "res-1"
    )
    assert sub["refundableQuantity"] == {
        "totalQuantity": 2,
        "details": [{"quantity": 2, "allowedUntilDateTime": "2025-03-14T12:00:00Z"}],
    }


def test_listed_subscriptions_leave_out_refundable_quantity(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    body = pc.get("/v1/customers/cust-1/subscriptions").get_json()
    assert [s["id"] for s in body["items"]] == ["sub-1"]
    assert "refundableQuantity" not in body["items"][0]


def test_an_increase_adds_its_own_tranche_and_changes_the_etag(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    before = fetch(pc)
    response = put(pc, quantity=15)
    assert response.status_code == 200
    after = response.get_json()
    assert after["quantity"] == 15
    assert after["attributes"]["etag"] != before["attributes"]["etag"]
    assert after["refundableQuantity"]["details"] == [
        {"quantity": 2, "allowedUntilDateTime": "2025-03-14T12:00:00Z"},
        {"quantity": 3, "allowedUntilDateTime": "2025-03-17T12:00:00Z"},
    ]


def test_a_decrease_within_the_refundable_tranches_is_allowed(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    response = put(pc, quantity=10)
    assert response.status_code == 200
    assert response.get_json()["refundableQuantity"] == {"totalQuantity": 0, "details": []}


def test_a_decrease_beyond_the_refundable_tranches_is_refused(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert refusal(put(pc, quantity=9)) == (400, 800090)
    assert fetch(pc)["quantity"] == 12


def test_a_decrease_is_refused_once_the_seven_days_have_passed(
    northwind_loaded: dict[str, Any], pc: Api, clock: Clock
) -> None:
    clock(advance="P4D")
    assert fetch(pc)["refundableQuantity"]["totalQuantity"] == 0
    assert refusal(put(pc, quantity=11)) == (400, 800090)


def test_a_decrease_never_goes_below_one_seat(load: Load, pc: Api) -> None:
    load(northwind(tranches=[{"quantity": 3, "added": "-1d"}]))
    assert refusal(put(pc, quantity=0)) == (400, 800101)


def test_a_decrease_never_goes_below_the_assigned_seats(load: Load, pc: Api) -> None:
    load(northwind(tranches=[{"quantity": 8, "added": "-1d"}]))
    assert refusal(put(pc, quantity=4)) == (400, 800102)
    assert put(pc, quantity=5).status_code == 200


def test_cancellation_is_allowed_within_seven_days_of_term_start(load: Load, pc: Api) -> None:
    load(northwind(created="-2d", term_start="-2d", tranches=[]))
    response = put(pc, status="deleted")
    assert response.status_code == 200
    assert response.get_json()["status"] == "deleted"
    assert response.get_json()["autoRenewEnabled"] is False
    assert refusal(put(pc, status="active")) == (400, 800106)


def test_cancellation_after_seven_days_of_term_start_is_refused(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    assert refusal(put(pc, status="deleted")) == (400, 800103)


def test_a_trial_quantity_and_status_cannot_change(load: Load, pc: Api) -> None:
    load(
        northwind(
            trial=True,
            offer_id="CFQ7TTC0LCHC:0001",
            term="P1M",
            tranches=[],
            created="-3d",
            term_start="-3d",
        )
    )
    sub = fetch(pc)
    assert sub["isTrial"] is True and sub["quantity"] == 25
    assert refusal(put(pc, quantity=26)) == (400, 800104)
    assert refusal(put(pc, status="suspended")) == (400, 800104)
    assert put(pc, friendlyName="Trying it").status_code == 200


def test_suspension_turns_auto_renew_off_and_resuming_does_not_turn_it_on(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    suspended = put(pc, status="suspended").get_json()
    assert suspended["status"] == "suspended" and suspended["autoRenewEnabled"] is False
    assert refusal(put(pc, quantity=13)) == (400, 800106)
    assert refusal(put(pc, autoRenewEnabled=True)) == (400, 800106)
    resumed = put(pc, status="active").get_json()
    assert resumed["status"] == "active" and resumed["autoRenewEnabled"] is False


def test_scheduled_changes_need_an_active_subscription_with_auto_renew(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    put(pc, autoRenewEnabled=False)
    instructions = {"quantity": 8}
    response = put(pc, scheduledNextTermInstructions=instructions)
    assert refusal(response) == (400, 800105)
    put(pc, autoRenewEnabled=True)
    scheduled = put(pc, scheduledNextTermInstructions=instructions).get_json()
    assert scheduled["scheduledNextTermInstructions"] == instructions


def test_a_quantity_change_deletes_the_scheduled_changes(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    put(pc, scheduledNextTermInstructions={"quantity": 8})
    after = put(pc, quantity=13).get_json()
    assert after["scheduledNextTermInstructions"] is None


def test_a_scheduled_downgrade_is_refused(northwind_loaded: dict[str, Any], pc: Api) -> None:
    down = {"product": {"productId": "CFQ7TTC0LH18", "skuId": "0001"}, "quantity": 12}
    assert refusal(put(pc, scheduledNextTermInstructions=down)) == (400, 800113)


def test_a_patch_that_omits_auto_renew_and_instructions_turns_them_off_and_deletes_them(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    put(pc, scheduledNextTermInstructions={"quantity": 8})
    response = pc.patch(SUB, {"friendlyName": "Office seats"})
    assert response.status_code == 200
    sub = fetch(pc)
    assert sub["friendlyName"] == "Office seats"
    assert sub["autoRenewEnabled"] is False
    assert sub["scheduledNextTermInstructions"] is None
    assert sub["quantity"] == 12


def test_a_stale_if_match_etag_is_refused_with_412(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    stale = fetch(pc)
    assert put(pc, quantity=13).status_code == 200
    stale["quantity"] = 14
    response = pc.patch(SUB, stale, headers={"If-Match": stale["attributes"]["etag"]})
    assert refusal(response) == (412, 800412)
    assert fetch(pc)["quantity"] == 13


def test_a_repeated_request_id_replays_the_first_response_without_applying_again(
    emu: FlaskClient, northwind_loaded: dict[str, Any], pc: Api
) -> None:
    sub = fetch(pc)
    sub["quantity"] = 13
    headers = {"MS-RequestId": "same-operation"}
    first = pc.patch(SUB, sub, headers=headers)
    sub["quantity"] = 20
    second = pc.patch(SUB, sub, headers=headers)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json() == first.get_json()
    assert second.headers["MS-RequestId"] == "same-operation"
    assert fetch(pc)["quantity"] == 13
    log = emu.get("/_emulator/state").get_json()["requests"]
    assert [e["replayed"] for e in log if e["method"] == "PATCH"] == [False, True]


def test_a_replayed_refusal_is_replayed_too(northwind_loaded: dict[str, Any], pc: Api) -> None:
    headers = {"MS-RequestId": "refused-once"}
    first = pc.patch(SUB, {"quantity": 1, "autoRenewEnabled": True}, headers=headers)
    second = pc.patch(SUB, {"quantity": 1, "autoRenewEnabled": True}, headers=headers)
    assert refusal(first) == refusal(second) == (400, 800090)


def test_the_update_cap_refuses_further_updates(load: Load, pc: Api) -> None:
    load(northwind(update_count=1199))
    assert put(pc, quantity=13).status_code == 200
    assert refusal(put(pc, quantity=14)) == (400, 800107)


def test_malformed_patch_bodies_are_refused(northwind_loaded: dict[str, Any], pc: Api) -> None:
    assert refusal(pc.patch(SUB, ["not", "an", "object"])) == (400, 800002)
    assert refusal(put(pc, quantity="twelve")) == (400, 800002)
    assert refusal(put(pc, status="paused")) == (400, 800002)


def test_updates_answer_409_while_a_renewal_is_pending(load: Load, pc: Api, clock: Clock) -> None:
    load(northwind(commitment_end="+1d"))
    clock(now="2025-03-12T00:30:00Z")
    assert refusal(put(pc, quantity=13)) == (409, 800082)
    clock(now="2025-03-12T02:00:00Z")
    assert put(pc, quantity=13).status_code == 200


def test_renewal_starts_a_new_term_with_one_fresh_tranche_and_applies_instructions(
    load: Load, pc: Api, clock: Clock
) -> None:
    load(northwind(commitment_end="+1d"))
    put(pc, scheduledNextTermInstructions={"quantity": 8})
    clock(advance="P8D")
    sub = fetch(pc)
    assert sub["quantity"] == 8
    assert sub["effectiveStartDate"] == "2025-03-12T00:00:00Z"
    assert sub["commitmentEndDate"] == "2026-03-11T00:00:00Z"
    assert sub["scheduledNextTermInstructions"] is None
    assert sub["autoRenewEnabled"] is True
    clock(now="2025-03-13T00:00:00Z")
    renewed = fetch(pc)
    assert renewed["refundableQuantity"] == {
        "totalQuantity": 8,
        "details": [{"quantity": 8, "allowedUntilDateTime": "2025-03-19T02:00:00Z"}],
    }
    assert renewed["cancellationAllowedUntilDate"] == "2025-03-19T02:00:00Z"


def test_a_scheduled_upgrade_changes_the_offer_at_renewal(
    load: Load, pc: Api, clock: Clock
) -> None:
    load(northwind(commitment_end="+1d", sku_id=None))
    upgrade = {"product": {"productId": "CFQ7TTC0LFLX", "skuId": "0001", "termDuration": "P1M"}}
    assert put(pc, scheduledNextTermInstructions=upgrade).status_code == 200
    clock(advance="P2D")
    sub = fetch(pc)
    assert (sub["offerId"], sub["offerName"], sub["termDuration"], sub["quantity"]) == (
        catalog_item_id("CFQ7TTC0LFLX:0001"),
        "Microsoft 365 E3",
        "P1M",
        12,
    )


def test_a_subscription_without_auto_renew_expires_at_term_end(
    load: Load, pc: Api, clock: Clock
) -> None:
    load(northwind(commitment_end="+1d", auto_renew=False))
    clock(advance="P1D")
    assert fetch(pc)["status"] == "active"
    clock(advance="PT12H")
    sub = fetch(pc)
    assert sub["status"] == "expired" and sub["autoRenewEnabled"] is False
    assert refusal(put(pc, quantity=13)) == (400, 800106)


def test_renewals_repeat_as_the_clock_passes_several_terms(
    load: Load, pc: Api, clock: Clock
) -> None:
    load(northwind(term="P1M", commitment_end="+1d"))
    clock(advance="P95D")
    sub = fetch(pc)
    assert sub["effectiveStartDate"] == "2025-06-12T00:00:00Z"
    assert sub["commitmentEndDate"] == "2025-07-11T00:00:00Z"


def test_a_trial_with_auto_renew_converts_to_paid_after_one_month(
    load: Load, pc: Api, clock: Clock
) -> None:
    load(
        northwind(
            trial=True, offer_id="CFQ7TTC0LCHC:0001", tranches=[], created="-3d", term_start="-3d"
        )
    )
    clock(advance="P1M")
    sub = fetch(pc)
    assert sub["isTrial"] is False
    assert sub["offerId"] == catalog_item_id(BP)
    assert sub["quantity"] == 25
    assert sub["termDuration"] == "P1Y"
    assert sub["refundableQuantity"]["totalQuantity"] == 25


def test_a_trial_without_auto_renew_expires_after_one_month(
    load: Load, pc: Api, clock: Clock
) -> None:
    load(northwind(trial=True, offer_id="CFQ7TTC0LCHC:0001", tranches=[], auto_renew=False))
    clock(advance="P1M")
    assert fetch(pc)["status"] == "expired"


def test_subscribed_skus_count_active_suspended_and_assigned_units(load: Load, pc: Api) -> None:
    scenario = northwind()
    scenario["customers"][0]["subscriptions"].append(
        {"id": "sub-2", "offer_id": BP, "sku_id": SKU_BP, "quantity": 3, "status": "suspended"}
    )
    load(scenario)
    body = pc.get("/v1/customers/cust-1/subscribedskus").get_json()
    assert body["items"][0] | {"servicePlans": [], "attributes": {}} == {
        "availableUnits": 7,
        "activeUnits": 12,
        "consumedUnits": 5,
        "suspendedUnits": 3,
        "totalUnits": 15,
        "warningUnits": 0,
        "capabilityStatus": "Enabled",
        "productSku": {
            "id": SKU_BP,
            "name": "Microsoft 365 Business Premium",
            "skuPartNumber": "SPB",
            "targetType": "User",
        },
        "servicePlans": [],
        "attributes": {},
    }


def test_provisioning_status_names_the_graph_sku(northwind_loaded: dict[str, Any], pc: Api) -> None:
    body = pc.get(f"{SUB}/provisioningstatus").get_json()
    assert body["skuId"] == SKU_BP and body["quantity"] == 12


def test_audit_records_list_recent_changes(
    northwind_loaded: dict[str, Any], pc: Api, clock: Clock
) -> None:
    put(pc, quantity=13)
    clock(advance="P1D")
    put(pc, friendlyName="Renamed")
    records = pc.get("/v1/auditrecords").get_json()["items"]
    assert [r["operationType"] for r in records] == ["update_subscription", "update_subscription"]
    assert {r["resourceType"] for r in records} == {"subscription"}
    assert records[0]["customerId"] == "cust-1"
    assert json.loads(records[0]["resourceNewValue"])["quantity"] == 13
    recent = pc.get("/v1/auditrecords?startDate=2025-03-11T00:00:00Z").get_json()["items"]
    assert len(recent) == 1
    assert refusal(pc.get("/v1/auditrecords?startDate=later")) == (400, 800002)


def test_resellers_are_listed_as_indirect_relationships(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    items = pc.get("/v1/relationships").get_json()["items"]
    assert [(r["id"], r["state"], r["mpnId"]) for r in items] == [("res-1", "Active", "1234567")]


@pytest.mark.parametrize(
    ("changes", "code"),
    [({"quantity": 9}, 800090), ({"quantity": 0}, 800101), ({"status": "deleted"}, 800103)],
)
def test_refusals_change_nothing(
    northwind_loaded: dict[str, Any], pc: Api, changes: dict[str, Any], code: int
) -> None:
    before = fetch(pc)
    assert refusal(put(pc, **changes)) == (400, code)
    assert fetch(pc) == before
