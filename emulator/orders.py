"""Carts, checkout and transitions (upgrades), with the rules that govern them."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from emulator import catalogue, errors
from emulator.catalogue import TRIAL_SEATS, Offer
from emulator.clock import iso, iso_day, parse_iso
from emulator.errors import ApiError, invalid, not_found, refused
from emulator.lifecycle import (
    PAID_TRIAL_TERM,
    commitment_end,
    start_term,
    switch_offer,
    take_seats,
)
from emulator.model import CANCELLATION_WINDOW, Customer, Subscription, Tranche
from emulator.rules import addon_seats, base_seats, check_addon, check_not_renewing
from emulator.shapes import catalogue_links, link, subscription_json

if TYPE_CHECKING:
    from emulator.state import Store

MAX_ADDITIONAL_RESELLERS = 5
RECORD_KEY = "transaction_reseller"
ATTESTATION_FIELDS = ("partnerOnRecordAttestationAccepted", "partnerOfRecordAttestation")
TRANSITION_TYPES = ("transition_only", "transition_with_license_transfer")


def _positive_int(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise invalid(f"{name} must be a positive integer.")
    return value


def _line_item(index: int, raw: Any) -> dict[str, Any]:
    """Validate one cart line item and fill in its defaults."""
    if not isinstance(raw, dict):
        raise invalid("Each line item must be an object.")
    item = catalogue.offer_for_item(str(raw.get("catalogItemId", "")))
    if item is None:
        raise ApiError(
            400,
            errors.UNKNOWN_CATALOG_ITEM,
            f"Invalid offer ID: {raw.get('catalogItemId')!r} is not in the catalogue.",
        )
    default_quantity = TRIAL_SEATS if item.is_trial else None
    quantity = _positive_int(raw.get("quantity", default_quantity), "quantity")
    if item.is_trial and quantity != TRIAL_SEATS:
        raise invalid(f"A trial comes with exactly {TRIAL_SEATS} seats.")
    if quantity > item.max_quantity:
        raise invalid(f"{item.title} allows at most {item.max_quantity} seats.")
    term = raw.get("termDuration") or ("P1Y" if "P1Y" in item.terms else item.terms[0])
    if term not in item.terms:
        raise invalid(f"{item.title} is not sold with term {term}.")
    cycle = raw.get("billingCycle") or "monthly"
    if cycle not in catalogue.billing_cycles(term):
        raise invalid(f"Billing cycle {cycle} is not available for term {term}.")
    custom_end = raw.get("customTermEndDate")
    if custom_end is not None:
        try:
            parse_iso(str(custom_end))
        except ValueError:
            raise invalid("customTermEndDate must be a date-time.") from None
    participants = raw.get("participants") or []
    if not isinstance(participants, list) or not all(
        isinstance(p, dict) and "key" in p and "value" in p for p in participants
    ):
        raise invalid("participants must be a list of {key, value}.")
    return {
        "id": index,
        "catalogItemId": item.catalog_item_id,
        "quantity": quantity,
        "currencyCode": catalogue.CURRENCY,
        "billingCycle": cycle,
        "termDuration": term,
        "friendlyName": raw.get("friendlyName") or item.title,
        "provisioningContext": raw.get("provisioningContext") or {},
        "participants": participants,
        "orderGroup": "0",
        "pricing": catalogue.pricing(item, quantity, term, cycle),
        **({"customTermEndDate": iso_day(parse_iso(str(custom_end)).date())} if custom_end else {}),
    }


def _resellers(
    store: Store, customer: Customer, line: dict[str, Any]
) -> tuple[str | None, list[str]]:
    """The reseller of record's PartnerID (MPN id) and the additional resellers named by a
    line item. Participants name resellers by their PartnerID (create-a-cart.md's example;
    create-an-order-for-a-customer-of-an-indirect-reseller.md: ``PartnerIdOnRecord`` is the
    reseller's ``MpnId``); without a ``transaction_reseller`` the customer's own reseller is
    the reseller of record."""
    named = [str(p["value"]) for p in line["participants"] if "reseller" in str(p["key"]).lower()]
    value = next((str(p["value"]) for p in line["participants"] if p["key"] == RECORD_KEY), None)
    additional = [v for v in named if v != value]
    if len(additional) > MAX_ADDITIONAL_RESELLERS:
        raise refused(
            errors.TOO_MANY_RESELLERS,
            f"An order may name at most {MAX_ADDITIONAL_RESELLERS} resellers besides the "
            "reseller of record.",
        )
    if value is not None:
        reseller = store.reseller_by_partner_id(value)
    elif customer.reseller_id:
        value = customer.reseller_id
        reseller = store.resellers.get(customer.reseller_id)
    else:
        return None, additional
    if reseller is None or not reseller.authorised:
        raise refused(
            errors.RESELLER_NOT_AUTHORISED,
            f"PartnerID {value} isn't a valid Indirect Reseller of the partner.",
        )
    return reseller.mpn_id, additional


def custom_term_end_dates(
    customer: Customer,
    now: datetime,
    term: str,
    start: date | None = None,
    target: str | None = None,
) -> list[dict[str, Any]]:
    """The end dates a new subscription of `term` bought on `start` may have instead of its
    full term (custom-term-end-dates.md: aligned with the end of a calendar month, or co-
    terminous with an existing subscription of the customer): the calendar month's end
    before the term's own end, and the end dates of the customer's active, paid new-commerce
    subscriptions that fall within the new term. `target` keeps only that subscription's.
    The query parameters and the item fields are Microsoft's (custom-term-end-dates.md's
    response example): `allowedCustomTermEndDate`, `allowedCustomTermEndDateType`
    (calendarMonthAligned or subscriptionAligned) and, for a subscription-aligned date, the
    ids of every subscription ending that day (`cotermSubscriptionIds`)."""
    if term not in ("P1M", "P1Y", "P3Y"):
        raise invalid("term_duration must be P1M, P1Y or P3Y.")
    start = start or now.date()
    if start < now.date():
        raise invalid("term_start_date can't be in the past.")
    full_end = commitment_end(start, term)
    items: list[dict[str, Any]] = []
    month_end = full_end.replace(day=1) - timedelta(days=1)
    if target is None and start < month_end < full_end:
        items.append(
            {
                "allowedCustomTermEndDate": iso_day(month_end),
                "allowedCustomTermEndDateType": "calendarMonthAligned",
            }
        )
    ending: dict[date, list[str]] = {}
    for sub in sorted(customer.subscriptions.values(), key=lambda s: (s.commitment_end, s.id)):
        if target is not None and sub.id != target:
            continue
        if sub.status != "active" or sub.trial or not sub.nce:
            continue
        if not start <= sub.commitment_end <= full_end:
            continue
        ending.setdefault(sub.commitment_end, []).append(sub.id)
    items += [
        {
            "allowedCustomTermEndDateType": "subscriptionAligned",
            "cotermSubscriptionIds": ids,
            "allowedCustomTermEndDate": iso_day(end),
        }
        for end, ids in ending.items()
    ]
    return items


def _check_custom_end(customer: Customer, line: dict[str, Any], now: datetime) -> None:
    """A line's customTermEndDate must be one of the allowed dates for its term."""
    wanted = line.get("customTermEndDate")
    if not wanted:
        return
    allowed = {
        i["allowedCustomTermEndDate"]
        for i in custom_term_end_dates(customer, now, line["termDuration"])
    }
    if wanted not in allowed:
        raise refused(
            errors.CUSTOM_END_NOT_ALLOWED,
            f"customTermEndDate {wanted} is not an allowed custom term end date for a "
            f"{line['termDuration']} term bought today.",
        )


