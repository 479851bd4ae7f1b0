"""The admin API under /_emulator: reset, scenario, state, clock, faults, throttle."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from emulator import scenario
from emulator.clock import iso, parse_duration, parse_iso
from emulator.context import current
from emulator.shapes import subscription_json
from emulator.traffic import FaultRule

bp = Blueprint("admin", __name__, url_prefix="/_emulator")


def _bad(message: str) -> ResponseReturnValue:
    return jsonify({"error": message}), 400


def _json() -> Any:
    return request.get_json(silent=True)


@bp.post("/reset")
def reset() -> ResponseReturnValue:
    """Empty state, real clock, no faults, no throttle, empty request log."""
    emulator = current()
    with emulator.store.lock:
        emulator.store.reset()
        emulator.store.clock.real()
    emulator.faults.clear()
    emulator.throttle.configure(None)
    emulator.log.clear()
    return jsonify({"now": iso(emulator.store.now())})


@bp.post("/scenario")
def load_scenario() -> ResponseReturnValue:
    """Add a scenario's resellers, customers, users and subscriptions to the state."""
    store = current().store
    with store.lock:
        store.process_due()
        try:
            counts = scenario.load(store, _json())
        except (ValueError, KeyError, TypeError) as exc:
            return _bad(f"invalid scenario: {exc}")
    return jsonify(counts), 201


@bp.get("/state")
def state() -> ResponseReturnValue:
    """Everything: customers with users and subscriptions, and the request log.

    ``?customer=ID`` limits it to one customer; ``?requests=0`` and ``?users=0`` leave out
    the request log and the users.
    """
    emulator = current()
    store = emulator.store
    only = request.args.get("customer")
    with_users = request.args.get("users", "1") != "0"
    with store.lock:
        store.process_due()
        now = store.now()
        customers = [
            {
                "id": customer.id,
                "name": customer.name,
                "domain": customer.domain,
                "tenant_id": customer.tenant_id,
                "reseller_id": customer.reseller_id,
                "users": [
                    {"id": u.id, "upn": u.upn, "name": u.name, "licenses": list(u.licenses)}
                    for u in customer.users.values()
                ]
                if with_users
                else [],
                "subscriptions": [
                    subscription_json(s, now) for s in customer.subscriptions.values()
                ],
            }
            for customer in store.customers.values()
            if only is None or customer.id == only
        ]
        resellers = [
            {"id": r.id, "name": r.name, "mpn_id": r.mpn_id, "relationship": r.relationship}
            for r in store.resellers.values()
        ]
    body = {
        "now": iso(now),
        "frozen": store.clock.frozen,
        "resellers": resellers,
        "customers": customers,
        "requests": emulator.log.entries() if request.args.get("requests", "1") != "0" else [],
        "faults": emulator.faults.describe(),
        "throttle": {"per_minute": emulator.throttle.per_minute},
    }
    return jsonify(body)


@bp.post("/clock")
def clock() -> ResponseReturnValue:
    """``{"now": ISO}`` (frozen unless ``"frozen": false``) or ``{"advance": "P8D"}``."""
    body = _json()
    store = current().store
    if not isinstance(body, dict) or not ({"now", "advance", "frozen"} & body.keys()):
        return _bad('send {"now": ISO} or {"advance": "P8D"}')
    with store.lock:
        try:
            if "now" in body:
                store.clock.set(parse_iso(str(body["now"])), frozen=body.get("frozen", True))
            elif "advance" in body:
                parse_duration(str(body["advance"]))
                store.clock.advance(str(body["advance"]))
            if body.get("frozen") is False and "now" not in body:
                store.clock.set(store.clock.now(), frozen=False)
        except ValueError as exc:
            return _bad(str(exc))
        store.process_due()
        return jsonify({"now": iso(store.now()), "frozen": store.clock.frozen})


@bp.post("/faults")
def add_faults() -> ResponseReturnValue:
    """Add one fault rule or a list of them."""
    body = _json()
    raw_rules = body if isinstance(body, list) else [body]
    try:
        rules = [FaultRule.parse(raw) for raw in raw_rules]
    except ValueError as exc:
        return _bad(str(exc))
    faults = current().faults
    faults.add(rules)
    return jsonify({"faults": faults.describe()}), 201


@bp.get("/faults")
def list_faults() -> ResponseReturnValue:
    """The fault rules and the times they have left."""
    return jsonify({"faults": current().faults.describe()})


@bp.delete("/faults")
def clear_faults() -> ResponseReturnValue:
    """Remove every fault rule."""
    current().faults.clear()
    return jsonify({"faults": []})


@bp.post("/throttle")
def throttle() -> ResponseReturnValue:
    """``{"per_minute": N}`` per customer tenant; ``null`` lifts it."""
    body = _json()
    if not isinstance(body, dict) or "per_minute" not in body:
        return _bad('send {"per_minute": N} or {"per_minute": null}')
    limit = body["per_minute"]
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
        return _bad("per_minute must be a non-negative integer or null")
    current().throttle.configure(limit)
    return jsonify({"per_minute": limit})
