"""The JSON shapes of Partner Center and Graph resources."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from emulator import catalogue, end_of_term
from emulator.clock import iso, iso_day
from emulator.model import Customer, Subscription

PLACEHOLDER_ADDRESS = {
    "country": catalogue.COUNTRY,
    "region": "WA",
    "city": "Redmond",
    "addressLine1": "1 Main Street",
    "postalCode": "98052",
    "phoneNumber": "4255550100",
}
PUBLISHER = "Microsoft Corporation"  # get-a-subscription-by-id.md (new commerce example)


def link(uri: str, headers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A Partner Center link object."""
    return {"uri": uri, "method": "GET", "headers": headers or []}


def collection(
    items: list[dict[str, Any]],
    self_uri: str,
    next_link: dict[str, Any] | None = None,
    total: int | None = None,
) -> dict[str, Any]:
    """A Partner Center collection."""
    links: dict[str, Any] = {"self": link(self_uri)}
    if next_link is not None:
        links["next"] = next_link
    return {
        "totalCount": len(items) if total is None else total,
        "items": items,
        "links": links,
        "attributes": {"objectType": "Collection"},
    }


def refundable_json(sub: Subscription, now: datetime) -> dict[str, Any]:
    """``refundableQuantity``: the seats that can be reduced now, per tranche."""
    tranches = sorted(sub.refundable(now), key=lambda t: t.added)
    return {
        "totalQuantity": sum(t.quantity for t in tranches),
        "details": [
            {"quantity": t.quantity, "allowedUntilDateTime": iso(t.allowed_until)} for t in tranches
        ],
    }


def subscription_json(sub: Subscription, now: datetime, by_id: bool = True) -> dict[str, Any]:
    """A subscription as Partner Center returns it (``refundableQuantity`` on GET by id)."""
    uri = f"/customers/{sub.customer_id}/subscriptions/{sub.id}"
    offer_id = catalogue.catalog_item_id(sub.offer_id)
    product_type = "OnlineServicesNCE" if sub.nce else "OnlineServices"
    body: dict[str, Any] = {
        "id": sub.id,
        "entitlementId": sub.id,
        "offerId": offer_id,
        "offerName": sub.offer_name,
        "friendlyName": sub.friendly_name,
        "quantity": sub.quantity,
        "unitType": "Licenses",
        "hasPurchasableAddons": False,
        "creationDate": iso(sub.created),
        "effectiveStartDate": iso_day(sub.effective_start),
        "commitmentEndDate": iso_day(sub.commitment_end),
        "commitmentEndDateTime": f"{sub.commitment_end.isoformat()}T23:59:59Z",
        "cancellationAllowedUntilDate": iso(sub.cancel_until) if sub.cancel_until else None,
        "status": sub.status,
        "autoRenewEnabled": sub.auto_renew,
        "isTrial": sub.trial,
        "billingType": "license",
        "billingCycle": sub.billing_cycle,
        "termDuration": sub.term,
        "renewalTermDuration": _renewal_term(sub),
        "isMicrosoftProduct": True,
        "publisherName": PUBLISHER,
        "partnerId": sub.partner_id or "",
        "attentionNeeded": False,
        "actionTaken": False,
        "contractType": "subscription",
        "orderId": sub.order_id,
        "productType": {"id": product_type, "displayName": product_type},
        "suspensionReasons": list(sub.suspension_reasons),
        "refundOptions": _refund_options(sub, now),
        "scheduledNextTermInstructions": sub.scheduled,
        end_of_term.SCHEDULED_ACTIONS: end_of_term.actions_json(sub),
        end_of_term.EST_FIELD: end_of_term.est_json(sub),
        "links": {**catalogue_links(offer_id), "self": link(uri)},
        "attributes": {"etag": sub.etag, "objectType": "Subscription"},
    }
    if by_id:
        body["refundableQuantity"] = refundable_json(sub, now)
    return body


