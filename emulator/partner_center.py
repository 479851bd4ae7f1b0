"""Partner Center REST routes under /v1."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import quote

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from emulator import catalogue, graph_shapes, orders, rules
from emulator.clock import iso_day, parse_iso
from emulator.context import current
from emulator.errors import invalid, not_found
from emulator.model import Customer
from emulator.shapes import collection, customer_json, link, sku_names, subscription_json
from emulator.state import Store

bp = Blueprint("partner_center", __name__, url_prefix="/v1")

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
FILTER_FIELDS = ("IndirectReseller", "CompanyName", "Domain")


def _store() -> Store:
    return current().store


def _encode_token(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _decode_token(token: str) -> dict[str, Any]:
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not isinstance(state, dict):
            raise ValueError
    except (ValueError, binascii.Error) as exc:
        raise invalid("The continuation token is not valid.") from exc
    return state


def _filtered(store: Store, raw_filter: str | None) -> list[str]:
    """Customer ids matching a Partner Center customer filter, in creation order."""
    if not raw_filter:
        return list(store.customers)
    try:
        spec = json.loads(raw_filter)
        field, value = spec["Field"], str(spec["Value"])
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid('filter must be {"Field", "Value", "Operator"} JSON.') from exc
    if field not in FILTER_FIELDS or spec.get("Operator", "starts_with") != "starts_with":
        raise invalid(f"filter Field must be one of {', '.join(FILTER_FIELDS)} with starts_with.")
    if field == "IndirectReseller":
        matches = {
            cid
            for reseller_id, ids in store.by_reseller.items()
            if reseller_id.startswith(value)
            for cid in ids
        }
        return [cid for cid in store.customers if cid in matches]
    prefix = value.lower()
    attribute = "name" if field == "CompanyName" else "domain"
    return [
        cid
        for cid, customer in store.customers.items()
        if getattr(customer, attribute).lower().startswith(prefix)
    ]


@bp.get("/customers")
def list_customers() -> ResponseReturnValue:
    """Customers, a page at a time; continue with ``MS-ContinuationToken``."""
    store = _store()
    token = request.headers.get("MS-ContinuationToken") or request.args.get("continuationToken")
    if token:
        state = _decode_token(token)
    else:
        state = {
            "offset": 0,
            "size": request.args.get("size", DEFAULT_PAGE_SIZE),
            "filter": request.args.get("filter"),
        }
    try:
        size = min(int(state["size"]), MAX_PAGE_SIZE)
        offset = int(state["offset"])
    except (KeyError, TypeError, ValueError) as exc:
        raise invalid("size must be a positive integer.") from exc
    if size == 0:
        # get-customers-of-an-indirect-reseller.md asks with size=0: the default page size.
        size = DEFAULT_PAGE_SIZE
    if size < 0 or offset < 0:
        raise invalid("size must be a positive integer.")
    ids = _filtered(store, state.get("filter"))
    page = [customer_json(store.customers[cid]) for cid in ids[offset : offset + size]]
    next_link = None
    if offset + size < len(ids):
        next_token = _encode_token(
            {"offset": offset + size, "size": size, "filter": state.get("filter")}
        )
        next_link = link(
            f"/customers?size={size}&seekOperation=Next&continuationToken={quote(next_token)}",
            [{"key": "MS-ContinuationToken", "value": next_token}],
        )
    return jsonify(collection(page, f"/customers?size={size}", next_link))


@bp.get("/customers/<customer_id>")
def get_customer(customer_id: str) -> ResponseReturnValue:
    """One customer."""
    return jsonify(customer_json(_store().customer(customer_id), by_id=True))


@bp.get("/customers/<customer_id>/subscriptions")
def list_subscriptions(customer_id: str) -> ResponseReturnValue:
    """All subscriptions of a customer."""
    store = _store()
    customer = store.customer(customer_id)
    now = store.now()
    items = [subscription_json(s, now, by_id=False) for s in customer.subscriptions.values()]
    return jsonify(collection(items, f"/customers/{customer_id}/subscriptions"))


@bp.get("/customers/<customer_id>/subscriptions/customTermEndDates")
def custom_term_end_dates(customer_id: str) -> ResponseReturnValue:
    """The allowed custom term end dates of a new subscription (custom-term-end-dates.md:
    ``term_duration`` required, ``term_start_date`` and ``target_coterm_subscription_id``
    optional)."""
    store = _store()
    customer = store.customer(customer_id)
    start = request.args.get("term_start_date")
    try:
        day = parse_iso(start).date() if start else None
    except ValueError:
        raise invalid("term_start_date must be a date.") from None
    items = orders.custom_term_end_dates(
        customer,
        store.now(),
        request.args.get("term_duration", ""),
        day,
        request.args.get("target_coterm_subscription_id") or None,
    )
    return jsonify(collection(items, f"/customers/{customer_id}/subscriptions/customTermEndDates"))


@bp.get("/customers/<customer_id>/subscriptions/<subscription_id>")
def get_subscription(customer_id: str, subscription_id: str) -> ResponseReturnValue:
    """One subscription, with ``refundableQuantity``."""
    store = _store()
    sub = store.subscription(store.customer(customer_id), subscription_id)
    response = jsonify(subscription_json(sub, store.now()))
    response.headers["ETag"] = sub.etag
    return response


@bp.patch("/customers/<customer_id>/subscriptions/<subscription_id>")
def patch_subscription(customer_id: str, subscription_id: str) -> ResponseReturnValue:
    """Whole-object update of a subscription under the NCE rules."""
    store = _store()
    customer = store.customer(customer_id)
    sub = store.subscription(customer, subscription_id)
    body = request.get_json(silent=True)
    rules.patch_subscription(store, customer, sub, body, request.headers.get("If-Match"))
    response = jsonify(subscription_json(sub, store.now()))
    response.headers["ETag"] = sub.etag
    return response


@bp.get("/customers/<customer_id>/subscriptions/<subscription_id>/provisioningstatus")
def provisioning_status(customer_id: str, subscription_id: str) -> ResponseReturnValue:
    """The Graph skuId behind a subscription, its seats after provisioning and its end date
    (get-subscription-provisioning-status.md; subscription-resources.md). The emulator
    provisions at once, so ``status`` is always ``success``."""
    store = _store()
    sub = store.subscription(store.customer(customer_id), subscription_id)
    return jsonify(
        {
            "skuId": sub.sku_id,
            "status": "success",
            "quantity": sub.quantity,
            "endDate": iso_day(sub.commitment_end),
            "attributes": {"objectType": "SubscriptionProvisioningStatus"},
        }
    )


LICENSE_GROUPS = {"group1": "group1", "group2": "group2"}  # AAD-managed, Minecraft


@bp.get("/customers/<customer_id>/subscribedskus")
def subscribed_skus(customer_id: str) -> ResponseReturnValue:
    """License counts per SKU: bought, suspended, assigned, available. ``licenseGroupIds``
    (Group1, Group2; repeatable) filters by license group
    (get-a-list-of-available-licenses-by-license-group.md); every emulated SKU is Group1."""
    customer = _store().customer(customer_id)
    wanted = request.args.getlist("licenseGroupIds")
    unknown = [g for g in wanted if g.lower() not in LICENSE_GROUPS]
    if unknown:
        raise invalid(f"Unknown licenseGroupIds: {', '.join(unknown)}.")
    groups = {g.lower() for g in wanted} or set(LICENSE_GROUPS)
    items = [_subscribed_sku(customer, sku) for sku in customer.sku_ids()]
    return jsonify(
        collection(
            [i for i in items if i["productSku"]["licenseGroupId"] in groups],
            f"/customers/{customer_id}/subscribedskus",
        )
    )


def _subscribed_sku(customer: Customer, sku_id: str) -> dict[str, Any]:
    active = customer.units(sku_id)
    suspended = customer.units(sku_id, "suspended")
    consumed = customer.consumed[sku_id]
    name, part = sku_names(customer, sku_id)
    return {
        "availableUnits": max(active - consumed, 0),
        "activeUnits": active,
        "consumedUnits": consumed,
        "suspendedUnits": suspended,
        "totalUnits": active + suspended,
        "warningUnits": 0,
        "capabilityStatus": "Enabled" if active else "Suspended",
        "productSku": {
            "id": sku_id,
            "name": name,
            "skuPartNumber": part,
            "targetType": "User",
            "licenseGroupId": "group1",
        },
        "servicePlans": [
            {
                "displayName": plan["servicePlanName"].replace("_", " ").title(),
                "serviceName": plan["servicePlanName"],
                "id": plan["servicePlanId"],
                "capabilityStatus": "Enabled" if active else "Suspended",
                "targetType": "Tenant" if plan["appliesTo"] == "Company" else "User",
            }
            for plan in graph_shapes.service_plans(customer, sku_id, bool(active))
        ],
        "attributes": {"objectType": "SubscribedSku"},
    }


@bp.get("/customers/<customer_id>/subscriptions/<subscription_id>/transitionEligibilities")
def transition_eligibilities(customer_id: str, subscription_id: str) -> ResponseReturnValue:
    """Upgrade targets and whether each is possible now (or at renewal)."""
    store = _store()
    sub = store.subscription(store.customer(customer_id), subscription_id)
    kind = request.args.get("eligibilityType", "immediate")
    items = orders.eligibilities(store.customer(customer_id), sub, store.now(), kind)
    uri = f"/customers/{customer_id}/subscriptions/{subscription_id}/transitionEligibilities"
    return jsonify(collection(items, uri))


@bp.post("/customers/<customer_id>/subscriptions/<subscription_id>/transitions")
def create_transition(customer_id: str, subscription_id: str) -> ResponseReturnValue:
    """Upgrade a subscription (full: same id; partial: a new co-terminous subscription).
    transition-a-new-commerce-subscription.md answers 200 with the Transition."""
    store = _store()
    customer = store.customer(customer_id)
    sub = store.subscription(customer, subscription_id)
    return jsonify(orders.transition(store, customer, sub, request.get_json(silent=True)))


@bp.get("/customers/<customer_id>/subscriptions/<subscription_id>/transitions")
def list_transitions(customer_id: str, subscription_id: str) -> ResponseReturnValue:
    """The transitions of a subscription, optionally one ``operationId`` (get-transitions.md:
    the documented example wraps them in ``transition``, not ``items``)."""
    store = _store()
    store.subscription(store.customer(customer_id), subscription_id)
    wanted = request.args.get("operationId") or request.args.get("operation-id")
    done = [
        t
        for t in store.transitions.get(subscription_id, [])
        if wanted is None or t["operationId"] == wanted
    ]
    return jsonify({"transition": done, "attributes": {"objectType": "Collection"}})


@bp.post("/customers/<customer_id>/carts")
def create_cart(customer_id: str) -> ResponseReturnValue:
    """Create a cart of line items."""
    store = _store()
    cart = orders.create_cart(store, store.customer(customer_id), request.get_json(silent=True))
    return jsonify(cart), 201


@bp.get("/customers/<customer_id>/carts/<cart_id>")
def get_cart(customer_id: str, cart_id: str) -> ResponseReturnValue:
    """One cart."""
    store = _store()
    store.customer(customer_id)
    cart = store.carts.get(cart_id)
    if cart is None or cart["customerId"] != customer_id:
        raise not_found(f"Cart {cart_id}")
    return jsonify(cart)


@bp.post("/customers/<customer_id>/carts/<cart_id>/checkout")
def checkout(customer_id: str, cart_id: str) -> ResponseReturnValue:
    """Place the order of a cart."""
    store = _store()
    return jsonify(orders.checkout(store, store.customer(customer_id), cart_id)), 201


@bp.get("/products")
def list_products() -> ResponseReturnValue:
    """Catalogue products for a country."""
    if not request.args.get("country"):
        raise invalid("country is required.")
    products = list(dict.fromkeys(item.product_id for item in catalogue.OFFERS))
    items = [catalogue.product_json(product_id) for product_id in products]
    return jsonify(collection(items, "/products?country=US&targetView=OnlineServices"))


@bp.get("/products/<product_id>")
def get_product(product_id: str) -> ResponseReturnValue:
    """One catalogue product."""
    if not catalogue.product_offers(product_id):
        raise not_found(f"Product {product_id}")
    return jsonify(catalogue.product_json(product_id))


@bp.get("/products/<product_id>/skus")
def list_skus(product_id: str) -> ResponseReturnValue:
    """The SKUs of a product."""
    offers = catalogue.product_offers(product_id)
    if not offers:
        raise not_found(f"Product {product_id}")
    items = [catalogue.sku_json(item) for item in offers]
    return jsonify(collection(items, f"/products/{product_id}/skus"))


def _sku(product_id: str, sku_id: str) -> catalogue.Offer:
    item = catalogue.offer(f"{product_id}:{sku_id}")
    if item is None:
        raise not_found(f"SKU {product_id}:{sku_id}")
    return item


@bp.get("/products/<product_id>/skus/<sku_id>")
def get_sku(product_id: str, sku_id: str) -> ResponseReturnValue:
    """One SKU."""
    return jsonify(catalogue.sku_json(_sku(product_id, sku_id)))


@bp.get("/products/<product_id>/skus/<sku_id>/availabilities")
def list_availabilities(product_id: str, sku_id: str) -> ResponseReturnValue:
    """The availabilities of a SKU (one per SKU, with its terms)."""
    item = _sku(product_id, sku_id)
    uri = f"/products/{product_id}/skus/{sku_id}/availabilities"
    return jsonify(collection([catalogue.availability_json(item)], uri))


@bp.get("/products/<product_id>/skus/<sku_id>/availabilities/<availability_id>")
def get_availability(product_id: str, sku_id: str, availability_id: str) -> ResponseReturnValue:
    """One availability (get-an-availability-by-id.md), as a subscription's links name it."""
    item = _sku(product_id, sku_id)
    if availability_id != item.availability_id:
        raise not_found(f"Availability {product_id}:{sku_id}:{availability_id}")
    return jsonify(catalogue.availability_json(item))