def create_cart(store: Store, customer: Customer, body: Any) -> dict[str, Any]:
    """Validate and keep a cart; return its JSON."""
    if not isinstance(body, dict) or not isinstance(body.get("lineItems"), list):
        raise invalid("A cart needs a list of lineItems.")
    if not body["lineItems"]:
        raise invalid("A cart needs at least one line item.")
    lines = [_line_item(i, raw) for i, raw in enumerate(body["lineItems"])]
    attested = any(body.get(name) is True for name in ATTESTATION_FIELDS)
    for line in lines:
        _resellers(store, customer, line)
        if line["participants"] and not attested:
            raise refused(
                errors.ATTESTATION_REQUIRED,
                "Partner Attestation is missing: naming resellers needs "
                "partnerOnRecordAttestationAccepted: true.",
            )
    now = store.now()
    for line in lines:
        _check_custom_end(customer, line, now)
    cart_id = str(uuid.uuid4())
    cart: dict[str, Any] = {
        "id": cart_id,
        "customerId": customer.id,
        "creationTimestamp": iso(now),
        "lastModifiedTimestamp": iso(now),
        "expirationTimestamp": iso(now + timedelta(days=7)),
        "lastModifiedUser": "emulator@partner.example",
        "status": "Active",
        "partnerOnRecordAttestationAccepted": attested,
        "lineItems": lines,
        "links": {"self": link(f"/customers/{customer.id}/carts/{cart_id}")},
        "attributes": {"objectType": "Cart"},
    }
    store.carts[cart["id"]] = cart
    return cart