def _renewal_term(sub: Subscription) -> str:
    """``renewalTermDuration``: the term scheduled for the next renewal, else "" (as both
    documented examples show it; get-a-subscription-by-id.md, get-all-of-a-customer-s-
    subscriptions.md)."""
    product = (sub.scheduled or {}).get("product") or {}
    term = product.get("termDuration")
    return term if isinstance(term, str) else ""


def _refund_options(sub: Subscription, now: datetime) -> list[dict[str, str]]:
    """``refundOptions``: a full refund until the cancellation window closes
    (get-a-subscription-by-id.md, "Response example for a new commerce subscription")."""
    if sub.cancel_until is None or now >= sub.cancel_until or sub.status != "active":
        return []
    return [{"type": "Full", "expiresAt": iso(sub.cancel_until)}]


def catalogue_links(offer_id: str) -> dict[str, Any]:
    """``links.product/sku/availability`` of a new-commerce subscription or order line."""
    parts = offer_id.split(":")
    if len(parts) != 3:
        return {}
    product, sku, availability = parts
    country = f"?country={catalogue.COUNTRY}"
    base = f"/products/{product}"
    return {
        "product": link(f"{base}{country}"),
        "sku": link(f"{base}/skus/{sku}{country}"),
        "availability": link(f"{base}/skus/{sku}/availabilities/{availability}{country}"),
    }


def customer_json(customer: Customer, by_id: bool = False) -> dict[str, Any]:
    """A customer as Partner Center returns it. Lists carry the company profile's
    ``tenantId, domain, companyName, links`` (get-customers-of-an-indirect-reseller.md); GET by
    id adds its ``address`` and ``email``, a ``billingProfile`` and ``customDomains``
    (get-a-customer-by-id.md). The address and billing contact are the emulator's placeholders
    (a scenario has none): one US address, ``admin@<domain>``."""
    uri = f"/customers/{customer.id}"
    profile: dict[str, Any] = {
        "tenantId": customer.tenant_id,
        "domain": customer.domain,
        "companyName": customer.name,
    }
    body: dict[str, Any] = {
        "id": customer.id,
        "commerceId": customer.id,
        "companyProfile": profile,
        "associatedPartnerId": customer.reseller_id,
        "relationshipToPartner": "reseller" if customer.reseller_id else "none",
        "allowDelegatedAccess": True,
        "links": {"self": link(uri)},
        "attributes": {"etag": customer.tenant_id, "objectType": "Customer"},
    }
    if by_id:
        email = f"admin@{customer.domain}"
        profile["address"] = dict(PLACEHOLDER_ADDRESS)
        profile["email"] = email
        body["billingProfile"] = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{uri}/profiles/billing")),
            "firstName": "Billing",
            "lastName": "Admin",
            "email": email,
            "culture": "en-US",
            "language": "en",
            "companyName": customer.name,
            "defaultAddress": {
                **{k: v for k, v in PLACEHOLDER_ADDRESS.items() if k != "region"},
                "state": PLACEHOLDER_ADDRESS["region"],
                "firstName": "Billing",
                "lastName": "Admin",
            },
            "links": {"self": link(f"{uri}/profiles/billing")},
            "attributes": {"etag": customer.tenant_id, "objectType": "CustomerBillingProfile"},
        }
        body["customDomains"] = [customer.domain]
    profile["links"] = {"self": link(f"{uri}/profiles/company")}
    profile["attributes"] = {"objectType": "CustomerCompanyProfile"}
    return body


def sku_names(customer: Customer, sku_id: str) -> tuple[str, str]:
    """A SKU's display name and part number (from the catalogue, else its subscriptions)."""
    item = catalogue.offer_for_sku_id(sku_id)
    if item is not None:
        return item.title.removesuffix(" Trial"), item.part_number
    for sub in customer.subscriptions.values():
        if sub.sku_id == sku_id:
            offered = catalogue.offer(sub.offer_id)
            return sub.offer_name, offered.part_number if offered else sku_id.upper()
    if sku_id in customer.other:  # bought outside CSP: the scenario names its part number
        return customer.other[sku_id][0], customer.other[sku_id][0]
    return sku_id, sku_id.upper()
