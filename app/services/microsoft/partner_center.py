"""Partner Center REST client (`/v1/...`): customers, subscriptions, SKUs, catalogue.

Shapes and rules: NOTES.md (Partner Center section) and Microsoft's Partner Center
developer docs (subscription-resources, get-a-subscription-by-id,
update-a-subscription-by-id, change-the-quantity-of-a-subscription).
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from app.services.microsoft.http import (
    MicrosoftError,
    NotFound,
    RetryPolicy,
    TokenStore,
    connect,
)

PARTNER_CENTER_SCOPE = "https://api.partnercenter.microsoft.com/.default"
GRAPH_URL = "https://graph.microsoft.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# Azure plan usage: "Billed and unbilled daily rated usage reconciliation API v2 (GA)", hosted
# on Microsoft Graph (docs/azure-usage.md). The partner's own tenant, Graph's scope.
UNBILLED_USAGE_EXPORT = "/reports/partners/billing/usage/unbilled/export"

# -- End of term since 2026 (renew / cancel at end of term / Extended Service Term) ----------
# Wire names NOT confirmed on Microsoft Learn (docs/extended-service-term.md): they come from
# a public 2026 typing of the subscription resource and a distributor's API notes. Keep them
# here only. `extendedServiceTerm` is the emulator's own object (emulator/end_of_term.py).
SCHEDULED_ACTIONS = "scheduledActions"
SCHEDULE_TYPE = "scheduleType"
ACTION_TYPE = "actionType"
TERM_END = "TermEnd"
END_OF_TERM_ACTIONS = {
    "renew": "RenewToNewTerm",
    "cancel": "Cancel",
    "est": "RenewToExtendedServiceTerm",
}
EST_OBJECT = "extendedServiceTerm"


def end_of_term_changes(choice: str) -> dict[str, Any]:
    """The subscription fields that set an end-of-term choice ("renew", "cancel", "est")."""
    action = END_OF_TERM_ACTIONS.get(choice)
    if action is None:
        raise ValueError(f"end of term must be one of {', '.join(END_OF_TERM_ACTIONS)}")
    return {
        "autoRenewEnabled": choice == "renew",
        SCHEDULED_ACTIONS: [{SCHEDULE_TYPE: TERM_END, ACTION_TYPE: action}],
    }


@dataclass(frozen=True)
class AzureUsageLine:
    """One daily rated usage line item of an Azure plan (partner cost, before tax)."""

    customer_id: str
    subscription_id: str  # the Azure plan
    entitlement_id: str  # the Azure subscription inside it
    entitlement_name: str
    usage_date: date
    resource_group: str
    meter_id: str
    meter_category: str
    meter_subcategory: str
    meter_name: str
    unit: str
    quantity: Decimal
    cost: Decimal  # BillingPreTaxTotal
    currency: str  # BillingCurrency


@dataclass(frozen=True)
class RefundableTranche:
    """Seats that can still be returned, and until when."""

    quantity: int
    allowed_until: datetime


@dataclass(frozen=True)
class PcCustomer:
    """A customer as Partner Center describes it."""

    id: str
    name: str
    domain: str | None
    tenant_id: str
    reseller_id: str | None
    # get-a-customer-by-id.md (GET by id only): the company's contact e-mail and country,
    # the billing contact's e-mail, and the customer's custom domains.
    email: str | None = None
    country: str | None = None
    billing_email: str | None = None
    custom_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class PcReseller:
    """An indirect reseller the partner has a relationship with."""

    id: str
    name: str
    mpn_id: str | None
    active: bool
    state: str = "Active"  # the relationship's `state` as Partner Center spells it


@dataclass(frozen=True)
class PcExtendedServiceTerm:
    """A subscription in its Extended Service Term: since when, and its monthly seat price."""

    since: date
    unit_price: Decimal
    uplift_percent: int | None
    previous_term: str | None


@dataclass(frozen=True)
class PcSubscription:
    """A subscription as Partner Center returns it; `raw` is kept for whole-object PATCHes."""

    id: str
    offer_id: str  # `product:sku` (see offer_key); the full `offerId` stays in `raw`
    offer_name: str
    friendly_name: str | None
    quantity: int
    status: str
    auto_renew: bool
    is_trial: bool
    is_nce: bool
    term_duration: str
    billing_cycle: str
    creation_date: datetime
    effective_start: datetime
    commitment_end: date
    partner_id: str | None
    etag: str | None
    refundable: tuple[RefundableTranche, ...] | None
    scheduled_quantity: int | None
    raw: dict[str, Any] = field(repr=False, compare=False)
    # What Partner Center says happens at the end of the term: "renew", "cancel" (cancel at
    # end of term) or "est" (Extended Service Term); None when it says nothing (a subscription
    # outside EST's scope with auto-renew off: it expires, the old grace period).
    end_of_term: str | None = None
    cancellation_allowed_until: datetime | None = None
    est: PcExtendedServiceTerm | None = None

    @property
    def cancel_at_end(self) -> bool:
        """Auto-renew off with an explicit "cancel at end of term"."""
        return self.end_of_term == "cancel"

    @property
    def in_est(self) -> bool:
        """Whether the subscription is in an Extended Service Term now."""
        return self.est is not None

    @property
    def product_id(self) -> str:
        """The catalogue product of the offer (`product:sku`)."""
        return self.offer_id.split(":")[0]

    @property
    def sku(self) -> str:
        """The catalogue SKU of the offer."""
        parts = self.offer_id.split(":")
        return parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class PcSubscribedSku:
    """Seats of one product SKU at a customer: what is paid for and what is assigned."""

    sku_id: str
    name: str
    part_number: str
    total: int
    consumed: int
    available: int
    status: str
    # get-a-list-of-available-licenses.md: active and suspended seats, the license group
    # ("group1" = managed in Entra ID, "group2" = Minecraft) and the service plans' names.
    active: int = 0
    suspended: int = 0
    license_group_id: str = ""
    service_plans: tuple[str, ...] = ()


@dataclass(frozen=True)
class PcProvisioningStatus:
    """Where a subscription's provisioning stands (get-subscription-provisioning-status.md)."""

    sku_id: str | None
    status: str  # "success", "pending" or "failed"
    quantity: int | None
    end_date: date | None