def checkout(store: Store, customer: Customer, cart_id: str) -> dict[str, Any]:
    """Check the rules for the whole cart, then create its subscriptions in one order."""
    cart = store.carts.get(cart_id)
    if cart is None or cart["customerId"] != customer.id:
        raise not_found(f"Cart {cart_id}")
    if cart["status"] != "Active":
        # checkout-a-cart.md: checkout is idempotent; checking out a cart that was checked
        # out successfully re-iterates the result of the first checkout.
        return store.checkouts[cart_id]
    plan = [(line, catalogue.offer_for_item(line["catalogItemId"])) for line in cart["lineItems"]]
    _check_cart_rules(customer, [(line, item) for line, item in plan if item is not None])
    now = store.now()
    order_id = str(uuid.uuid4())
    order_lines = []
    for line, item in plan:
        assert item is not None
        record, _ = _resellers(store, customer, line)
        sub = _new_subscription(customer, item, line, record, order_id, now)
        store.add_subscription(customer, sub)
        order_lines.append(
            {
                "lineItemNumber": line["id"],
                "offerId": item.catalog_item_id,
                "subscriptionId": sub.id,
                "termDuration": sub.term,
                "transactionType": "New",
                "friendlyName": sub.friendly_name,
                "quantity": sub.quantity,
                "partnerIdOnRecord": record or "",
                "pricing": line["pricing"],
                "links": {
                    **catalogue_links(item.catalog_item_id),
                    "subscription": link(f"/customers/{customer.id}/subscriptions/{sub.id}"),
                },
            }
        )
    cart["status"] = "Ordered"
    order_uri = f"/customers/{customer.id}/orders/{order_id}"
    order = {
        "id": order_id,
        "alternateId": order_id[:12],
        "referenceCustomerId": customer.id,
        "billingCycle": cart["lineItems"][0]["billingCycle"],
        "currencyCode": catalogue.CURRENCY,
        "currencySymbol": catalogue.CURRENCY_SYMBOL,
        "lineItems": order_lines,
        "creationDate": iso(now),
        "status": "completed",
        "transactionType": "UserPurchase",
        "links": {
            "self": link(order_uri),
            "provisioningStatus": link(f"{order_uri}/provisioningstatus"),
            "patchOperation": {"uri": order_uri, "method": "PATCH", "headers": []},
        },
        "totalPrice": round(sum(line["pricing"]["extendedPrice"] for line in order_lines), 2),
        "client": {},
        "attributes": {"objectType": "Order"},
    }
    store.record("create_order", customer, "order", order)
    result = {"orders": [order]}
    store.checkouts[cart_id] = result
    return result


