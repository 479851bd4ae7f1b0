"""Microsoft Graph routes under /v1.0, serving the customer tenant of the bearer token.

What is modelled, and the Microsoft Learn page each behaviour comes from, is in README.md
("Graph routes"). The shapes are in ``graph_shapes``.
"""

from __future__ import annotations

import base64
import binascii
from itertools import islice
from typing import Any

from flask import Blueprint, g, jsonify, request
from flask.typing import ResponseReturnValue

from emulator import graph_shapes as shapes
from emulator.context import current
from emulator.errors import INVALID_INPUT, NOT_FOUND, ApiError
from emulator.model import Customer, User

bp = Blueprint("graph", __name__, url_prefix="/v1.0")

DEFAULT_TOP = 100
MAX_TOP = 999
# List users: with $select=signInActivity a page holds at most 120 users (a larger $top is
# not refused, the pages are just smaller).
SIGN_IN_TOP = 120
NON_PREMIUM = (
    "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
    "Neither tenant is B2C or tenant doesn't have premium license",
)
NOT_IMPLEMENTED = 800501


def _customer() -> Customer:
    customer: Customer = g.customer
    return customer


def _bad_request(message: str, code: str = "Request_BadRequest") -> ApiError:
    return ApiError(400, INVALID_INPUT, message, graph_code=code)


def _not_found(key: str) -> ApiError:
    return ApiError(
        404,
        NOT_FOUND,
        f"Resource '{key}' does not exist or one of its queried reference-property objects "
        "are not present.",
    )


def _user(customer: Customer, key: str) -> User:
    user = customer.find_user(key)
    if user is None:
        raise _not_found(key)
    return user


def _query(allowed: tuple[str, ...]) -> None:
    """Refuse OData query options the emulator does not model on this route (with 501, so a
    test never passes because a filter was silently ignored)."""
    for name in request.args:
        if name.startswith("$") and name not in allowed:
            raise ApiError(
                501,
                NOT_IMPLEMENTED,
                f"The emulator does not model the query option {name} on this route.",
                graph_code="NotImplemented",
            )


def _select(known: tuple[str, ...], type_name: str) -> list[str] | None:
    """The property names of ``$select`` (None without it); unknown names answer 400."""
    raw = request.args.get("$select")
    if raw is None:
        return None
    names = [name.strip() for name in raw.split(",")]
    for name in names:
        if name not in known:
            raise _bad_request(
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )
    return list(dict.fromkeys(names))


def _context(path: str, names: list[str] | None = None, entity: bool = False) -> str:
    """``@odata.context``: the entity set, the selected properties, ``/$entity`` for one."""
    selected = f"({','.join(names)})" if names else ""
    return f"{request.host_url}v1.0/$metadata#{path}{selected}{'/$entity' if entity else ''}"


def _entity(path: str, body: dict[str, Any], names: list[str] | None) -> ResponseReturnValue:
    return jsonify({"@odata.context": _context(path, names, entity=True), **body})


def _collection(path: str, items: list[Any], names: list[str] | None) -> ResponseReturnValue:
    return jsonify({"@odata.context": _context(path, names), "value": items})


def _page_bounds() -> tuple[int, int]:
    """``$top`` and the offset carried by ``$skiptoken``."""
    raw_top = request.args.get("$top", str(DEFAULT_TOP))
    try:
        top = int(raw_top)
        token = request.args.get("$skiptoken")
        offset = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) if token else 0
    except (ValueError, binascii.Error) as exc:
        raise _bad_request(f"Invalid $top or $skiptoken: '{raw_top}'.") from exc
    if not 1 <= top <= MAX_TOP or offset < 0:
        raise _bad_request(
            f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive."
        )
    return top, offset


@bp.get("/users")
def list_users() -> ResponseReturnValue:
    """Users, default properties unless ``$select``; ``$top`` paging with ``@odata.nextLink``
    (which keeps ``$select`` and ``$top``)."""
    if "$skip" in request.args:  # List users: "$skip isn't supported"
        raise _bad_request("$skip is not supported on users; follow @odata.nextLink.")
    _query(("$select", "$top", "$skiptoken"))
    customer = _customer()
    names = _select(shapes.USER_SELECTABLE, "user")
    top, offset = _page_bounds()
    page_size = top
    if names and "signInActivity" in names:
        _require_premium(customer)
        page_size = min(top, SIGN_IN_TOP)
    users = islice(customer.users.values(), offset, offset + page_size)
    page = [shapes.pick(shapes.user_resource(u), names, shapes.USER_DEFAULT) for u in users]
    body: dict[str, Any] = {"@odata.context": _context("users", names), "value": page}
    if offset + page_size < len(customer.users):
        skip = base64.urlsafe_b64encode(str(offset + page_size).encode()).decode().rstrip("=")
        selected = f"$select={','.join(names)}&" if names else ""
        body["@odata.nextLink"] = (
            f"{request.host_url}v1.0/users?{selected}$top={top}&$skiptoken={skip}"
        )
    return jsonify(body)


def _require_premium(customer: Customer) -> None:
    """signInActivity needs Microsoft Entra ID P1 or P2 in the tenant: without it Graph
    answers 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant."""
    if not customer.entra_premium:
        code, message = NON_PREMIUM
        raise ApiError(403, INVALID_INPUT, message, graph_code=code)


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> ResponseReturnValue:
    """One user, by id or user principal name; default properties unless ``$select``."""
    _query(("$select",))
    names = _select(shapes.USER_SELECTABLE, "user")
    if names and "signInActivity" in names:
        _require_premium(_customer())
    user = shapes.user_resource(_user(_customer(), user_id))
    return _entity("users", shapes.pick(user, names, shapes.USER_DEFAULT), names)