@dataclass(frozen=True)
class PcCatalogueSku:
    """A SKU of the catalogue, with the Entra SKU id it licenses."""

    product_id: str
    sku: str
    title: str
    azure_sku_id: str | None
    part_number: str | None
    is_trial: bool
    unit_price: float | None
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PcPrice:
    """The price of one seat per month on one term and billing cycle, in its currency."""

    term: str
    billing_cycle: str
    unit_price: Decimal
    currency: str


@dataclass(frozen=True)
class PcAvailability:
    """An availability of a SKU (what a cart buys), with its terms and their prices."""

    catalog_item_id: str
    segment: str
    currency: str
    prices: tuple[PcPrice, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class CartLine:
    """One line of a cart: what to buy, how many, on which terms, for which resellers."""

    catalog_item_id: str
    quantity: int
    term_duration: str = "P1Y"
    billing_cycle: str = "monthly"
    reseller_of_record: str | None = None  # PartnerID (MPN id), or the relationship id
    other_resellers: tuple[str, ...] = ()
    friendly_name: str | None = None
    custom_term_end_date: date | None = None  # co-terming (custom-term-end-dates.md)

    def as_json(self, index: int) -> dict[str, Any]:
        """The line item JSON Partner Center expects."""
        participants = []
        if self.reseller_of_record:
            participants.append({"key": "transaction_reseller", "value": self.reseller_of_record})
        participants += [
            {"key": "additional_transaction_reseller", "value": r} for r in self.other_resellers
        ]
        body: dict[str, Any] = {
            "id": index,
            "catalogItemId": self.catalog_item_id,
            "quantity": self.quantity,
            "termDuration": self.term_duration,
            "billingCycle": self.billing_cycle,
            "participants": participants,
        }
        if self.friendly_name:
            body["friendlyName"] = self.friendly_name
        if self.custom_term_end_date is not None:
            body["customTermEndDate"] = f"{self.custom_term_end_date.isoformat()}T00:00:00Z"
        return body


@dataclass(frozen=True)
class OrderLine:
    """A bought line: the subscription it created."""

    subscription_id: str
    catalog_item_id: str
    quantity: int
    term_duration: str


@dataclass(frozen=True)
class TargetSubscription:
    """An existing subscription of the target offer that could receive upgraded seats
    (transition-resources.md, TargetSubscriptionEligibilityDetail)."""

    subscription_id: str
    friendly_name: str
    term_duration: str
    billing_cycle: str
    eligible: bool
    errors: tuple[str, ...]


@dataclass(frozen=True)
class Eligibility:
    """Whether a subscription may move (upgrade) to a catalogue item, and why not."""

    catalog_item_id: str
    title: str
    eligible: bool
    transition_type: str
    errors: tuple[str, ...]
    # transition-a-new-commerce-subscription.md, "Get Transition Eligibilities".
    operation_id: str = ""
    description: str = ""
    quantity: int | None = None
    target_subscriptions: tuple[TargetSubscription, ...] = ()


@dataclass(frozen=True)
class CustomTermEnd:
    """An end date a new subscription may have instead of its full term: the end of a
    calendar month, or the end of existing subscriptions (`subscription_ids`: every one
    ending that day) for co-terming."""

    end: date
    subscription_ids: tuple[str, ...] = ()


def transition_status(transition: dict[str, Any]) -> str:
    """The status of a transition's latest event ("Started", "Completed" or "Failed";
    transition-resources.md, TransitionEvent); "" when it reports none."""
    events = transition.get("Events") or transition.get("events") or []
    return str(events[-1].get("status", "")).strip() if events else ""


def pc_error(answer: httpx.Response) -> tuple[str | None, str]:
    """Microsoft's code and description from a Partner Center error body."""
    try:
        body = answer.json()
    except ValueError:
        return None, f"HTTP {answer.status_code}"
    if isinstance(body, dict):
        code = body.get("code") or body.get("errorCode")
        text = body.get("description") or body.get("message") or f"HTTP {answer.status_code}"
        return (str(code) if code is not None else None), str(text)
    return None, f"HTTP {answer.status_code}"


class PartnerCenterClient:
    """Typed access to the Partner Center REST API of one partner tenant."""

    def __init__(
        self,
        *,
        base_url: str,
        token_authority: str,
        partner_tenant: str,
        client_id: str,
        client_secret: str,
        http: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        token_store: TokenStore | None = None,
        graph_url: str | None = None,
    ) -> None:
        self.caller = connect(
            api_url=f"{base_url.rstrip('/')}/v1",
            token_authority=token_authority,
            tenant=partner_tenant,
            client_id=client_id,
            client_secret=client_secret,
            scope=PARTNER_CENTER_SCOPE,
            http=http,
            policy=policy,
            token_store=token_store,
            error_reader=pc_error,
        )
        self.http = self.caller.http
        self.billing = connect(
            api_url=f"{(graph_url or GRAPH_URL).rstrip('/')}/v1.0",
            token_authority=token_authority,
            tenant=partner_tenant,
            client_id=client_id,
            client_secret=client_secret,
            scope=GRAPH_SCOPE,
            http=self.http,
            policy=policy,
            token_store=token_store,
            error_reader=pc_error,
        )
        self._skus: dict[str, PcCatalogueSku | None] = {}

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()

    # -- resellers and customers -------------------------------------------------------

    def customers(
        self, *, reseller_id: str | None = None, page_size: int = 500
    ) -> Iterator[PcCustomer]:
        """Every customer (optionally of one indirect reseller), following the pages."""
        params = {"size": str(page_size)}
        if reseller_id:
            params["filter"] = json.dumps(
                {"Field": "IndirectReseller", "Value": reseller_id, "Operator": "starts_with"}
            )
        for item in self._pages("/customers", params):
            yield _customer(item)

    def resellers(self) -> list[PcReseller]:
        """The partner's indirect resellers (IsIndirectCloudSolutionProviderOf)."""
        params = {"relationship_type": "IsIndirectCloudSolutionProviderOf"}
        return [
            PcReseller(
                id=item["id"],
                name=item.get("name") or item["id"],
                mpn_id=item.get("mpnId"),
                active=item.get("state", "Active") == "Active",
                state=str(item.get("state") or "Active"),
            )
            for item in self._pages("/relationships", params)
        ]

    def customer(self, customer_id: str) -> PcCustomer:
        """One customer."""
        return _customer(self._get(f"/customers/{_q(customer_id)}"))

    # -- subscriptions -----------------------------------------------------------------

    def subscriptions(self, customer_id: str) -> list[PcSubscription]:
        """The customer's subscriptions (without refundable quantities: see `subscription`)."""
        return [
            _subscription(item)
            for item in self._pages(f"/customers/{_q(customer_id)}/subscriptions", {})
        ]

    def subscription(self, customer_id: str, subscription_id: str) -> PcSubscription:
        """One subscription, with its refundable seats per tranche."""
        return _subscription(
            self._get(f"/customers/{_q(customer_id)}/subscriptions/{_q(subscription_id)}")
        )

    def update_subscription(
        self,
        customer_id: str,
        subscription_id: str,
        changes: dict[str, Any],
        *,
        request_id: str,
        current: PcSubscription | None = None,
    ) -> PcSubscription:
        """Change a subscription safely: GET it, apply `changes` to the whole object, PATCH it
        back with If-Match on its etag (a partial PATCH silently turns auto-renew off and
        deletes scheduled changes). `request_id` names the logical operation, so a retry of
        the same change is applied once."""
        fresh = current or self.subscription(customer_id, subscription_id)
        body = {
            k: v
            for k, v in fresh.raw.items()
            if k not in ("refundableQuantity", "links", EST_OBJECT)
        }
        body.update(changes)
        if "autoRenewEnabled" in changes and SCHEDULED_ACTIONS not in changes:
            _align_end_of_term(body, fresh)
        answer = self.caller.request(
            "PATCH",
            f"/customers/{_q(customer_id)}/subscriptions/{_q(subscription_id)}",
            json=body,
            headers={"If-Match": fresh.etag or "*"},
            request_id=request_id,
        )
        if answer.status_code == 202 or not answer.content:
            return self.subscription(customer_id, subscription_id)
        return _subscription(answer.json())

    def set_end_of_term(
        self,
        customer_id: str,
        subscription_id: str,
        choice: str,
        *,
        request_id: str,
        current: PcSubscription | None = None,
    ) -> PcSubscription:
        """Choose what happens at the end of the term — "renew", "cancel" (cancel at end of
        term) or "est" (Extended Service Term) — by a whole-object PATCH (GET, change,
        PATCH with If-Match; scheduled next-term instructions are kept, though Partner Center
        deletes them itself when auto-renew goes off)."""
        return self.update_subscription(
            customer_id,
            subscription_id,
            end_of_term_changes(choice),
            request_id=request_id,
            current=current,
        )

    # -- seats and catalogue -----------------------------------------------------------

    def subscribed_skus(self, customer_id: str) -> list[PcSubscribedSku]:
        """Paid, assigned and available seats per SKU (assigned = consumedUnits)."""
        items = self._get(f"/customers/{_q(customer_id)}/subscribedskus").get("items", [])
        return [
            PcSubscribedSku(
                sku_id=item["productSku"]["id"],
                name=item["productSku"].get("name", ""),
                part_number=item["productSku"].get("skuPartNumber", ""),
                total=int(item.get("totalUnits", 0)),
                consumed=int(item.get("consumedUnits", 0)),
                available=int(item.get("availableUnits", 0)),
                status=item.get("capabilityStatus", ""),
                active=int(item.get("activeUnits", 0)),
                suspended=int(item.get("suspendedUnits", 0)),
                license_group_id=item["productSku"].get("licenseGroupId", ""),
                service_plans=tuple(
                    str(plan.get("serviceName", "")) for plan in item.get("servicePlans") or []
                ),
            )
            for item in items
        ]

    def catalogue_sku(
        self, product_id: str, sku: str, country: str = "US"
    ) -> PcCatalogueSku | None:
        """A catalogue SKU (cached for the life of this client); None if the catalogue lacks it."""
        key = f"{product_id}:{sku}"
        if key not in self._skus:
            try:
                item = self._get(f"/products/{_q(product_id)}/skus/{_q(sku)}", {"country": country})
            except NotFound:
                self._skus[key] = None
            else:
                attrs = item.get("dynamicAttributes") or {}
                self._skus[key] = PcCatalogueSku(
                    product_id=product_id,
                    sku=sku,
                    title=item.get("title", ""),
                    azure_sku_id=attrs.get("provisioningId") or attrs.get("azureSkuId"),
                    part_number=attrs.get("skuPartNumber"),
                    is_trial=bool(item.get("isTrial")),
                    unit_price=item.get("unitPrice"),
                    raw=item,
                )
        return self._skus[key]

    def catalogue(self, country: str = "US") -> list[PcCatalogueSku]:
        """Every SKU of the online-services catalogue (products, then their SKUs)."""
        products = self._get("/products", {"country": country, "targetView": "OnlineServices"})
        skus: list[PcCatalogueSku] = []
        for product in products.get("items", []):
            answer = self._get(f"/products/{_q(product['id'])}/skus", {"country": country})
            for item in answer.get("items", []):
                attrs = item.get("dynamicAttributes") or {}
                sku = PcCatalogueSku(
                    product_id=product["id"],
                    sku=item["id"],
                    title=item.get("title", ""),
                    azure_sku_id=attrs.get("provisioningId") or attrs.get("azureSkuId"),
                    part_number=attrs.get("skuPartNumber"),
                    is_trial=bool(item.get("isTrial")),
                    unit_price=item.get("unitPrice"),
                    raw=item,
                )
                self._skus[f"{sku.product_id}:{sku.sku}"] = sku
                skus.append(sku)
        return skus

    def availabilities(self, product_id: str, sku: str, country: str = "US") -> list[str]:
        """The catalog item ids (`product:sku:availability`) a cart can buy for a SKU."""
        answer = self._get(
            f"/products/{_q(product_id)}/skus/{_q(sku)}/availabilities", {"country": country}
        )
        return [item["catalogItemId"] for item in answer.get("items", [])]

    def availability_details(
        self, product_id: str, sku: str, country: str = "US"
    ) -> list[PcAvailability]:
        """A SKU's availabilities with the price of each term and billing cycle (the storefront
        catalogue; shapes in docs/storefront.md)."""
        answer = self._get(
            f"/products/{_q(product_id)}/skus/{_q(sku)}/availabilities", {"country": country}
        )
        result = []
        for item in answer.get("items", []):
            currency = str((item.get("defaultCurrency") or {}).get("code") or "USD")
            prices = tuple(
                PcPrice(
                    term=str(term.get("duration", "")),
                    billing_cycle=str(price.get("billingCycle", "")),
                    unit_price=Decimal(str(price["unitPrice"])),
                    currency=str(price.get("currencyCode") or currency),
                )
                for term in item.get("terms") or []
                for price in term.get("prices") or []
                if price.get("unitPrice") is not None
            )
            result.append(
                PcAvailability(
                    catalog_item_id=item["catalogItemId"],
                    segment=str(item.get("segment", "")),
                    currency=currency,
                    prices=prices,
                    raw=item,
                )
            )
        return result

    def provisioning_sku(self, customer_id: str, subscription_id: str) -> str | None:
        """The Entra SKU id a subscription licenses (provisioningstatus)."""
        return self.provisioning_status(customer_id, subscription_id).sku_id

    def provisioning_status(self, customer_id: str, subscription_id: str) -> PcProvisioningStatus:
        """A subscription's provisioning: its Entra SKU id, status, seats and end date."""
        answer = self._get(
            f"/customers/{_q(customer_id)}/subscriptions/{_q(subscription_id)}/provisioningstatus"
        )
        sku, quantity, end = answer.get("skuId"), answer.get("quantity"), answer.get("endDate")
        return PcProvisioningStatus(
            sku_id=str(sku) if sku else None,
            status=str(answer.get("status", "")),
            quantity=int(quantity) if quantity is not None else None,
            end_date=_when(end).date() if end else None,
        )

    # -- buying and upgrading --------------------------------------------------------

    def buy(
        self,
        customer_id: str,
        lines: list[CartLine],
        *,
        request_id: str,
        attest_partner_of_record: bool = False,
    ) -> list[OrderLine]:
        """Create a cart and check it out; the subscriptions it created, per line.

        Resellers are named to Partner Center by their PartnerID (MPN id; create-an-order-
        for-a-customer-of-an-indirect-reseller.md). A line may name a reseller by its
        relationship id instead: it is sent as that reseller's MPN id."""
        lines = self._with_partner_ids(lines)
        cart_body = {
            "lineItems": [line.as_json(i) for i, line in enumerate(lines)],
            "partnerOnRecordAttestationAccepted": attest_partner_of_record,
        }
        cart = self.caller.request(
            "POST",
            f"/customers/{_q(customer_id)}/carts",
            json=cart_body,
            request_id=f"{request_id}-cart" if len(request_id) < 60 else request_id,
        ).json()
        answer = self.caller.request(
            "POST",
            f"/customers/{_q(customer_id)}/carts/{_q(cart['id'])}/checkout",
            json={},
            request_id=request_id,
        ).json()
        result = []
        for order in answer.get("orders", []):
            for line in order.get("lineItems", []):
                result.append(
                    OrderLine(
                        subscription_id=line["subscriptionId"],
                        catalog_item_id=line["offerId"],
                        quantity=int(line["quantity"]),
                        term_duration=line.get("termDuration", ""),
                    )
                )
        return result

    def _with_partner_ids(self, lines: list[CartLine]) -> list[CartLine]:
        """The lines with resellers named by relationship id renamed to their MPN id."""
        if not any(line.reseller_of_record or line.other_resellers for line in lines):
            return lines
        mpn = {r.id: r.mpn_id for r in self.resellers() if r.mpn_id}
        return [
            replace(
                line,
                reseller_of_record=(
                    mpn.get(line.reseller_of_record, line.reseller_of_record)
                    if line.reseller_of_record
                    else None
                ),
                other_resellers=tuple(mpn.get(r, r) for r in line.other_resellers),
            )
            for line in lines
        ]

    def custom_term_end_dates(
        self, customer_id: str, term_duration: str, *, target: str | None = None
    ) -> list[CustomTermEnd]:
        """The allowed custom term end dates of a subscription of `term_duration` bought
        today (custom-term-end-dates.md), optionally only `target`'s. Each item is
        `{allowedCustomTermEndDateType, allowedCustomTermEndDate}`, and a subscription-aligned
        one also names `cotermSubscriptionIds` (the page's response example)."""
        params = {"term_duration": term_duration}
        if target:
            params["target_coterm_subscription_id"] = target
        answer = self._get(f"/customers/{_q(customer_id)}/subscriptions/customTermEndDates", params)
        return [
            CustomTermEnd(
                end=_when(str(item["allowedCustomTermEndDate"])).date(),
                subscription_ids=tuple(str(i) for i in item.get("cotermSubscriptionIds") or ()),
            )
            for item in answer.get("items", [])
            if item.get("allowedCustomTermEndDate")
        ]

    def transition_eligibilities(
        self, customer_id: str, subscription_id: str, *, scheduled: bool = False
    ) -> list[Eligibility]:
        """The upgrade targets of a subscription and whether each is possible."""
        answer = self._get(
            f"/customers/{_q(customer_id)}/subscriptions/{_q(subscription_id)}"
            "/transitionEligibilities",
            {"eligibilityType": "scheduled" if scheduled else "immediate"},
        )
        result = []
        for item in answer.get("items", []):
            checks = item.get("eligibilities") or [{}]
            result.append(
                Eligibility(
                    catalog_item_id=item["catalogItemId"],
                    title=item.get("title", ""),
                    eligible=all(c.get("isEligible", False) for c in checks),
                    transition_type=checks[0].get("transitionType", ""),
                    errors=tuple(
                        e.get("description", "") for c in checks for e in c.get("errors", [])
                    ),
                    operation_id=item.get("operationId", ""),
                    description=item.get("description", ""),
                    quantity=int(item["quantity"]) if item.get("quantity") is not None else None,
                    target_subscriptions=tuple(
                        TargetSubscription(
                            subscription_id=s["subscriptionId"],
                            friendly_name=s.get("subscriptionFriendlyName", ""),
                            term_duration=s.get("subscriptionTermDuration", ""),
                            billing_cycle=s.get("subscriptionBillingCycle", ""),
                            eligible=bool(s.get("isEligible", False)),
                            errors=tuple(e.get("description", "") for e in s.get("errors", [])),
                        )
                        for s in item.get("subscriptionEligibilities") or []
                    ),
                )
            )
        return result

    def transition(
        self,
        customer_id: str,
        subscription_id: str,
        *,
        to_catalog_item_id: str,
        quantity: int,
        request_id: str,
        transition_type: str = "transition_with_license_transfer",
        to_subscription_id: str | None = None,
        term_duration: str | None = None,
        billing_cycle: str | None = None,
    ) -> dict[str, Any]:
        """Upgrade all (same subscription) or some seats (a co-terminous one) of a subscription,
        or convert a trial (its paid equivalent, a term and billing cycle of its own).
        The answer is Partner Center's Transition: `toSubscriptionId`, and its `Events`
        (read their latest status with `transition_status`)."""
        body: dict[str, Any] = {
            "toCatalogItemId": to_catalog_item_id,
            "quantity": quantity,
            "transitionType": transition_type,
        }
        if to_subscription_id:
            body["toSubscriptionId"] = to_subscription_id
        if term_duration:
            body["termDuration"] = term_duration
        if billing_cycle:
            body["billingCycle"] = billing_cycle
        answer = self.caller.request(
            "POST",
            f"/customers/{_q(customer_id)}/subscriptions/{_q(subscription_id)}/transitions",
            json=body,
            request_id=request_id,
        )
        result: dict[str, Any] = answer.json()
        return result

    def transitions(self, customer_id: str, subscription_id: str) -> list[dict[str, Any]]:
        """The transitions of a subscription, oldest first (get-transitions.md: the list
        comes under `transition`)."""
        answer = self._get(
            f"/customers/{_q(customer_id)}/subscriptions/{_q(subscription_id)}/transitions"
        )
        done = answer.get("transition", answer.get("items", []))
        return [t for t in done if isinstance(t, dict)]

    def audit_records(self, start: datetime, end: datetime | None = None) -> list[dict[str, Any]]:
        """Partner Center's record of changes between two moments."""
        params = {"startDate": start.isoformat()}
        if end is not None:
            params["endDate"] = end.isoformat()
        return list(self._pages("/auditrecords", params))

    # -- Azure plan usage (Graph: partners billing, v2) ---------------------------------

    def unbilled_azure_usage(
        self, billing_period: str, currency: str = "USD", wait_seconds: float = 120.0
    ) -> list[AzureUsageLine]:
        """Every customer's unbilled Azure usage of a billing period ("current" or "last"),
        one line per day, meter and resource: start the export, poll the operation, then
        read the manifest's blobs (gzip JSON lines) with its SAS token."""
        if billing_period not in ("current", "last"):
            raise ValueError("billing_period must be 'current' or 'last'")
        started = self.billing.request(
            "POST",
            UNBILLED_USAGE_EXPORT,
            json={
                "currencyCode": currency,
                "billingPeriod": billing_period,
                "attributeSet": "full",
            },
        )
        where = started.headers.get("Location")
        if not where:
            raise MicrosoftError("The usage export answered without an operation to follow.")
        deadline = time.monotonic() + wait_seconds
        while True:
            operation = self.billing.request("GET", where).json()
            status = operation.get("status")
            if status == "succeeded":
                break
            if status == "failed" or time.monotonic() > deadline:
                raise MicrosoftError(f"The usage export did not finish (status {status}).")
            time.sleep(_seconds(started.headers.get("Retry-After"), 5.0))
        manifest = operation.get("resourceLocation") or {}
        root, sas = str(manifest.get("rootDirectory", "")).rstrip("/"), manifest.get("sasToken")
        lines: list[AzureUsageLine] = []
        for blob in manifest.get("blobs") or []:
            answer = self.http.get(f"{root}/{blob['name']}?{sas}")  # the SAS token, no bearer
            if answer.status_code != 200:
                raise MicrosoftError(
                    f"A usage blob could not be read (HTTP {answer.status_code}).",
                    status=answer.status_code,
                )
            for text in gzip.decompress(answer.content).decode("utf-8").splitlines():
                if text.strip():
                    lines.append(_usage_line(json.loads(text)))
        return lines

    # -- plumbing ----------------------------------------------------------------------

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.caller.calls

    def _get(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        answer = self.caller.request("GET", path, params=params)
        data: dict[str, Any] = answer.json()
        return data

    def _pages(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Follow `links.next` (with its continuation-token header) to the last page."""
        page = self._get(path, params)
        while True:
            yield from page.get("items", [])
            nxt = (page.get("links") or {}).get("next")
            if not nxt:
                return
            headers = {h["key"]: h["value"] for h in nxt.get("headers", []) if "key" in h}
            uri = nxt["uri"]
            if not uri.startswith("http"):
                uri = uri if uri.startswith("/") else f"/{uri}"
            answer = self.caller.request("GET", uri, headers=headers)
            page = answer.json()


def _seconds(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), 60.0) if value else default
    except ValueError:
        return default


def _usage_line(item: dict[str, Any]) -> AzureUsageLine:
    """A daily rated usage line item (v2 attribute names) as our dataclass."""
    return AzureUsageLine(
        customer_id=str(item["CustomerId"]),
        subscription_id=str(item.get("SubscriptionId") or ""),
        entitlement_id=str(item.get("EntitlementId") or ""),
        entitlement_name=str(item.get("EntitlementDescription") or item.get("EntitlementId") or ""),
        usage_date=_when(str(item["UsageDate"])).date(),
        resource_group=str(item.get("ResourceGroup") or "(no resource group)"),
        meter_id=str(item.get("MeterId") or ""),
        meter_category=str(item.get("MeterCategory") or ""),
        meter_subcategory=str(item.get("MeterSubCategory") or ""),
        meter_name=str(item.get("MeterName") or ""),
        unit=str(item.get("Unit") or item.get("UnitType") or ""),
        quantity=Decimal(str(item.get("Quantity") or 0)),
        cost=Decimal(str(item.get("BillingPreTaxTotal") or 0)),
        currency=str(item.get("BillingCurrency") or "USD"),
    )


def _q(value: str) -> str:
    return quote(value, safe="")


def _customer(item: dict[str, Any]) -> PcCustomer:
    profile = item.get("companyProfile") or {}
    return PcCustomer(
        id=item["id"],
        name=profile.get("companyName") or item["id"],
        domain=profile.get("domain"),
        tenant_id=profile.get("tenantId") or item["id"],
        reseller_id=item.get("associatedPartnerId") or None,
        email=profile.get("email") or None,
        country=(profile.get("address") or {}).get("country") or None,
        billing_email=(item.get("billingProfile") or {}).get("email") or None,
        custom_domains=tuple(item.get("customDomains") or ()),
    )


def offer_key(offer_id: str) -> str:
    """Seatwise's offer key, `product:sku`, from a subscription's `offerId`. New commerce
    answers `product:sku:availability` (get-a-subscription-by-id.md); the availability changes
    with the catalogue and is not part of the offer's identity here. Other ids are kept."""
    parts = offer_id.split(":")
    return ":".join(parts[:2]) if len(parts) == 3 else offer_id


def _subscription(item: dict[str, Any]) -> PcSubscription:
    refundable = item.get("refundableQuantity")
    scheduled = item.get("scheduledNextTermInstructions") or None
    product_type = (item.get("productType") or {}).get("id", "")
    return PcSubscription(
        id=item["id"],
        offer_id=offer_key(item["offerId"]),
        offer_name=item.get("offerName") or item["offerId"],
        friendly_name=item.get("friendlyName") or None,
        quantity=int(item["quantity"]),
        status=item.get("status", "none"),
        auto_renew=bool(item.get("autoRenewEnabled")),
        is_trial=bool(item.get("isTrial")),
        is_nce=product_type == "OnlineServicesNCE",
        term_duration=item.get("termDuration") or "P1M",
        billing_cycle=item.get("billingCycle") or "monthly",
        creation_date=_when(item["creationDate"]),
        effective_start=_when(item.get("effectiveStartDate") or item["creationDate"]),
        commitment_end=_when(item["commitmentEndDate"]).date(),
        partner_id=item.get("partnerId") or None,
        etag=(item.get("attributes") or {}).get("etag"),
        refundable=None
        if refundable is None
        else tuple(
            RefundableTranche(int(d["quantity"]), _when(d["allowedUntilDateTime"]))
            for d in refundable.get("details", [])
        ),
        scheduled_quantity=int(scheduled["quantity"])
        if scheduled and scheduled.get("quantity") is not None
        else None,
        raw=item,
        end_of_term=_end_of_term(item),
        cancellation_allowed_until=_when(item["cancellationAllowedUntilDate"])
        if item.get("cancellationAllowedUntilDate")
        else None,
        est=_est(item),
    )


def _end_of_term(item: dict[str, Any]) -> str | None:
    """The end-of-term choice from `scheduledActions` (else from `autoRenewEnabled` alone)."""
    choices = {action: choice for choice, action in END_OF_TERM_ACTIONS.items()}
    for action in item.get(SCHEDULED_ACTIONS) or []:
        if isinstance(action, dict) and action.get(SCHEDULE_TYPE, TERM_END) == TERM_END:
            found = choices.get(str(action.get(ACTION_TYPE)))
            if found:
                return found
    if SCHEDULED_ACTIONS not in item and item.get("autoRenewEnabled"):
        return "renew"  # a Partner Center answer from before end-of-term choices
    return None


def _est(item: dict[str, Any]) -> PcExtendedServiceTerm | None:
    """The Extended Service Term a subscription is in (the emulator's object), if any."""
    est = item.get(EST_OBJECT)
    if not isinstance(est, dict) or est.get("unitPrice") is None or not est.get("startDate"):
        return None
    uplift = est.get("upliftPercent")
    return PcExtendedServiceTerm(
        since=_when(est["startDate"]).date(),
        unit_price=Decimal(str(est["unitPrice"])),
        uplift_percent=int(uplift) if uplift is not None else None,
        previous_term=est.get("previousTermDuration"),
    )


def _align_end_of_term(body: dict[str, Any], fresh: PcSubscription) -> None:
    """Auto-renew changed without naming an end-of-term action: make `scheduledActions`
    agree. On: renew. Off: keep an explicit cancel at end of term; otherwise send none, and
    Partner Center applies its default (EST in scope, else the subscription expires)."""
    if body.get("autoRenewEnabled"):
        action = END_OF_TERM_ACTIONS["renew"]
    elif fresh.cancel_at_end:
        action = END_OF_TERM_ACTIONS["cancel"]
    else:
        body.pop(SCHEDULED_ACTIONS, None)
        return
    body[SCHEDULED_ACTIONS] = [{SCHEDULE_TYPE: TERM_END, ACTION_TYPE: action}]


def _when(text: str) -> datetime:
    """Partner Center dates: ISO 8601, with or without a zone (UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
