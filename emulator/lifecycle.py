"""What happens to subscriptions as the clock passes their term end: renewal, an Extended
Service Term, cancellation at the end of the term, expiry (the old grace period), trials."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from emulator import catalogue, end_of_term
from emulator.clock import add_months, parse_iso, term_months
from emulator.model import CANCELLATION_WINDOW, LIVE_STATUSES, Subscription, Tranche
from emulator.shapes import subscription_json

if TYPE_CHECKING:
    from emulator.state import Store

PAID_TRIAL_TERM = "P1Y"


def handle(store: Store, sub: Subscription, kind: str, when: datetime) -> None:
    """Run one timeline event."""
    if kind == "term_end":
        end_term(store, sub, when)
    elif kind == "renewal_done":
        complete_renewal(store, sub, when)


def end_term(store: Store, sub: Subscription, at: datetime) -> None:
    """At 00:00 after the commitment end: start a renewal, convert a trial, or expire."""
    if sub.status not in LIVE_STATUSES:
        return
    if sub.trial:
        if sub.auto_renew and sub.status == "active":
            convert_trial(store, sub, at)
        else:
            expire(store, sub, at)
        return
    choice = end_of_term.choice(sub)
    if choice == end_of_term.CANCEL:
        cancel_at_term_end(store, sub, at)
    elif choice == end_of_term.EST:
        extend_service(store, sub, at)
    elif choice == end_of_term.EXPIRE:
        expire(store, sub, at)
    else:
        sub.renewal_pending_until = at + store.renewal_pending
        store.schedule(sub, sub.renewal_pending_until, "renewal_done")


def complete_renewal(store: Store, sub: Subscription, at: datetime) -> None:
    """Finish a renewal: a new term, the whole quantity as a new tranche."""
    sub.renewal_pending_until = None
    if sub.status != "active":
        return
    old = subscription_json(sub, at)
    start_day = sub.commitment_end + timedelta(days=1)
    leave_est(sub)
    quantity, custom_end = apply_instructions(sub)
    start_term(store, sub, at, start_day, quantity, custom_end)
    store.record(
        "renew_subscription",
        store.customers[sub.customer_id],
        "subscription",
        subscription_json(sub, at),
        old,
        at,
    )


def convert_trial(store: Store, sub: Subscription, at: datetime) -> None:
    """A trial that ends with auto-renew on becomes its paid equivalent."""
    old = subscription_json(sub, at)
    trial_offer = catalogue.offer(sub.offer_id)
    if trial_offer is not None and trial_offer.trial_of:
        switch_offer(sub, trial_offer.trial_of)
    sub.trial = False
    sub.term = PAID_TRIAL_TERM
    sub.billing_cycle = "monthly"
    quantity, custom_end = apply_instructions(sub)
    start_term(store, sub, at, at.date(), quantity, custom_end)
    store.record(
        "convert_trial_subscription",
        store.customers[sub.customer_id],
        "subscription",
        subscription_json(sub, at),
        old,
        at,
    )


def extend_service(store: Store, sub: Subscription, at: datetime) -> None:
    """Start (or continue for another month) an Extended Service Term: the service goes on,
    billed monthly at the EST price; the status stays what it was."""
    old = subscription_json(sub, at)
    first = sub.est_since is None
    start_day = end_of_term.day_after(sub.commitment_end)
    if first:
        price = end_of_term.est_price(sub)
        sub.est_since = start_day
        sub.est_base_price = price.base
        sub.est_uplift = price.uplift
        sub.est_from_term = sub.term
        sub.est_from_cycle = sub.billing_cycle
        sub.term = end_of_term.EST_TERM
        sub.billing_cycle = "monthly"
    sub.term_started = at
    sub.effective_start = start_day
    sub.commitment_end = commitment_end(start_day, end_of_term.EST_TERM)
    sub.cancel_until = sub.renew_at  # an EST can be cancelled any time (prorated)
    sub.scheduled = None
    sub.generation += 1
    sub.touch()
    store.schedule(sub, sub.renew_at, "term_end")
    price = end_of_term.current_price(sub)
    store.record(
        "start_extended_service_term" if first else "renew_extended_service_term",
        store.customers[sub.customer_id],
        "subscription",
        subscription_json(sub, at),
        old,
        at,
        data=[
            {"key": "UnitPrice", "value": f"{price.unit_price:.2f}" if price else ""},
            {"key": "Quantity", "value": str(sub.quantity)},
            {"key": "BillingPeriodEnd", "value": sub.commitment_end.isoformat()},
        ],
    )


def leave_est(sub: Subscription) -> None:
    """Renewing out of an EST: back to the term and billing cycle it came from."""
    if sub.est_since is None:
        return
    sub.term = sub.est_from_term or sub.term
    sub.billing_cycle = sub.est_from_cycle or sub.billing_cycle
    sub.est_since = None
    sub.est_base_price = None
    sub.est_uplift = None
    sub.est_from_term = None
    sub.est_from_cycle = None


def cancel_at_term_end(store: Store, sub: Subscription, at: datetime) -> None:
    """The term ended with "cancel at end of term": the service stops for good."""
    old = subscription_json(sub, at)
    sub.status = "deleted"
    sub.auto_renew = False
    sub.scheduled = None
    sub.suspension_reasons = []
    sub.cancel_until = None
    sub.ended_at_term_end = True
    sub.touch()
    store.record(
        "cancel_subscription_at_term_end",
        store.customers[sub.customer_id],
        "subscription",
        subscription_json(sub, at),
        old,
        at,
    )


def expire(store: Store, sub: Subscription, at: datetime) -> None:
    """The term ended without renewal."""
    old = subscription_json(sub, at)
    sub.status = "expired"
    sub.auto_renew = False
    sub.scheduled = None
    sub.touch()
    store.record(
        "expire_subscription",
        store.customers[sub.customer_id],
        "subscription",
        subscription_json(sub, at),
        old,
        at,
    )


def apply_instructions(sub: Subscription) -> tuple[int, date | None]:
    """Apply scheduled next-term instructions to the offer and term; return the new quantity."""
    instructions: dict[str, Any] = sub.scheduled or {}
    product = instructions.get("product") or {}
    if product.get("productId") and product.get("skuId"):
        switch_offer(sub, f"{product['productId']}:{product['skuId']}")
    sub.term = product.get("termDuration") or sub.term
    sub.billing_cycle = product.get("billingCycle") or sub.billing_cycle
    quantity = instructions.get("quantity") or sub.quantity
    custom = instructions.get("customTermEndDate")
    return int(quantity), parse_iso(custom).date() if custom else None


def switch_offer(sub: Subscription, key: str) -> None:
    """Move a subscription to another offer (renewal change, conversion, full upgrade)."""
    if key == sub.offer_id:
        return
    target = catalogue.offer(key)
    renamed = sub.friendly_name == sub.offer_name
    sub.offer_id = key
    if target is not None:
        sub.offer_name = target.title
        sub.sku_id = target.sku_id
        sub.unit_price = target.unit_price
    if renamed:
        sub.friendly_name = sub.offer_name


def commitment_end(start_day: date, term: str) -> date:
    """The inclusive last day of a term starting on ``start_day``."""
    return add_months(start_day, term_months(term)) - timedelta(days=1)


def start_term(
    store: Store,
    sub: Subscription,
    at: datetime,
    start_day: date,
    quantity: int,
    custom_end: date | None = None,
) -> None:
    """Begin a new term: new dates, one fresh tranche, instructions cleared."""
    sub.term_started = at
    sub.effective_start = start_day
    sub.commitment_end = custom_end or commitment_end(start_day, sub.term)
    sub.cancel_until = at + CANCELLATION_WINDOW
    sub.tranches = [Tranche(quantity, at)]
    sub.scheduled = None
    sub.generation += 1
    sub.touch()
    store.schedule(sub, sub.renew_at, "term_end")


def take_seats(sub: Subscription, amount: int, candidates: list[Tranche]) -> None:
    """Take ``amount`` seats off the candidate tranches, newest first, dropping empty ones."""
    for tranche in sorted(candidates, key=lambda t: t.added, reverse=True):
        taken = min(amount, tranche.quantity)
        tranche.quantity -= taken
        amount -= taken
        if amount == 0:
            break
    sub.tranches = [t for t in sub.tranches if t.quantity > 0]