@bp.get("/users/<user_id>/licenseDetails")
def license_details(user_id: str) -> ResponseReturnValue:
    """The licenses a user holds, with each SKU's service plans."""
    _query(("$select",))
    customer = _customer()
    user = _user(customer, user_id)
    names = _select(shapes.LICENSE_DETAILS_PROPERTIES, "licenseDetails")
    items = [
        shapes.pick(item, names, shapes.LICENSE_DETAILS_PROPERTIES)
        for item in shapes.license_details(customer, user)
    ]
    return _collection(f"users('{user.id}')/licenseDetails", items, names)


def _license_changes(body: Any) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """Validate an assignLicense body: both lists are required (they may be empty)."""
    if not isinstance(body, dict):
        raise _bad_request("The request body must be {addLicenses, removeLicenses}.")
    adds_raw, removes = body.get("addLicenses"), body.get("removeLicenses")
    if not isinstance(adds_raw, list) or not isinstance(removes, list):
        raise _bad_request("addLicenses and removeLicenses are both required lists.")
    adds = []
    for item in adds_raw:
        if not isinstance(item, dict) or not isinstance(item.get("skuId"), str):
            raise _bad_request("Each addLicenses entry needs a skuId.")
        plans = item.get("disabledPlans") or []
        if not isinstance(plans, list) or not all(isinstance(p, str) for p in plans):
            raise _bad_request("disabledPlans must list servicePlanIds.")
        adds.append((item["skuId"], list(plans)))
    if not all(isinstance(sku, str) for sku in removes):
        raise _bad_request("removeLicenses must list skuIds.")
    if {sku for sku, _ in adds} & set(removes):
        raise _bad_request("A skuId cannot be both added and removed.")
    return adds, removes


@bp.post("/users/<user_id>/assignLicense")
def assign_license(user_id: str) -> ResponseReturnValue:
    """Add and remove licenses of a user, all or nothing; a new license needs a free unit;
    ``disabledPlans`` must name service plans of that SKU."""
    customer = _customer()
    user = _user(customer, user_id)
    adds, removes = _license_changes(request.get_json(silent=True))
    for sku in removes:
        if sku not in user.licenses:
            raise _bad_request(f"User does not have a corresponding license {sku}.")
    known = set(customer.sku_ids())
    for sku, plans in adds:
        if sku not in known:
            raise _bad_request(f"License {sku} does not correspond to a valid company License.")
        unknown = set(plans) - shapes.plan_ids(customer, sku)
        if unknown:
            raise _bad_request(
                f"disabledPlans names {', '.join(sorted(unknown))}, which is not a service "
                f"plan of SKU {sku}."
            )
        if sku not in user.licenses and customer.units(sku) - customer.consumed[sku] < 1:
            raise _bad_request(f"Subscription with SKU {sku} does not have any available licenses.")
    for sku in removes:
        del user.licenses[sku]
        customer.consumed[sku] -= 1
    for sku, plans in adds:
        if sku not in user.licenses:
            customer.consumed[sku] += 1
        user.licenses[sku] = plans
    # The documented example answers the user with accountEnabled and assignedLicenses.
    answer = (*shapes.USER_DEFAULT, "accountEnabled", "assignedLicenses")
    return _entity("users", shapes.pick(shapes.user_resource(user), None, answer), None)


@bp.get("/subscribedSkus")
def subscribed_skus() -> ResponseReturnValue:
    """The tenant's SKUs: enabled (active seats), suspended, consumed (assigned)."""
    _query(("$select",))
    customer = _customer()
    names = _select(shapes.SUBSCRIBED_SKU_PROPERTIES, "subscribedSku")
    items = [
        shapes.pick(shapes.subscribed_sku(customer, sku), names, shapes.SUBSCRIBED_SKU_PROPERTIES)
        for sku in customer.sku_ids()
    ]
    return _collection("subscribedSkus", items, names)


@bp.get("/subscribedSkus/<sku_key>")
def subscribed_sku(sku_key: str) -> ResponseReturnValue:
    """One subscribedSku by its id (``{tenantId}_{skuId}``)."""
    _query(("$select",))
    customer = _customer()
    names = _select(shapes.SUBSCRIBED_SKU_PROPERTIES, "subscribedSku")
    tenant, _, sku = sku_key.partition("_")
    if tenant.lower() != customer.tenant_id.lower() or sku not in customer.sku_ids():
        raise _not_found(sku_key)
    item = shapes.subscribed_sku(customer, sku)
    return _entity(
        "subscribedSkus", shapes.pick(item, names, shapes.SUBSCRIBED_SKU_PROPERTIES), names
    )


@bp.get("/organization")
def organization() -> ResponseReturnValue:
    """The tenant: a collection of exactly one organization."""
    _query(("$select",))
    names = _select(shapes.ORGANIZATION_PROPERTIES, "organization")
    org = shapes.organization(_customer(), current().store.now())
    item = shapes.pick(org, names, shapes.ORGANIZATION_PROPERTIES)
    return _collection("organization", [item], names)


@bp.get("/organization/<organization_id>")
def get_organization(organization_id: str) -> ResponseReturnValue:
    """The tenant by its id (the tenant id)."""
    _query(("$select",))
    customer = _customer()
    if organization_id.lower() != customer.tenant_id.lower():
        raise _not_found(organization_id)
    names = _select(shapes.ORGANIZATION_PROPERTIES, "organization")
    org = shapes.organization(customer, current().store.now())
    return _entity("organization", shapes.pick(org, names, shapes.ORGANIZATION_PROPERTIES), names)