def _check_cart_rules(customer: Customer, plan: list[tuple[dict[str, Any], Offer]]) -> None:
    """One-per-customer and add-on limits, counting the seats in the same cart."""
    offers = {item.key: item for _, item in plan}
    in_cart: Counter[str] = Counter()
    seats: Counter[str] = Counter()
    for line, item in plan:
        in_cart[item.key] += 1
        seats[item.key] += line["quantity"]
    for key, count in in_cart.items():
        item = offers[key]
        if item.per_customer is None:
            continue
        held = sum(
            1
            for s in customer.subscriptions.values()
            if s.offer_id == key and s.status in ("active", "suspended", "expired")
        )
        if held + count > item.per_customer:
            raise refused(
                errors.ONE_PER_CUSTOMER,
                f"{item.title} allows {item.per_customer} subscription(s) per customer.",
            )
    for key, quantity in seats.items():
        item = offers[key]
        if item.addon is not None:
            extra = sum(seats[base] for base in item.prerequisites)
            total = addon_seats(customer, item) + quantity
            check_addon(item, total, base_seats(customer, item, extra))


def _new_subscription(
    customer: Customer,
    item: Offer,
    line: dict[str, Any],
    record: str | None,
    order_id: str,
    now: datetime,
) -> Subscription:
    """A subscription bought now from a cart line."""
    return Subscription(
        id=str(uuid.uuid4()),
        customer_id=customer.id,
        offer_id=item.key,
        sku_id=item.sku_id,
        offer_name=item.title,
        friendly_name=line["friendlyName"],
        status="active",
        auto_renew=True,
        trial=item.is_trial,
        nce=True,
        term=line["termDuration"],
        billing_cycle=line["billingCycle"],
        created=now,
        term_started=now,
        effective_start=now.date(),
        commitment_end=(
            parse_iso(line["customTermEndDate"]).date()
            if line.get("customTermEndDate")
            else commitment_end(now.date(), line["termDuration"])
        ),
        cancel_until=None if item.is_trial else now + CANCELLATION_WINDOW,
        tranches=[Tranche(line["quantity"], now, refundable=not item.is_trial)],
        partner_id=record,
        order_id=order_id,
        unit_price=item.unit_price,
    )


def _eligibility_errors(sub: Subscription, now: datetime, immediate: bool) -> list[dict[str, Any]]:
    """Why a subscription cannot transition now (Partner Center's numbered reasons)."""
    problems = []
    if sub.status != "active":
        problems.append({"code": 1, "description": "The subscription is not active."})
    if immediate and sub.cancel_until is not None and now < sub.cancel_until:
        problems.append(
            {"code": 2, "description": "The subscription is in its cancellation window."}
        )
    if not immediate and not sub.auto_renew:
        problems.append({"code": 1, "description": "Auto-renew is off: nothing to schedule."})
    return problems


def _target_errors(
    source: Subscription, target: Subscription, now: datetime
) -> list[dict[str, Any]]:
    """Why an existing subscription cannot receive the seats (transition-a-new-commerce-
    subscription.md, "Subscription eligibility errors": codes 1 to 4)."""
    problems = []
    if target.status != "active":
        problems.append({"code": 1, "description": "Subscription is not active."})
    if target.cancel_until is not None and now < target.cancel_until:
        problems.append({"code": 2, "description": "Subscription is within cancellation window."})
    if _months(target.term) < _months(source.term):
        problems.append(
            {
                "code": 3,
                "description": "The subscription's term duration is shorter than the source "
                "subscription's term duration.",
            }
        )
    if target.commitment_end < source.commitment_end:
        problems.append(
            {
                "code": 4,
                "description": "Subscription term end date is before the source subscription's "
                "term end date.",
            }
        )
    return problems