@bp.get("/auditrecords")
def audit_records() -> ResponseReturnValue:
    """Audit records, optionally between ``startDate`` and ``endDate``."""
    store = _store()
    try:
        start = parse_iso(request.args["startDate"]) if "startDate" in request.args else None
        end = parse_iso(request.args["endDate"]) if "endDate" in request.args else None
    except ValueError as exc:
        raise invalid("startDate and endDate must be ISO 8601 dates.") from exc
    items = [
        record
        for record in store.audit
        if (start is None or parse_iso(record["operationDate"]) >= start)
        and (end is None or parse_iso(record["operationDate"]) <= end)
    ]
    return jsonify(collection(items, "/auditrecords"))


@bp.get("/relationships")
def relationships() -> ResponseReturnValue:
    """The partner's indirect resellers (``?relationship_type=IsIndirectCloudSolutionProviderOf``;
    items spell it ``is_indirect_cloud_solution_provider_of``, retrieve-a-list-of-indirect-
    resellers.md)."""
    items = [
        {
            "id": reseller.id,
            "name": reseller.name,
            "relationshipType": "is_indirect_cloud_solution_provider_of",
            "state": "Active" if reseller.authorised else "Inactive",
            "mpnId": reseller.mpn_id,
            "location": catalogue.COUNTRY,
            "attributes": {"objectType": "PartnerRelationship"},
        }
        for reseller in _store().resellers.values()
    ]
    return jsonify(collection(items, "/relationships"))
