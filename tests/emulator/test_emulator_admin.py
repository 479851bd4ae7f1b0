"""The admin API: reset, scenario, state, clock, faults, throttle."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.emulator.helpers import BP, NOW, SKU_BP, TENANT, Api, northwind

Load = Callable[[dict[str, Any]], dict[str, Any]]
SUB = "/v1/customers/cust-1/subscriptions/sub-1"


def state(emu: FlaskClient) -> dict[str, Any]:
    """The emulator's whole state."""
    body: dict[str, Any] = emu.get("/_emulator/state").get_json()
    return body


def test_scenario_relative_dates_are_resolved_against_the_emulator_clock(
    emu: FlaskClient, load: Load
) -> None:
    load(northwind(created="-40d", term_start="-40d"))
    sub = state(emu)["customers"][0]["subscriptions"][0]
    assert sub["creationDate"] == "2025-01-29T12:00:00Z"
    assert sub["effectiveStartDate"] == "2025-01-29T00:00:00Z"
    assert sub["commitmentEndDate"] == "2026-01-28T00:00:00Z"
    assert sub["refundableQuantity"]["details"] == [
        {"quantity": 2, "allowedUntilDateTime": "2025-03-14T12:00:00Z"}
    ]


def test_scenario_accepts_iso_dates_and_hours(emu: FlaskClient, load: Load) -> None:
    load(northwind(created="2024-06-01T08:30:00Z", tranches=[{"quantity": 3, "added": "-2h"}]))
    sub = state(emu)["customers"][0]["subscriptions"][0]
    assert sub["creationDate"] == "2024-06-01T08:30:00Z"
    assert sub["quantity"] == 3
    assert sub["refundableQuantity"]["details"][0]["allowedUntilDateTime"] == "2025-03-17T10:00:00Z"


def test_quantity_is_the_sum_of_tranches_or_one_tranche_at_term_start(
    emu: FlaskClient, load: Load
) -> None:
    scenario = northwind()
    scenario["customers"][0]["subscriptions"].append(
        {"id": "sub-2", "offer_id": BP, "sku_id": SKU_BP, "quantity": 7, "term_start": "-1d"}
    )
    load(scenario)
    subs = {s["id"]: s for s in state(emu)["customers"][0]["subscriptions"]}
    assert subs["sub-1"]["quantity"] == 12
    assert subs["sub-2"]["quantity"] == 7
    assert subs["sub-2"]["refundableQuantity"]["totalQuantity"] == 7


def test_assigned_generates_users_besides_the_listed_ones(emu: FlaskClient, load: Load) -> None:
    load(northwind())
    users = state(emu)["customers"][0]["users"]
    assert len(users) == 5
    assert users[0] == {
        "id": "u-1",
        "upn": "ann@northwind.example",
        "name": "Ann Lee",
        "licenses": [SKU_BP],
    }
    assert all(u["licenses"] == [SKU_BP] for u in users)


def test_scenario_loading_adds_to_the_current_state(emu: FlaskClient, load: Load) -> None:
    load(northwind())
    load({"customers": [{"id": "cust-2", "name": "Contoso"}]})
    assert [c["id"] for c in state(emu)["customers"]] == ["cust-1", "cust-2"]


def test_an_invalid_scenario_is_refused_with_400(emu: FlaskClient) -> None:
    response = emu.post("/_emulator/scenario", json={"customers": [{"name": "no id"}]})
    assert response.status_code == 400
    assert "id" in response.get_json()["error"]
    bad_date = northwind(created="yesterday")
    assert emu.post("/_emulator/scenario", json=bad_date).status_code == 400


def test_reset_empties_the_state_and_returns_to_the_real_clock(
    emu: FlaskClient, load: Load, pc: Api
) -> None:
    load(northwind())
    pc.get("/v1/customers")
    response = emu.post("/_emulator/reset")
    assert response.status_code == 200
    body = state(emu)
    assert body["customers"] == [] and body["requests"] == []
    assert body["now"] != NOW and body["frozen"] is False


def test_state_logs_every_api_request_with_its_request_id(
    emu: FlaskClient, northwind_loaded: dict[str, Any], pc: Api, graph: Api
) -> None:
    pc.get("/v1/customers/cust-1", headers={"MS-RequestId": "r-1"})
    graph.get("/v1.0/users")
    pc.get("/v1/customers/nobody")
    log = state(emu)["requests"]
    assert [(e["method"], e["path"], e["status"], e["request_id"]) for e in log] == [
        ("GET", "/v1/customers/cust-1", 200, "r-1"),
        ("GET", "/v1.0/users", 200, None),
        ("GET", "/v1/customers/nobody", 404, None),
    ]
    assert log[0]["at"] == NOW


def test_state_can_be_limited_to_one_customer_without_users_or_requests(
    emu: FlaskClient, load: Load
) -> None:
    load(northwind())
    load({"customers": [{"id": "cust-2", "name": "Contoso"}]})
    body = emu.get("/_emulator/state?customer=cust-1&users=0&requests=0").get_json()
    assert [c["id"] for c in body["customers"]] == ["cust-1"]
    assert body["customers"][0]["users"] == []
    assert body["customers"][0]["tenant_id"] == TENANT