def eligibilities(
    customer: Customer, sub: Subscription, now: datetime, eligibility_type: str
) -> list[dict[str, Any]]:
    """The upgrade targets of a subscription and whether each is possible now
    (transition-a-new-commerce-subscription.md, "Get Transition Eligibilities"): one
    eligibility per transition type and, for an immediate transition of a paid subscription,
    the customer's subscriptions of the target offer that could receive the seats."""
    if eligibility_type not in ("immediate", "scheduled"):
        raise invalid("eligibilityType must be immediate or scheduled.")
    current = catalogue.offer(sub.offer_id)
    if current is None:
        return []
    immediate = eligibility_type == "immediate"
    problems = _eligibility_errors(sub, now, immediate)
    operation = str(uuid.uuid4())
    items = []
    for key in _targets(current):
        target = catalogue.offer(key)
        assert target is not None
        receivers = [
            s
            for s in customer.subscriptions.values()
            if s.offer_id == target.key and s.id != sub.id and immediate and not sub.trial
        ]
        items.append(
            {
                "operationId": operation,
                "catalogItemId": target.catalog_item_id,
                "title": target.title,
                "description": target.title,
                "quantity": sub.quantity,
                "eligibilities": [
                    {"isEligible": not problems, "transitionType": kind, "errors": problems}
                    for kind in reversed(TRANSITION_TYPES)
                ],
                "subscriptionEligibilities": [
                    {
                        "isEligible": not (errors := _target_errors(sub, s, now)),
                        "subscriptionId": s.id,
                        "subscriptionFriendlyName": s.friendly_name or s.offer_name,
                        "subscriptionTermDuration": s.term,
                        "subscriptionBillingCycle": s.billing_cycle,
                        "errors": errors,
                    }
                    for s in receivers
                ],
                "attributes": {"objectType": "TransitionEligibility"},
            }
        )
    return items


def _targets(current: Offer) -> tuple[str, ...]:
    """The offers a subscription of `current` may transition to: a trial converts to its
    paid equivalent (transition-a-new-commerce-subscription.md: "or convert an NCE trial to
    a paid subscription"), any other offer upgrades."""
    return (current.trial_of,) if current.trial_of else current.upgrades


def transition(store: Store, customer: Customer, sub: Subscription, body: Any) -> dict[str, Any]:
    """Upgrade some or all seats of a subscription to a higher offer, or convert a trial."""
    now = store.now()
    if not isinstance(body, dict):
        raise invalid("The request body must be a transition object.")
    check_not_renewing(sub, now)
    target = catalogue.offer(str(body.get("toCatalogItemId", "")))
    current = catalogue.offer(sub.offer_id)
    if target is None:
        raise ApiError(
            400, errors.UNKNOWN_CATALOG_ITEM, "Invalid offer ID: toCatalogItemId is not catalogued."
        )
    if current is None or target.key not in _targets(current):
        reason = (
            "is not supported by Microsoft"
            if current is not None and (current.key, target.key) in catalogue.UNSUPPORTED_PATHS
            else "is not an upgrade"
        )
        raise refused(
            errors.TRANSITION_NOT_ALLOWED, f"{sub.offer_name} to {target.title} {reason}."
        )
    problems = _eligibility_errors(sub, now, immediate=True)
    if problems:
        raise refused(errors.TRANSITION_NOT_ALLOWED, problems[0]["description"])
    if sub.trial:
        return _convert_trial(store, customer, sub, target, body, now)
    quantity = _positive_int(body.get("quantity", sub.quantity), "quantity")
    if quantity > sub.quantity:
        raise invalid("quantity exceeds the seats of the subscription.")
    term = body.get("termDuration") or sub.term
    if term not in target.terms or _months(term) < _months(sub.term):
        raise refused(
            errors.TARGET_TERM_SHORTER,
            "Target transition can't have a term duration shorter than that of the source "
            "subscription.",
        )
    kind = body.get("transitionType") or "transition_with_license_transfer"
    if kind not in TRANSITION_TYPES:
        raise invalid(f"transitionType must be one of {', '.join(TRANSITION_TYPES)}.")
    destination = _destination(customer, sub, target, body.get("toSubscriptionId"))
    old = subscription_json(sub, now)
    from_item = body.get("fromCatalogItemId") or current.catalog_item_id
    full = quantity == sub.quantity
    old_sku = sub.sku_id
    if destination is None and full:
        switch_offer(sub, target.key)
        sub.term = term
        for tranche in sub.tranches:
            tranche.refundable = False
        destination = sub
    else:
        take_seats(sub, quantity, list(sub.tranches))
        if full:
            sub.status = "expired"
            sub.auto_renew = False
        if destination is None:
            destination = _co_terminous(customer, sub, target, quantity, term, body, now)
            store.add_subscription(customer, destination)
        else:
            destination.tranches.append(Tranche(quantity, now, refundable=False))
            destination.scheduled = None
            destination.touch()
    sub.cancel_until = None
    sub.scheduled = None
    sub.update_count += 1
    sub.touch()
    if kind == "transition_with_license_transfer":
        _move_licenses(customer, old_sku, destination.sku_id, quantity)
    # transition-resources.md, Transition and TransitionEvent: the emulator converts at once,
    # so the events say it started and completed (and moved the licenses, if asked to).
    events = [_event("Conversion", "Started", now), _event("Conversion", "Completed", now)]
    if kind == "transition_with_license_transfer":
        events.append(_event("LicenseReassignment", "Completed", now))
    result = {
        "operationId": str(uuid.uuid4()),
        "fromCatalogItemId": from_item,
        "fromSubscriptionId": sub.id,
        "toCatalogItemId": target.catalog_item_id,
        "toSubscriptionId": destination.id,
        "quantity": quantity,
        "termDuration": term,
        "billingCycle": destination.billing_cycle,
        "transitionType": kind,
        "Events": events,
        "attributes": {"objectType": "Transition"},
    }
    store.transitions.setdefault(sub.id, []).append(result)
    store.record("upgrade_subscription", customer, "subscription", subscription_json(sub, now), old)
    return result


