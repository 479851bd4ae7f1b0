"""The NCE rules for changing a subscription: the whole-object PATCH and the add-on limits."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emulator import catalogue, end_of_term, errors
from emulator.errors import ApiError, invalid, refused
from emulator.lifecycle import take_seats
from emulator.model import Customer, Subscription, Tranche
from emulator.shapes import subscription_json

if TYPE_CHECKING:
    from emulator.state import Store

PATCH_STATUSES = ("active", "suspended", "deleted")
TERMS = ("P1M", "P1Y", "P3Y")
MULTI_GEO_SHARE = 0.05


def check_etag(sub: Subscription, if_match: str | None) -> None:
    """Refuse with 412 when ``If-Match`` names another etag."""
    if not if_match or if_match.strip() == "*":
        return
    given = if_match.strip().removeprefix("W/").strip('"')
    if given != sub.etag:
        raise ApiError(412, errors.PRECONDITION_FAILED, "The etag in If-Match is out of date.")


def check_not_renewing(sub: Subscription, now: datetime) -> None:
    """Refuse with 409 while a renewal is pending."""
    if sub.renewal_pending(now):
        raise ApiError(
            409,
            errors.NOT_READY,
            "Subscription is not ready to be updated: its renewal is in progress. "
            "Retry after about two minutes.",
        )


def base_seats(customer: Customer, addon: catalogue.Offer, extra: int = 0) -> int:
    """Active seats of the add-on's prerequisite base licenses (plus seats being bought)."""
    return extra + sum(
        s.quantity
        for s in customer.subscriptions.values()
        if s.status == "active" and s.offer_id in addon.prerequisites
    )


def addon_seats(customer: Customer, addon: catalogue.Offer, skip: str | None = None) -> int:
    """Active seats of an add-on offer, leaving out one subscription."""
    return sum(
        s.quantity
        for s in customer.subscriptions.values()
        if s.status == "active" and s.id != skip and s.offer_id == addon.key
    )


def check_addon(addon: catalogue.Offer, total: int, base: int) -> None:
    """Refuse add-on seats beyond their limits against the base seats."""
    if addon.addon is None:
        return
    if base == 0:
        raise refused(errors.ADDON_LIMIT, f"{addon.title} requires a prerequisite base license.")
    if addon.addon == "copilot" and total > base:
        raise refused(
            errors.ADDON_LIMIT,
            f"{addon.title} seats ({total}) cannot exceed the prerequisite base seats ({base}).",
        )
    minimum = math.ceil(base * MULTI_GEO_SHARE)
    if addon.addon == "multigeo" and total < minimum:
        raise refused(
            errors.ADDON_LIMIT,
            f"{addon.title} needs at least {minimum} seats (5% of {base} base seats).",
        )


def _field(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name, default)
    if value is default:
        return value
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise invalid(f"{name} must be a {kind.__name__}.")
    return value


def validate_instructions(sub: Subscription, value: dict[str, Any]) -> None:
    """Check the shape of scheduled next-term instructions and that any SKU change is upward."""
    quantity = value.get("quantity")
    if quantity is not None and (
        not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1
    ):
        raise invalid("scheduledNextTermInstructions.quantity must be a positive integer.")
    product = value.get("product") or {}
    if not isinstance(product, dict):
        raise invalid("scheduledNextTermInstructions.product must be an object.")
    term = product.get("termDuration")
    if term is not None and term not in TERMS:
        raise invalid(f"termDuration must be one of {', '.join(TERMS)}.")
    if product.get("productId") and product.get("skuId"):
        key = f"{product['productId']}:{product['skuId']}"
        current = catalogue.offer(sub.offer_id)
        allowed = current is None or key == current.key or key in current.upgrades
        if current is not None and current.trial_of:
            allowed = allowed or key == current.trial_of
        if not allowed:
            raise refused(
                errors.TRANSITION_NOT_ALLOWED,
                f"{sub.offer_name} cannot change to {key} at renewal: not an upgrade.",
            )


