"""End of term as Microsoft runs it since 2026: renew, cancel at end of term, or an Extended
Service Term (EST) — and the old grace period for subscriptions outside EST's scope."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.emulator.helpers import Api, northwind

Load = Callable[[dict[str, Any]], dict[str, Any]]
Clock = Callable[..., dict[str, Any]]
SUB = "/v1/customers/cust-1/subscriptions/sub-1"
IN_EST_ERA = "2026-06-01T12:00:00Z"  # EST in force; 2026-06-03 is the last day of the term
CANCEL = [{"scheduleType": "TermEnd", "actionType": "Cancel"}]
RENEW = [{"scheduleType": "TermEnd", "actionType": "RenewToNewTerm"}]
EST = [{"scheduleType": "TermEnd", "actionType": "RenewToExtendedServiceTerm"}]


def fetch(pc: Api) -> dict[str, Any]:
    """GET the test subscription."""
    response = pc.get(SUB)
    assert response.status_code == 200
    body: dict[str, Any] = response.get_json()
    return body


def put(pc: Api, **changes: Any) -> Any:
    """GET, change, PATCH the whole object with If-Match (the safe pattern)."""
    sub = fetch(pc)
    sub.update(changes)
    return pc.patch(SUB, sub, headers={"If-Match": sub["attributes"]["etag"]})


def in_scope(**subscription: Any) -> dict[str, Any]:
    """Northwind's Business Premium, bought 2025-08-05, ending 2026-06-03 (EST scope)."""
    fields: dict[str, Any] = {
        "created": "-300d",
        "term_start": "-300d",
        "commitment_end": "+2d",
        "tranches": [{"quantity": 12, "added": "-300d"}],
    }
    fields.update(subscription)
    return northwind(**fields)


def audit(pc: Api, operation: str) -> list[dict[str, Any]]:
    """The audit records of one operation type."""
    items: list[dict[str, Any]] = pc.get("/v1/auditrecords").get_json()["items"]
    return [item for item in items if item["operationType"] == operation]


def data(record: dict[str, Any]) -> dict[str, str]:
    """An audit record's customizedData as a dict."""
    return {item["key"]: item["value"] for item in record["customizedData"]}


def units(pc: Api) -> dict[str, int]:
    """Active and suspended seats of Business Premium (subscribedskus)."""
    items = pc.get("/v1/customers/cust-1/subscribedskus").get_json()["items"]
    sku = next(item for item in items if item["productSku"]["id"] == "sku-bp")
    return {"active": sku["activeUnits"], "suspended": sku["suspendedUnits"]}


def test_auto_renew_off_without_a_choice_goes_into_a_paid_extended_service_term(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope(auto_renew=False))
    before = fetch(pc)
    assert before["scheduledActions"] == EST
    assert before["extendedServiceTerm"] is None

    clock(advance="P3D")  # past 2026-06-04 00:00
    sub = fetch(pc)
    assert sub["status"] == "active"
    assert sub["autoRenewEnabled"] is False
    assert sub["quantity"] == 12
    assert (sub["termDuration"], sub["billingCycle"]) == ("P1M", "monthly")
    assert sub["effectiveStartDate"] == "2026-06-04T00:00:00Z"
    assert sub["commitmentEndDate"] == "2026-07-03T00:00:00Z"
    assert sub["scheduledActions"] == EST
    assert sub["extendedServiceTerm"] == {
        "startDate": "2026-06-04T00:00:00Z",
        "unitPrice": 22.66,  # Business Premium 22.00 + 3 %
        "baseUnitPrice": 22.0,
        "upliftPercent": 3,
        "currencyCode": "USD",
        "billingCycle": "monthly",
        "previousTermDuration": "P1Y",
    }
    assert units(pc) == {"active": 12, "suspended": 0}  # the service continues
    (started,) = audit(pc, "start_extended_service_term")
    assert data(started)["UnitPrice"] == "22.66" and data(started)["Quantity"] == "12"

    clock(advance="P1M")  # it goes on, month after month, billed each time
    sub = fetch(pc)
    assert sub["status"] == "active"
    assert sub["commitmentEndDate"] == "2026-08-03T00:00:00Z"
    assert sub["extendedServiceTerm"]["startDate"] == "2026-06-04T00:00:00Z"
    assert [data(r)["BillingPeriodEnd"] for r in audit(pc, "renew_extended_service_term")] == [
        "2026-08-03"
    ]