def _convert_trial(
    store: Store,
    customer: Customer,
    sub: Subscription,
    target: Offer,
    body: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """Convert a trial to its paid equivalent now (a transition of a trial source): at least
    the trial's 25 seats (the emulator's rule, as PRODUCT.md's), more allowed. Into a new
    term of the same subscription (its id is kept, as Microsoft's trial conversions keep
    it), or into an existing active subscription of the paid offer that ends no earlier,
    which gets the seats; the trial then ends. Either is a purchase: a new 7-day window."""
    quantity = _positive_int(body.get("quantity", sub.quantity), "quantity")
    if quantity < TRIAL_SEATS:
        raise refused(
            errors.TRANSITION_NOT_ALLOWED,
            f"A trial converts to at least {TRIAL_SEATS} seats.",
        )
    if quantity > target.max_quantity:
        raise invalid(f"quantity exceeds the maximum of {target.max_quantity} seats.")
    term = body.get("termDuration") or PAID_TRIAL_TERM
    if term not in target.terms:
        raise invalid(f"termDuration must be one of {', '.join(target.terms)}.")
    cycle = str(body.get("billingCycle") or "monthly").lower()
    if cycle not in ("monthly", "annual"):
        raise invalid("billingCycle must be monthly or annual.")
    kind = body.get("transitionType") or "transition_with_license_transfer"
    if kind not in TRANSITION_TYPES:
        raise invalid(f"transitionType must be one of {', '.join(TRANSITION_TYPES)}.")
    destination = _destination(customer, sub, target, body.get("toSubscriptionId"))
    old = subscription_json(sub, now)
    old_sku = sub.sku_id
    if destination is None:
        switch_offer(sub, target.key)
        sub.trial = False
        sub.term = term
        sub.billing_cycle = cycle
        sub.auto_renew = True
        start_term(store, sub, now, now.date(), quantity)
        destination = sub
    else:
        destination.tranches.append(Tranche(quantity, now))
        destination.scheduled = None
        destination.touch()
        sub.status = "expired"
        sub.auto_renew = False
        sub.scheduled = None
        sub.touch()
    if kind == "transition_with_license_transfer" and destination is not sub:
        _move_licenses(customer, old_sku, destination.sku_id, min(quantity, TRIAL_SEATS))
    events = [_event("Conversion", "Started", now), _event("Conversion", "Completed", now)]
    if kind == "transition_with_license_transfer":
        events.append(_event("LicenseReassignment", "Completed", now))
    result = {
        "operationId": str(uuid.uuid4()),
        "fromCatalogItemId": old["offerId"],
        "fromSubscriptionId": sub.id,
        "toCatalogItemId": target.catalog_item_id,
        "toSubscriptionId": destination.id,
        "quantity": quantity,
        "termDuration": destination.term,
        "billingCycle": destination.billing_cycle,
        "transitionType": kind,
        "Events": events,
        "attributes": {"objectType": "Transition"},
    }
    store.transitions.setdefault(sub.id, []).append(result)
    store.record(
        "convert_trial_subscription", customer, "subscription", subscription_json(sub, now), old
    )
    return result


def _event(name: str, status: str, now: datetime) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "timestamp": iso(now),
        "attributes": {"objectType": "TransitionEvent"},
    }


