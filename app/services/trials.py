"""Trials (PRODUCT.md rule 4): convert now, schedule the conversion for the end of the
trial, or let it end.

Converting now is, for new commerce, a transition of the trial (transition-a-new-commerce-
subscription.md: "or convert an NCE trial to a paid subscription"): at least 25 seats, into
a new subscription (the trial's own id, a new term) or into an existing paid subscription of
the same product that does not end earlier (`nce.check_trial_conversion`). Scheduling the
conversion sets the trial's next-term instructions (any quantity; auto-renew must be on).
Letting it end is turning auto-renew off (the licensing change of that name).

Both changes go through the outbox (kinds below) and a job, as upgrades do: marked sent
before the call, the same request id on every attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.domain import nce
from app.domain.nce import format_day, seats
from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, Subscription, User
from app.models._types import utcnow
from app.services import licensing, outbox, sync
from app.services.microsoft import factory
from app.services.microsoft.http import MicrosoftError
from app.services.microsoft.partner_center import (
    PartnerCenterClient,
    PcSubscription,
    offer_key,
    transition_status,
)
from app.services.orders import reseller_refusal

CONVERT = "convert_trial"
SCHEDULE = "schedule_conversion"
KINDS = (CONVERT, SCHEDULE)
# Term and billing a trial may convert to (the paid offer's availabilities offer them all).
OPTIONS = ("P1Y/monthly", "P1Y/annual", "P1M/monthly", "P3Y/monthly", "P3Y/annual")


class TrialRefused(Exception):
    """The request cannot be accepted; the message says why in words a person understands."""


@dataclass(frozen=True)
class PaidOffer:
    """What a trial converts to (Partner Center's transition eligibility of the trial)."""

    catalog_item_id: str
    title: str

    @property
    def offer_id(self) -> str:
        """productId:skuId."""
        return offer_key(self.catalog_item_id)


@dataclass(frozen=True)
class Receiver:
    """An existing subscription of the paid product and whether the trial may convert into
    it (`reason` says why not)."""

    sub: Subscription
    allowed: bool
    reason: str


@dataclass(frozen=True)
class TrialView:
    """What the trial page shows."""

    sub: Subscription
    paid: PaidOffer | None
    receivers: tuple[Receiver, ...]
    refusal: str | None  # why it cannot be converted now
    ends: str  # "26 Dec 2026"
    converts_on: str  # the day it becomes paid if auto-renew stays on


def paid_offer(
    customer: Customer, sub: Subscription, *, pc: PartnerCenterClient | None = None
) -> PaidOffer | None:
    """The paid product the trial converts to, as Partner Center lists it (None if none)."""
    client = pc or factory.partner_center()
    try:
        found = client.transition_eligibilities(customer.pc_id, sub.pc_id)
    finally:
        if pc is None:
            client.close()
    first = next(iter(found), None)
    return PaidOffer(first.catalog_item_id, first.title) if first is not None else None


def view(customer: Customer, sub: Subscription, paid: PaidOffer | None, now: datetime) -> TrialView:
    """The trial, what it converts to, and where its seats may go."""
    facts = licensing.facts_of(sub)
    receivers: list[Receiver] = []
    if paid is not None:
        for other in db.session.scalars(
            select(Subscription)
            .where(
                Subscription.customer_id == customer.id,
                Subscription.offer_id == paid.offer_id,
                Subscription.id != sub.id,
                Subscription.is_trial.is_(False),
                Subscription.status == "active",
            )
            .order_by(Subscription.commitment_end.desc())
        ):
            decision = nce.check_trial_conversion(
                facts, nce.TRIAL_MIN_SEATS, now, target=licensing.facts_of(other)
            )
            receivers.append(Receiver(other, decision.allowed, decision.reason))
    refusal = _refusal(customer, sub, now)
    if refusal is None and paid is None:
        refusal = "Partner Center offers no conversion for this trial now."
    return TrialView(
        sub,
        paid,
        tuple(receivers),
        refusal,
        format_day(sub.commitment_end),
        format_day(facts.renewal_on),
    )


def _refusal(customer: Customer, sub: Subscription, now: datetime) -> str | None:
    if not sub.is_trial:
        return "This subscription is not a trial."
    early = nce.status_refusal(licensing.facts_of(sub))
    if early is not None:
        return early.reason
    return reseller_refusal(customer)


def request_conversion(
    user: User,
    role: Role,
    customer: Customer,
    subscription_pc_id: str,
    paid: PaidOffer | None,
    *,
    quantity: int,
    at_trial_end: bool,
    option: str = "P1Y/monthly",
    to_subscription_id: str | None = None,
    idempotency_key: str,
    now: datetime | None = None,
) -> ChangeRequest:
    """Accept a conversion (now or at the end of the trial) for the worker, or refuse it with
    the reason (only the refusal's audit is written). No Partner Center request here."""
    now = now or utcnow()
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    sub = licensing.subscription_of(customer, subscription_pc_id)
    kind = SCHEDULE if at_trial_end else CONVERT
    params: dict[str, Any] = {"quantity": quantity}
    if not at_trial_end:
        params |= {"option": option, "to_subscription_id": to_subscription_id}
    try:
        decision = _check(role, customer, sub, paid, params, at_trial_end, now)
    except TrialRefused as refused:
        outbox.refuse(
            event=f"change.{kind}",
            actor=user,
            customer=customer,
            object_type="subscription",
            object_id=sub.pc_id,
            params=params,
            reason=str(refused),
        )
        raise
    assert paid is not None
    params |= {
        "to_catalog_item_id": paid.catalog_item_id,
        "title": paid.title,
        "decision": decision,
    }
    try:
        return outbox.create(
            customer=customer,
            sub=sub,
            actor=user,
            kind=kind,
            params=params,
            key=idempotency_key,
            summary=summary(kind, params),
            audit_event={
                "kind": f"change.{kind}",
                "object_type": "subscription",
                "object_id": sub.pc_id,
                "before": {"offer": sub.offer_name, "quantity": sub.quantity, "trial": True},
                "after": params,
                "outcome": "requested",
            },
        )
    except outbox.ChangeBusy as busy:
        raise TrialRefused(str(busy)) from None


def summary(kind: str, params: Mapping[str, Any]) -> str:
    """'Convert the trial now to 30 seats of Microsoft 365 Business Premium'."""
    when = "now" if kind == CONVERT else "at its end"
    return f"Convert the trial {when} to {seats(int(params['quantity']))} of {params['title']}"


def _check(
    role: Role,
    customer: Customer,
    sub: Subscription,
    paid: PaidOffer | None,
    params: Mapping[str, Any],
    at_trial_end: bool,
    now: datetime,
) -> str:
    if role < Role.ADMIN:
        raise TrialRefused(f"Your role ({role.label}) cannot convert trials; Admin can.")
    refusal = _refusal(customer, sub, now)
    if refusal is None and paid is None:
        refusal = "Open the trial's page first: Partner Center says what it converts to."
    if refusal is not None:
        raise TrialRefused(refusal)
    if outbox.open_change(sub) is not None:
        raise TrialRefused(str(outbox.ChangeBusy()))
    assert paid is not None
    facts = licensing.facts_of(sub)
    quantity = int(params["quantity"])
    if at_trial_end:
        decision = nce.check_trial_conversion(facts, quantity, now, at_trial_end=True)
        if not decision.allowed:
            raise TrialRefused(decision.reason)
        return (
            f"The trial will convert to {seats(quantity)} of {paid.title} on "
            f"{format_day(facts.renewal_on)}."
        )
    if params.get("option") not in OPTIONS:
        raise TrialRefused("Choose a term and billing frequency.")
    target = None
    if params.get("to_subscription_id"):
        other = licensing.subscription_of(customer, str(params["to_subscription_id"]))
        if other.offer_id != paid.offer_id:
            raise TrialRefused(f"The trial converts only into a {paid.title} subscription.")
        target = licensing.facts_of(other)
    decision = nce.check_trial_conversion(facts, quantity, now, target=target)
    if not decision.allowed:
        raise TrialRefused(decision.reason)
    return decision.reason


def apply_trial_change(change_id: int, *, pc: PartnerCenterClient | None = None) -> ChangeRequest:
    """Carry a conversion out at Partner Center and record the outcome (safe to repeat)."""
    change, started = outbox.start(change_id)
    if not started:
        return change
    sub = change.subscription
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    params = dict(change.params)
    client = pc or factory.partner_center()
    try:
        with outbox.settles(change, (TrialRefused,), _microsoft_text):
            refusal = reseller_refusal(customer)
            if refusal is not None:
                raise TrialRefused(refusal)
            fresh = client.subscription(customer.pc_id, sub.pc_id)
            sent = outbox.was_sent(change)
            if not sent and not fresh.is_trial:
                raise TrialRefused(
                    "It is no longer a trial at Partner Center; nothing was changed."
                )
            outbox.mark_sent(change)
            db.session.commit()  # written down before the call that changes Partner Center
            if change.kind == CONVERT:
                _convert(client, customer, change, params)
            else:
                _schedule(client, customer, change, params, fresh)
            sync.sync_customer(customer.pc_id, pc=client, with_users=False)
            change = db.session.get(ChangeRequest, change_id) or change
            outbox.finish(change, "done", _done_text(change.kind, params))
    finally:
        if pc is None:
            client.close()
    return outbox.record_outcome(
        change,
        event=f"change.{change.kind}",
        object_type="subscription",
        object_id=sub.pc_id,
        after=params,
    )


def _convert(
    client: PartnerCenterClient, customer: Customer, change: ChangeRequest, params: dict[str, Any]
) -> None:
    term, billing = str(params["option"]).split("/")
    into = params.get("to_subscription_id") or None
    result = client.transition(
        customer.pc_id,
        change.subscription.pc_id,
        to_catalog_item_id=str(params["to_catalog_item_id"]),
        quantity=int(params["quantity"]),
        request_id=change.request_id,
        to_subscription_id=into,
        term_duration=None if into else term,
        billing_cycle=None if into else billing,
    )
    if transition_status(result) == "Failed":
        raise TrialRefused("Microsoft reports that the conversion failed; nothing was changed.")


def _schedule(
    client: PartnerCenterClient,
    customer: Customer,
    change: ChangeRequest,
    params: dict[str, Any],
    fresh: PcSubscription,
) -> None:
    product_id, sku = offer_key(str(params["to_catalog_item_id"])).split(":")
    client.update_subscription(
        customer.pc_id,
        change.subscription.pc_id,
        {
            "scheduledNextTermInstructions": {
                "product": {
                    "productId": product_id,
                    "skuId": sku,
                    "billingCycle": "monthly",
                    "termDuration": "P1Y",
                },
                "quantity": int(params["quantity"]),
            }
        },
        request_id=change.request_id,
        current=fresh,
    )


def _done_text(kind: str, params: Mapping[str, Any]) -> str:
    count = seats(int(params["quantity"]))
    if kind == SCHEDULE:
        return f"Done: {params.get('decision', '')}".strip()
    if params.get("to_subscription_id"):
        return (
            f"Done: the trial converted; {count} of {params['title']} were added to "
            f"subscription {params['to_subscription_id']} and the trial ended."
        )
    return f"Done: the trial is now a paid subscription of {params['title']} with {count}."


def _microsoft_text(error: MicrosoftError, sent: bool) -> str:
    if sent:
        return (
            f"Microsoft did not answer clearly ({error}); the conversion may or may not have "
            "been made. Retry sends the same request again; Microsoft carries it out at most "
            "once."
        )
    if error.status == 429:
        return "Microsoft is busy (too many requests); nothing was changed. Try again shortly."
    return f"Microsoft refused the conversion: {error}. Nothing was changed."