def test_clock_can_be_set_frozen_and_advanced_by_iso_durations(emu: FlaskClient) -> None:
    response = emu.post("/_emulator/clock", json={"now": "2025-05-01T00:00:00Z"})
    assert response.get_json() == {"now": "2025-05-01T00:00:00Z", "frozen": True}
    response = emu.post("/_emulator/clock", json={"advance": "P1DT2H30M"})
    assert response.get_json()["now"] == "2025-05-02T02:30:00Z"
    response = emu.post("/_emulator/clock", json={"advance": "P1M"})
    assert response.get_json()["now"] == "2025-06-02T02:30:00Z"


def test_clock_can_run_on_from_a_set_moment(emu: FlaskClient) -> None:
    body = emu.post(
        "/_emulator/clock", json={"now": "2030-01-01T00:00:00Z", "frozen": False}
    ).get_json()
    assert body["frozen"] is False
    assert body["now"].startswith("2030-01-01T00:0")


def test_clock_refuses_malformed_requests(emu: FlaskClient) -> None:
    assert emu.post("/_emulator/clock", json={"advance": "eight days"}).status_code == 400
    assert emu.post("/_emulator/clock", json={"now": "soon"}).status_code == 400
    assert emu.post("/_emulator/clock", json={}).status_code == 400


def test_a_fault_with_times_fires_that_many_times_then_stops(
    emu: FlaskClient, northwind_loaded: dict[str, Any], pc: Api
) -> None:
    response = emu.post(
        "/_emulator/faults",
        json={
            "method": "GET",
            "path": "/subscriptions/",
            "status": 429,
            "times": 2,
            "retry_after": 3,
        },
    )
    assert response.status_code == 201
    first, second, third = (pc.get(SUB) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "3"
    assert first.get_json()["code"] == 800429
    assert pc.get("/v1/customers/cust-1").status_code == 200
    log = state(emu)["requests"]
    assert [e["fault"] for e in log] == [True, True, False, False]


def test_faults_without_times_fire_always_until_cleared(
    emu: FlaskClient, northwind_loaded: dict[str, Any], pc: Api
) -> None:
    emu.post(
        "/_emulator/faults",
        json=[{"path": "^/v1/customers$", "status": 500}, {"path": "sub-1", "status": 409}],
    )
    assert [pc.get("/v1/customers").status_code for _ in range(3)] == [500, 500, 500]
    conflict = pc.patch(SUB, {"quantity": 13, "autoRenewEnabled": True})
    assert conflict.status_code == 409 and conflict.get_json()["code"] == 800082
    assert len(emu.get("/_emulator/faults").get_json()["faults"]) == 2
    emu.delete("/_emulator/faults")
    assert pc.get("/v1/customers").status_code == 200


def test_a_refused_fault_does_not_apply_the_change(
    emu: FlaskClient, northwind_loaded: dict[str, Any], pc: Api
) -> None:
    emu.post(
        "/_emulator/faults", json={"method": "PATCH", "path": "sub-1", "status": 500, "times": 1}
    )
    assert pc.patch(SUB, {"quantity": 13, "autoRenewEnabled": True}).status_code == 500
    assert pc.get(SUB).get_json()["quantity"] == 12


def test_a_timeout_fault_applies_the_change_answers_504_and_the_retry_replays(
    emu: FlaskClient, northwind_loaded: dict[str, Any], pc: Api
) -> None:
    emu.post(
        "/_emulator/faults",
        json={"method": "PATCH", "path": "sub-1", "status": "timeout", "times": 1, "delay": 0.01},
    )
    body = {"quantity": 13, "autoRenewEnabled": True}
    headers = {"MS-RequestId": "req-42"}
    timed_out = pc.patch(SUB, body, headers=headers)
    assert timed_out.status_code == 504 and timed_out.get_json()["code"] == 800504
    retried = pc.patch(SUB, body, headers=headers)
    assert retried.status_code == 200 and retried.get_json()["quantity"] == 13
    assert pc.get(SUB).get_json()["quantity"] == 13
    log = state(emu)["requests"]
    assert [(e["status"], e["replayed"]) for e in log[:2]] == [(504, False), (200, True)]


def test_malformed_fault_rules_are_refused(emu: FlaskClient) -> None:
    assert emu.post("/_emulator/faults", json={"path": "x", "status": 418}).status_code == 400
    assert emu.post("/_emulator/faults", json={"path": "(", "status": 500}).status_code == 400


def test_throttle_answers_429_with_retry_after_beyond_the_limit_per_tenant(
    emu: FlaskClient, load: Load, pc: Api
) -> None:
    load(northwind())
    load({"customers": [{"id": "cust-2", "name": "Contoso"}]})
    assert emu.post("/_emulator/throttle", json={"per_minute": 2}).status_code == 200
    statuses = [pc.get("/v1/customers/cust-1").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = pc.get("/v1/customers/cust-1/subscriptions")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert pc.get("/v1/customers/cust-2").status_code == 200
    emu.post("/_emulator/throttle", json={"per_minute": None})
    assert pc.get("/v1/customers/cust-1").status_code == 200


def test_throttle_refuses_a_malformed_limit(emu: FlaskClient) -> None:
    assert emu.post("/_emulator/throttle", json={"per_minute": "many"}).status_code == 400
    assert emu.post("/_emulator/throttle", json={}).status_code == 400
