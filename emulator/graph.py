"""Microsoft Graph routes under /v1.0, serving the customer tenant of the bearer token."""

from __future__ import annotations

import base64
import binascii
from itertools import islice
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from emulator.errors import INVALID_INPUT, NOT_FOUND, ApiError
from emulator.model import Customer, User
from emulator.shapes import sku_names, user_json

bp = Blueprint("graph", __name__, url_prefix="/v1.0")

DEFAULT_TOP = 100
MAX_TOP = 999


def _customer() -> Customer:
    customer: Customer = g.customer
    return customer


def _bad_request(message: str) -> ApiError:
    return ApiError(400, INVALID_INPUT, message)


def _user(customer: Customer, key: str) -> User:
    user = customer.find_user(key)
    if user is None:
        raise ApiError(404, NOT_FOUND, f"Resource '{key}' does not exist.")
    return user


@bp.get("/users")
def list_users() -> ResponseReturnValue:
    """Users of the tenant with their licenses; ``$top`` and ``@odata.nextLink`` paging."""
    customer = _customer()
    try:
        top = int(request.args.get("$top", DEFAULT_TOP))
        token = request.args.get("$skiptoken")
        offset = int(base64.urlsafe_b64decode(token.encode())) if token else 0
    except (ValueError, binascii.Error) as exc:
        raise _bad_request("Invalid $top or $skiptoken.") from exc
    if not 1 <= top <= MAX_TOP or offset < 0:
        raise _bad_request(f"$top must be between 1 and {MAX_TOP}.")
    page = [user_json(u) for u in islice(customer.users.values(), offset, offset + top)]
    body: dict[str, Any] = {
        "@odata.context": f"{request.host_url}v1.0/$metadata#users",
        "value": page,
    }
    if offset + top < len(customer.users):
        skip = base64.urlsafe_b64encode(str(offset + top).encode()).decode()
        body["@odata.nextLink"] = f"{request.host_url}v1.0/users?$top={top}&$skiptoken={skip}"
    return jsonify(body)


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> ResponseReturnValue:
    """One user, by id or user principal name."""
    return jsonify(user_json(_user(_customer(), user_id)))


def _license_changes(body: Any) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Validate an assignLicense body."""
    if not isinstance(body, dict):
        raise _bad_request("The body must be {addLicenses, removeLicenses}.")
    adds_raw, removes = body.get("addLicenses"), body.get("removeLicenses")
    if not isinstance(adds_raw, list) or not isinstance(removes, list):
        raise _bad_request("addLicenses and removeLicenses are both required lists.")
    adds = []
    for item in adds_raw:
        if not isinstance(item, dict) or not isinstance(item.get("skuId"), str):
            raise _bad_request("Each addLicenses entry needs a skuId.")
        adds.append((item["skuId"], [str(p) for p in item.get("disabledPlans") or []]))
    if not all(isinstance(sku, str) for sku in removes):
        raise _bad_request("removeLicenses must list skuIds.")
    if {sku for sku, _ in adds} & set(removes):
        raise _bad_request("A skuId cannot be both added and removed.")
    return adds, removes


@bp.post("/users/<user_id>/assignLicense")
def assign_license(user_id: str) -> ResponseReturnValue:
    """Add and remove licenses of a user; a new license needs an available unit."""
    customer = _customer()
    user = _user(customer, user_id)
    adds, removes = _license_changes(request.get_json(silent=True))
    for sku in removes:
        if sku not in user.licenses:
            raise _bad_request(f"User does not have a corresponding license {sku}.")
    known = set(customer.sku_ids())
    for sku, _ in adds:
        if sku not in known:
            raise _bad_request(f"License {sku} does not correspond to a valid company License.")
        if sku not in user.licenses and customer.units(sku) - customer.consumed[sku] < 1:
            name, _part = sku_names(customer, sku)
            raise _bad_request(
                f"License assignment failed: subscription {name} ({sku}) "
                "does not have any available licenses."
            )
    for sku in removes:
        del user.licenses[sku]
        customer.consumed[sku] -= 1
    for sku, plans in adds:
        if sku not in user.licenses:
            customer.consumed[sku] += 1
        user.licenses[sku] = plans
    return jsonify(user_json(user))


@bp.get("/subscribedSkus")
def subscribed_skus() -> ResponseReturnValue:
    """The tenant's SKUs: enabled (active seats), suspended, consumed (assigned)."""
    customer = _customer()
    items: list[dict[str, Any]] = []
    for sku in customer.sku_ids():
        active = customer.units(sku)
        _name, part = sku_names(customer, sku)
        items.append(
            {
                "id": f"{customer.tenant_id}_{sku}",
                "skuId": sku,
                "skuPartNumber": part,
                "appliesTo": "User",
                "capabilityStatus": "Enabled" if active else "Suspended",
                "consumedUnits": customer.consumed[sku],
                "prepaidUnits": {
                    "enabled": active,
                    "suspended": customer.units(sku, "suspended"),
                    "warning": 0,
                    "lockedOut": 0,
                },
                "servicePlans": [],
            }
        )
    return jsonify(
        {"@odata.context": f"{request.host_url}v1.0/$metadata#subscribedSkus", "value": items}
    )
