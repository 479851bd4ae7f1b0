"""Loading a scenario (resellers, customers, users, subscriptions) into the state."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from emulator import catalogue, end_of_term
from emulator.catalogue import TRIAL_SEATS
from emulator.clock import parse_when, term_months
from emulator.lifecycle import commitment_end
from emulator.model import (
    CANCELLATION_WINDOW,
    WORKLOADS,
    AzureMeter,
    Customer,
    Reseller,
    Subscription,
    Tranche,
    User,
)

if TYPE_CHECKING:
    from emulator.state import Store

STATUSES = ("active", "suspended", "deleted", "expired", "disabled", "pending")


class ScenarioError(ValueError):
    """A scenario that cannot be loaded."""


def _require(raw: dict[str, Any], name: str, where: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}: {name!r} is required")
    return value


def _when(value: Any, now: datetime, where: str) -> datetime:
    try:
        return parse_when(str(value), now)
    except ValueError as exc:
        raise ScenarioError(f"{where}: {value!r} is not a date") from exc


def load(store: Store, data: Any) -> dict[str, int]:
    """Add the scenario to the current state; return what was added."""
    if not isinstance(data, dict):
        raise ScenarioError("the scenario must be a JSON object")
    now = store.now()
    counts = {"resellers": 0, "customers": 0, "users": 0, "subscriptions": 0}
    for raw in data.get("resellers") or []:
        reseller_id = _require(raw, "id", "reseller")
        store.add_reseller(
            Reseller(
                id=reseller_id,
                name=raw.get("name") or reseller_id,
                mpn_id=str(raw.get("mpn_id") or partner_id_for(reseller_id)),
                relationship=raw.get("relationship") or "authorised",
            )
        )
        counts["resellers"] += 1
    for raw in data.get("customers") or []:
        _load_customer(store, raw, now, counts)
    return counts


def _load_customer(store: Store, raw: Any, now: datetime, counts: dict[str, int]) -> None:
    if not isinstance(raw, dict):
        raise ScenarioError("each customer must be an object")
    customer_id = _require(raw, "id", "customer")
    name = raw.get("name") or customer_id
    slug = "".join(ch for ch in name.lower() if ch.isalnum()) or customer_id
    customer = store.add_customer(
        Customer(
            id=customer_id,
            name=name,
            domain=raw.get("domain") or f"{slug}.onmicrosoft.com",
            tenant_id=raw.get("tenant_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, customer_id)),
            reseller_id=raw.get("reseller_id"),
            entra_premium=bool(raw.get("entra_premium", True)),
            conceal_report_names=bool(raw.get("conceal_report_names", False)),
        )
    )
    counts["customers"] += 1
    for sub_raw in raw.get("subscriptions") or []:
        store.add_subscription(customer, _subscription(store, customer, sub_raw, now))
        counts["subscriptions"] += 1
    customer.azure.extend(_azure(customer, raw.get("azure") or [], now))
    for other in raw.get("other_licenses") or []:
        if not isinstance(other, dict) or not isinstance(other.get("units", 0), int):
            raise ScenarioError(f"customer {customer_id}: other_licenses need sku_id and units")
        sku = str(_require(other, "sku_id", f"customer {customer_id} other licence"))
        part = str(other.get("part_number") or sku.upper())
        customer.other[sku] = (part, int(other.get("units", 0)))
    for user_raw in raw.get("users") or []:
        if not isinstance(user_raw, dict):
            raise ScenarioError(f"customer {customer_id}: each user must be an object")
        user_id = _require(user_raw, "id", f"customer {customer_id} user")
        licenses = user_raw.get("licenses") or []
        customer.add_user(
            User(
                id=user_id,
                upn=user_raw.get("upn") or f"{user_id}@{customer.domain}",
                name=user_raw.get("name") or user_id,
                licenses={str(sku): [] for sku in licenses},
                account_enabled=bool(user_raw.get("enabled", True)),
                **_usage(user_raw, now, f"customer {customer_id} user {user_id}"),
            )
        )
        counts["users"] += 1
    for sku, amount in (raw.get("assigned") or {}).items():
        if not isinstance(amount, int) or amount < 0:
            raise ScenarioError(f"customer {customer_id}: assigned {sku} must be a count")
        for _ in range(amount):
            customer.generated_users += 1
            number = customer.generated_users
            customer.add_user(
                User(
                    id=f"{customer_id}-user-{number}",
                    upn=f"user{number}@{customer.domain}",
                    name=f"User {number}",
                    licenses={str(sku): []},
                    **_usage({}, now, "generated user"),
                )
            )
            counts["users"] += 1


def _usage(raw: dict[str, Any], now: datetime, where: str) -> dict[str, Any]:
    """A user's sign-in and per-workload activity: ``last_sign_in`` (a date, relative or
    ISO, or null = never; default a day ago), ``last_non_interactive_sign_in`` (default:
    the same), ``activity`` ``{workload: date or null}`` over WORKLOADS (each omitted
    workload defaults to a day ago: an active person unless the scenario says otherwise)."""
    recent = now - timedelta(days=1)

    def moment(key: str, default: datetime | None) -> datetime | None:
        if key not in raw:
            return default
        return None if raw[key] is None else _when(raw[key], now, where)

    signed_in = moment("last_sign_in", recent)
    activity_raw = raw.get("activity") or {}
    if not isinstance(activity_raw, dict) or set(activity_raw) - set(WORKLOADS):
        raise ScenarioError(f"{where}: activity names workloads among {WORKLOADS}")
    activity = {}
    for workload in WORKLOADS:
        value = activity_raw.get(workload, "-1d")
        activity[workload] = None if value is None else _when(value, now, where).date()
    return {
        "last_sign_in": signed_in,
        "last_non_interactive_sign_in": moment("last_non_interactive_sign_in", signed_in),
        "activity": activity,
    }


def _subscription(store: Store, customer: Customer, raw: Any, now: datetime) -> Subscription:
    """A scenario subscription with its defaults and tranches."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"customer {customer.id}: each subscription must be an object")
    sub_id = _require(raw, "id", f"customer {customer.id} subscription")
    where = f"subscription {sub_id}"
    trial = bool(raw.get("trial", False))
    offer_id = raw.get("offer_id") or (catalogue.PREMIUM_TRIAL if trial else catalogue.PREMIUM)
    item = catalogue.offer(offer_id)
    offer_name = raw.get("offer_name") or (item.title if item else offer_id)
    term = "P1M" if trial else raw.get("term") or "P1Y"  # a trial always lasts one month
    try:
        term_months(term)
    except ValueError as exc:
        raise ScenarioError(f"{where}: term {term!r} is not a term duration") from exc
    status = raw.get("status") or "active"
    if status not in STATUSES:
        raise ScenarioError(f"{where}: status must be one of {STATUSES}")
    created = _when(raw.get("created") or raw.get("term_start") or "+0d", now, where)
    term_start = _when(raw.get("term_start") or raw.get("created") or "+0d", now, where)
    tranches = [
        Tranche(
            int(t["quantity"]),
            _when(t.get("added", "+0d"), now, where),
            refundable=bool(t.get("refundable", True)),
        )
        for t in raw.get("tranches") or []
    ]
    if not tranches:
        quantity = raw.get("quantity", TRIAL_SEATS if trial else 1)
        tranches = [Tranche(int(quantity), term_start)]
    if trial:
        for tranche in tranches:
            tranche.refundable = False
    nce = bool(raw.get("nce", True))
    end = raw.get("commitment_end")
    auto_renew, end_choice = _end_of_term(raw, status, where)
    sub = Subscription(
        id=sub_id,
        customer_id=customer.id,
        offer_id=offer_id,
        sku_id=str(raw.get("sku_id") or (item.sku_id if item else offer_id)),
        offer_name=offer_name,
        friendly_name=raw.get("friendly_name") or offer_name,
        status=status,
        auto_renew=auto_renew,
        trial=trial,
        nce=nce,
        term=term,
        billing_cycle=raw.get("billing_cycle") or "monthly",
        created=created,
        term_started=term_start,
        effective_start=term_start.date(),
        commitment_end=(
            _when(end, now, where).date() if end else commitment_end(term_start.date(), term)
        ),
        cancel_until=_cancel_until(raw, trial, term_start, now, where),
        tranches=tranches,
        partner_id=raw.get("partner_id") or _partner_of_record(store, customer),
        order_id=raw.get("order_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, f"order:{sub_id}")),
        unit_price=float(raw.get("unit_price", item.unit_price if item else 0.0)),
        scheduled=raw.get("scheduled"),
        update_count=int(raw.get("update_count", 0)),
        term_end_action=end_of_term.CANCEL if end_choice == end_of_term.CANCEL else None,
    )
    if end_choice == end_of_term.EST and not end_of_term.in_scope(sub):
        raise ScenarioError(
            f"{where}: end_of_term 'est' needs an NCE subscription bought or renewed on or "
            f"after {end_of_term.BOUGHT_FROM} that ends on or after {end_of_term.ENDING_FROM}"
        )
    return sub


def _azure(customer: Customer, plans: Any, now: datetime) -> list[AzureMeter]:
    """A customer's Azure plan usage: per plan, its Azure subscriptions (entitlements) and
    per entitlement the meters used in each resource group, the same quantity every day."""
    if not isinstance(plans, list):
        raise ScenarioError(f"customer {customer.id}: azure must be a list of Azure plans")
    meters = []
    for plan in plans:
        plan_id = _require(plan, "subscription_id", f"customer {customer.id} azure plan")
        where = f"azure plan {plan_id}"
        for ent in plan.get("entitlements") or []:
            ent_id = _require(ent, "id", f"{where} entitlement")
            for raw in ent.get("usage") or []:
                try:
                    quantity = float(raw["daily_quantity"])
                    price = float(raw["unit_price"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ScenarioError(
                        f"{where}: each usage needs a numeric daily_quantity and unit_price"
                    ) from exc
                if quantity < 0 or price < 0:
                    raise ScenarioError(f"{where}: daily_quantity and unit_price must be >= 0")
                end = raw.get("to")
                meters.append(
                    AzureMeter(
                        subscription_id=plan_id,
                        entitlement_id=ent_id,
                        entitlement_name=ent.get("name") or ent_id,
                        resource_group=_require(raw, "resource_group", f"{where} usage"),
                        category=_require(raw, "category", f"{where} usage"),
                        subcategory=raw.get("subcategory") or "",
                        name=_require(raw, "meter", f"{where} usage"),
                        region=raw.get("region") or "US East",
                        unit=raw.get("unit") or "1 Hour",
                        daily_quantity=quantity,
                        unit_price=price,
                        start=_when(raw.get("from") or "-60d", now, where).date(),
                        end=_when(end, now, where).date() if end else None,
                        currency=plan.get("currency") or "USD",
                    )
                )
    return meters


def _cancel_until(
    raw: dict[str, Any], trial: bool, term_start: datetime, now: datetime, where: str
) -> datetime | None:
    """`cancellable_until`: a date, or null for a subscription Partner Center does not let be
    cancelled (a partial upgrade's); omitted: 7 days from the start of the term."""
    if "cancellable_until" in raw:
        value = raw["cancellable_until"]
        return None if value is None else _when(value, now, where)
    return None if trial else term_start + CANCELLATION_WINDOW


def _end_of_term(raw: dict[str, Any], status: str, where: str) -> tuple[bool, str | None]:
    """Auto-renew and the end-of-term choice (``end_of_term``: renew, cancel or est)."""
    choice = raw.get("end_of_term")
    auto_renew = raw.get("auto_renew")
    if choice is None:
        return bool(status == "active" if auto_renew is None else auto_renew), None
    if choice not in end_of_term.CHOICES:
        raise ScenarioError(f"{where}: end_of_term must be one of {end_of_term.CHOICES}")
    renews = choice == end_of_term.RENEW
    if auto_renew is not None and bool(auto_renew) != renews:
        raise ScenarioError(f"{where}: end_of_term {choice!r} contradicts auto_renew {auto_renew}")
    if renews and status != "active":
        raise ScenarioError(f"{where}: end_of_term 'renew' needs an active subscription")
    return renews, choice


def partner_id_for(reseller_id: str) -> str:
    """A stable seven-digit PartnerID (MPN id) for a reseller the scenario gives none."""
    digest = hashlib.sha1(reseller_id.encode(), usedforsecurity=False).hexdigest()
    return str(1_000_000 + int(digest, 16) % 9_000_000)


def _partner_of_record(store: Store, customer: Customer) -> str | None:
    """The subscription's ``partnerId``: the PartnerID of the customer's reseller
    (subscription-resources.md), or its id when the reseller is not loaded."""
    if not customer.reseller_id:
        return None
    reseller = store.resellers.get(customer.reseller_id)
    return reseller.mpn_id if reseller is not None else customer.reseller_id