def _months(term: str) -> int:
    return {"P1M": 1, "P1Y": 12, "P3Y": 36}.get(term, 0)


def _destination(
    customer: Customer, sub: Subscription, target: Offer, to_id: Any
) -> Subscription | None:
    """The existing subscription that receives the seats, if one is named."""
    if not to_id:
        return None
    found = customer.subscriptions.get(str(to_id))
    if found is None:
        raise not_found(f"Subscription {to_id}")
    invalid_target = "The target transition ToSubscriptionId field is invalid."
    if found.id == sub.id:
        raise refused(
            errors.TARGET_IS_SOURCE,
            f"{invalid_target} Target subscription id can't be the same as the source "
            "subscription ID.",
        )
    if found.offer_id != target.key:
        raise refused(
            errors.TARGET_OTHER_ITEM,
            f"{invalid_target} Target subscription must have the same CatalogItemId as in the "
            "transition request.",
        )
    if found.status != "active":
        raise refused(
            errors.TARGET_NOT_ACTIVE, f"{invalid_target} Target subscription must be active."
        )
    if found.commitment_end < sub.commitment_end:
        raise refused(
            errors.TARGET_ENDS_EARLIER,
            f"{invalid_target} Target subscription CommitmentEndDate must be later than "
            "source subscription.",
        )
    return found


def _co_terminous(
    customer: Customer,
    sub: Subscription,
    target: Offer,
    quantity: int,
    term: str,
    body: dict[str, Any],
    now: datetime,
) -> Subscription:
    """A new subscription for the upgraded seats, ending with the source."""
    return Subscription(
        id=str(uuid.uuid4()),
        customer_id=customer.id,
        offer_id=target.key,
        sku_id=target.sku_id,
        offer_name=target.title,
        friendly_name=target.title,
        status="active",
        auto_renew=sub.auto_renew,
        trial=False,
        nce=True,
        term=term,
        billing_cycle=body.get("billingCycle") or sub.billing_cycle,
        created=now,
        term_started=now,
        effective_start=now.date(),
        commitment_end=sub.commitment_end,
        cancel_until=None,
        tranches=[Tranche(quantity, now, refundable=False)],
        partner_id=sub.partner_id,
        order_id=str(uuid.uuid4()),
        unit_price=target.unit_price,
    )


def _move_licenses(customer: Customer, old_sku: str, new_sku: str, count: int) -> None:
    """Move up to ``count`` users' licenses from the old SKU to the new one."""
    if old_sku == new_sku:
        return
    for user in customer.users.values():
        if count == 0:
            break
        if old_sku in user.licenses and new_sku not in user.licenses:
            user.licenses[new_sku] = user.licenses.pop(old_sku)
            customer.consumed[old_sku] -= 1
            customer.consumed[new_sku] += 1
            count -= 1