def test_turning_auto_renew_off_the_old_way_lands_in_est(load: Load, pc: Api, clock: Clock) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope())
    assert fetch(pc)["scheduledActions"] == RENEW
    # A client that only flips autoRenewEnabled sends back the stale RenewToNewTerm.
    response = put(pc, autoRenewEnabled=False)
    assert response.status_code == 200
    assert response.get_json()["scheduledActions"] == EST
    clock(advance="P3D")
    assert fetch(pc)["extendedServiceTerm"]["unitPrice"] == 22.66


def test_a_partial_patch_drops_cancel_at_end_of_term_back_to_est(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope())
    assert put(pc, autoRenewEnabled=False, scheduledActions=CANCEL).status_code == 200
    assert fetch(pc)["scheduledActions"] == CANCEL
    # Whole-object PATCH: omitting scheduledActions is not "keep them".
    assert pc.patch(SUB, {"friendlyName": "Sales"}).status_code == 200
    assert fetch(pc)["scheduledActions"] == EST


def test_cancel_at_end_of_term_ends_the_service_for_good(load: Load, pc: Api, clock: Clock) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope())
    response = put(pc, autoRenewEnabled=False, scheduledActions=CANCEL)
    assert response.status_code == 200
    assert response.get_json()["scheduledActions"] == CANCEL
    (update,) = audit(pc, "update_subscription")
    assert json.loads(update["resourceNewValue"])["scheduledActions"] == CANCEL
    assert json.loads(update["resourceOldValue"])["scheduledActions"] == RENEW

    clock(advance="P3D")
    sub = fetch(pc)
    assert sub["status"] == "deleted"
    assert sub["scheduledActions"] == []
    assert sub["extendedServiceTerm"] is None
    assert units(pc) == {"active": 0, "suspended": 0}
    assert len(audit(pc, "cancel_subscription_at_term_end")) == 1

    refused = put(pc, status="active", autoRenewEnabled=True)
    assert refused.status_code == 400
    assert refused.get_json()["code"] == 800106
    assert "cannot be reactivated" in refused.get_json()["description"]
    assert fetch(pc)["status"] == "deleted"