def patch_subscription(
    store: Store, customer: Customer, sub: Subscription, body: Any, if_match: str | None
) -> None:
    """Apply a whole-object PATCH, enforcing the NCE rules; raise ApiError to refuse."""
    now = store.now()
    if not isinstance(body, dict):
        raise invalid("The request body must be a subscription object.")
    check_etag(sub, if_match)
    check_not_renewing(sub, now)
    if sub.ended_at_term_end:
        raise refused(
            errors.NOT_ACTIVE,
            "The subscription was cancelled at the end of its term: it cannot be reactivated "
            "or changed. Buy a new subscription instead.",
        )
    if sub.status not in ("active", "suspended"):
        raise refused(errors.NOT_ACTIVE, f"The subscription is {sub.status}: it cannot change.")
    if sub.update_count >= store.update_cap:
        raise refused(
            errors.UPDATE_CAP_REACHED,
            "This subscription has been updated too many times. Please contact partner "
            f"support if you need to make more updates on this subscription (limit "
            f"{store.update_cap}).",
        )

    status = _field(body, "status", str, sub.status).lower()
    quantity = _field(body, "quantity", int, sub.quantity)
    # The pitfall: an omitted autoRenewEnabled means false; omitted instructions are deleted.
    auto_renew = _field(body, "autoRenewEnabled", bool, False)
    instructions = _field(body, "scheduledNextTermInstructions", dict, None)
    friendly_name = _field(body, "friendlyName", str, sub.friendly_name)
    # The end-of-term choice when auto-renew is off: only an explicit Cancel (or EST) counts;
    # anything else, an omitted or a stale RenewToNewTerm included, means Microsoft's default.
    action = end_of_term.requested(body)
    if status not in PATCH_STATUSES:
        raise invalid(f"status must be one of {', '.join(PATCH_STATUSES)}.")

    status_changed = status != sub.status
    quantity_changed = quantity != sub.quantity
    if sub.trial and (status_changed or quantity_changed):
        raise refused(errors.TRIAL_LOCKED, "The quantity and status of a trial cannot be changed.")
    if status == "deleted" and sub.nce and (sub.cancel_until is None or now >= sub.cancel_until):
        raise refused(
            errors.CANCEL_OUTSIDE_WINDOW,
            "The subscription can be cancelled only within 7 days of the start of its term.",
        )
    if quantity_changed:
        _check_quantity(customer, sub, quantity, status, now)
    if status != "active":
        if auto_renew and not status_changed:
            raise refused(errors.NOT_ACTIVE, f"Auto-renew cannot be turned on while {status}.")
        auto_renew = False  # suspension and cancellation turn auto-renew off
    if instructions is not None and instructions != sub.scheduled:
        if status != "active" or not auto_renew:
            raise refused(
                errors.SCHEDULE_NEEDS_ACTIVE_AUTO_RENEW,
                "Scheduled changes need an active subscription with auto-renew on.",
            )
        if quantity_changed:
            raise refused(
                errors.SCHEDULE_NEEDS_ACTIVE_AUTO_RENEW,
                "A quantity change deletes scheduled changes: schedule in a separate request.",
            )
        validate_instructions(sub, instructions)
    if quantity_changed or status != "active" or not auto_renew:
        instructions = None
    term_end_action = _term_end_action(sub, action, auto_renew and status == "active")
    in_est = sub.est_since is not None
    refund: list[dict[str, str]] | None = None
    if status == "deleted" and in_est:
        refund = end_of_term.refund_data(sub, now)

    if (status, quantity, auto_renew, instructions, friendly_name, term_end_action) == (
        sub.status,
        sub.quantity,
        sub.auto_renew,
        sub.scheduled,
        sub.friendly_name,
        sub.term_end_action,
    ):
        return
    old = subscription_json(sub, now)
    if quantity > sub.quantity:
        sub.tranches.append(Tranche(quantity - sub.quantity, now))
    elif quantity < sub.quantity:
        candidates = sub.refundable(now) if sub.nce else list(sub.tranches)
        take_seats(sub, sub.quantity - quantity, candidates)
    sub.status = status
    sub.suspension_reasons = ["CustomerCancellation"] if status == "suspended" else []
    sub.auto_renew = auto_renew
    sub.scheduled = instructions
    sub.friendly_name = friendly_name
    sub.term_end_action = term_end_action
    sub.update_count += 1
    sub.touch()
    # auditing-resources.md: a PATCH, cancellation included, is an `update_subscription`.
    store.record(
        "update_subscription",
        customer,
        "subscription",
        subscription_json(sub, now),
        old,
        data=refund,
    )


def _term_end_action(sub: Subscription, action: str | None, renews: bool) -> str | None:
    """The explicit end-of-term choice to keep: "cancel", or None — when the subscription
    renews, or when no Cancel is named: Microsoft's default then applies (EST in scope, else
    expiry), so an explicit EST is the same as the default and is not stored apart."""
    if action == end_of_term.EST and not renews and not end_of_term.in_scope(sub):
        raise refused(
            errors.EST_NOT_ELIGIBLE,
            "An Extended Service Term needs a subscription bought or renewed on or after "
            f"{end_of_term.BOUGHT_FROM.isoformat()} whose term ends on or after "
            f"{end_of_term.ENDING_FROM.isoformat()}.",
        )
    return end_of_term.CANCEL if action == end_of_term.CANCEL and not renews else None


def _check_quantity(
    customer: Customer, sub: Subscription, quantity: int, status: str, now: datetime
) -> None:
    """Refuse quantity changes the NCE rules do not allow."""
    if sub.status != "active" or status != "active":
        raise refused(errors.NOT_ACTIVE, "The quantity can change only on an active subscription.")
    if quantity < 1:
        raise refused(errors.BELOW_ONE_SEAT, "A subscription keeps at least 1 seat.")
    if quantity < sub.quantity:
        reducible = sum(t.quantity for t in sub.refundable(now))
        if sub.nce and sub.quantity - quantity > reducible:
            raise refused(
                errors.DECREASE_OUTSIDE_WINDOW,
                "Subscription quantity cannot be decreased. "
                f"Only {reducible} seat(s) were added within the last 7 days and can be "
                "reduced now; schedule the rest of the decrease for renewal.",
            )
        other = customer.units(sub.sku_id) - sub.quantity
        assigned = customer.consumed[sub.sku_id]
        if other + quantity < assigned:
            raise refused(
                errors.BELOW_ASSIGNED,
                f"{assigned} seat(s) are assigned to users: unassign licenses first.",
            )
    item = catalogue.offer(sub.offer_id)
    growing = quantity > sub.quantity
    if item is not None and (item.addon, growing) in (("copilot", True), ("multigeo", False)):
        total = addon_seats(customer, item, skip=sub.id) + quantity
        check_addon(item, total, base_seats(customer, item))