def test_subscriptions_outside_est_scope_keep_the_grace_period(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    # Bought 2025-03-13, before EST's 2025-04-01: the old behaviour.
    load(in_scope(auto_renew=False, created="-445d", term_start="-445d"))
    assert fetch(pc)["scheduledActions"] == []
    refused = put(pc, scheduledActions=EST)
    assert (refused.status_code, refused.get_json()["code"]) == (400, 800116)

    clock(advance="P3D")
    sub = fetch(pc)
    assert sub["status"] == "expired"
    assert sub["extendedServiceTerm"] is None
    assert len(audit(pc, "expire_subscription")) == 1


def test_a_term_ending_before_2026_05_04_still_expires(load: Load, pc: Api, clock: Clock) -> None:
    clock(now="2026-04-20T12:00:00Z")
    load(in_scope(auto_renew=False))  # bought 2025-06-24, ends 2026-04-22
    clock(advance="P3D")
    assert fetch(pc)["status"] == "expired"


def test_an_est_can_be_cancelled_any_time_with_prorated_billing(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope(auto_renew=False))
    clock(advance="P3D")  # in EST since 2026-06-04, month ends 2026-07-03
    clock(advance="P10D")  # 2026-06-14, long after any 7-day window
    sub = fetch(pc)
    assert sub["cancellationAllowedUntilDate"] == "2026-07-04T00:00:00Z"

    response = put(pc, status="deleted")
    assert response.status_code == 200
    assert response.get_json()["status"] == "deleted"
    # A cancellation is a PATCH: audited as `update_subscription` (auditing-resources.md).
    (cancel,) = audit(pc, "update_subscription")
    assert json.loads(cancel["resourceNewValue"])["status"] == "deleted"
    # 19 unused days (06-15 .. 07-03) of a 30-day month, 12 seats at 22.66.
    assert data(cancel)["ProratedRefund"] == f"{22.66 * 12 * 19 / 30:.2f}"


def test_a_subscription_outside_est_cannot_be_cancelled_after_its_window(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope(auto_renew=False))
    refused = put(pc, status="deleted")
    assert (refused.status_code, refused.get_json()["code"]) == (400, 800103)


def test_an_offer_without_a_monthly_term_costs_23_percent_more_in_est(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(
        in_scope(
            auto_renew=False,
            offer_id="CFQ7TTC0RM8K:0002",  # Teams Premium Introductory: P1Y only, 7.00
            sku_id="sku-tp",
            offer_name="Microsoft Teams Premium Introductory Pricing",
        )
    )
    clock(advance="P3D")
    est = fetch(pc)["extendedServiceTerm"]
    assert (est["unitPrice"], est["upliftPercent"]) == (8.61, 23)


def test_suspending_keeps_paying_in_est_unless_cancel_at_end_of_term_is_set(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope())
    suspended = put(pc, status="suspended").get_json()
    assert suspended["autoRenewEnabled"] is False
    assert suspended["scheduledActions"] == EST
    clock(advance="P3D")
    sub = fetch(pc)
    assert sub["status"] == "suspended"
    assert sub["extendedServiceTerm"]["unitPrice"] == 22.66
    assert units(pc) == {"active": 0, "suspended": 12}


def test_suspending_with_cancel_at_end_of_term_ends_the_subscription(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope())
    put(pc, autoRenewEnabled=False, scheduledActions=CANCEL)
    assert put(pc, status="suspended").get_json()["scheduledActions"] == CANCEL
    clock(advance="P3D")
    assert fetch(pc)["status"] == "deleted"


def test_turning_auto_renew_back_on_leaves_est_at_the_end_of_the_month(
    load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope(auto_renew=False))
    clock(advance="P3D")
    assert put(pc, autoRenewEnabled=True).get_json()["scheduledActions"] == RENEW
    clock(advance="P1M")
    sub = fetch(pc)
    assert sub["status"] == "active" and sub["autoRenewEnabled"] is True
    assert sub["extendedServiceTerm"] is None
    assert (sub["termDuration"], sub["effectiveStartDate"]) == ("P1Y", "2026-07-04T00:00:00Z")
    assert sub["commitmentEndDate"] == "2027-07-03T00:00:00Z"
    assert len(audit(pc, "renew_subscription")) == 1


def test_an_unchanged_whole_object_patch_keeps_the_etag(load: Load, pc: Api, clock: Clock) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope(auto_renew=False))
    sub = fetch(pc)
    response = pc.patch(SUB, sub, headers={"If-Match": sub["attributes"]["etag"]})
    assert response.status_code == 200
    assert response.get_json()["attributes"]["etag"] == sub["attributes"]["etag"]


def test_a_renewing_subscription_shows_renew_to_new_term(load: Load, pc: Api, clock: Clock) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope())
    assert fetch(pc)["scheduledActions"] == RENEW
    clock(advance="P3D")
    sub = fetch(pc)
    assert (sub["status"], sub["termDuration"]) == ("active", "P1Y")
    assert sub["extendedServiceTerm"] is None


def test_unknown_scheduled_actions_are_refused(load: Load, pc: Api, clock: Clock) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope())
    bad = [{"scheduleType": "CustomDate", "actionType": "Transition"}]
    refused = put(pc, autoRenewEnabled=False, scheduledActions=bad)
    assert (refused.status_code, refused.get_json()["code"]) == (400, 800002)
    assert fetch(pc)["scheduledActions"] == RENEW


def test_scenarios_set_the_end_of_term_choice(
    emu: FlaskClient, load: Load, pc: Api, clock: Clock
) -> None:
    clock(now=IN_EST_ERA)
    load(in_scope(end_of_term="cancel"))
    sub = fetch(pc)
    assert (sub["autoRenewEnabled"], sub["scheduledActions"]) == (False, CANCEL)

    too_old = in_scope(id="sub-2", end_of_term="est", created="-445d", term_start="-445d")
    answer = emu.post("/_emulator/scenario", json=too_old)
    assert answer.status_code == 400 and "est" in answer.get_json()["error"]
    contradiction = in_scope(id="sub-3", end_of_term="renew", auto_renew=False)
    assert emu.post("/_emulator/scenario", json=contradiction).status_code == 400
