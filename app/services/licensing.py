"""Changing subscriptions: request (validate + outbox + audit + enqueue) and apply (job).

The spine of the product (ARCHITECTURE.md, "Data flow of a quantity change"): the web
asks `request_change`, which checks the rule against what we know, writes a ChangeRequest
and its audit event in one transaction and enqueues `jobs.provisioning.apply_change`.
The job calls `apply_change`, which re-reads the subscription from Partner Center,
checks the rule again on fresh data, PATCHes the whole object with If-Match and the
request's own MS-RequestId, and records the outcome. Running it twice is safe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.domain import nce
from app.domain.addons import check_copilot_seats
from app.domain.decision import Code, Decision, RuleViolation, refuse
from app.domain.end_of_term import EndOfTerm, check_end_of_term, describe_end_of_term
from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, Subscription, User
from app.models._types import utcnow
from app.services import audit, offers, outbox, resellers, sync
from app.services.errors import NotFound
from app.services.microsoft import factory
from app.services.microsoft.http import EtagMismatch, MicrosoftError
from app.services.microsoft.partner_center import (
    PartnerCenterClient,
    PcSubscription,
    end_of_term_changes,
)


@dataclass(frozen=True)
class ChangeKind:
    """One kind of change: who may ask for it, its rule, its PATCH and how to describe it."""

    need: Role
    decide: Callable[[nce.SubscriptionFacts, dict[str, Any], datetime], Decision]
    patch: Callable[[PcSubscription, dict[str, Any]], dict[str, Any]]
    done: Callable[[PcSubscription, dict[str, Any]], bool]
    summary: Callable[[Subscription, dict[str, Any]], str]


def _schedule_patch(pc: PcSubscription, params: dict[str, Any]) -> dict[str, Any]:
    """Scheduled changes at renewal, read-modify-write: an instruction already made in Partner
    Center (an upgrade, a term or billing change) keeps everything but its quantity."""
    existing = pc.raw.get("scheduledNextTermInstructions")
    if isinstance(existing, dict) and existing.get("product"):
        return {"scheduledNextTermInstructions": {**existing, "quantity": params["quantity"]}}
    instructions = {
        "product": {
            "productId": pc.product_id,
            "skuId": pc.sku,
            "billingCycle": pc.billing_cycle,
            "termDuration": pc.term_duration,
        },
        "quantity": params["quantity"],
    }
    return {"scheduledNextTermInstructions": instructions}


KINDS: dict[str, ChangeKind] = {
    "quantity": ChangeKind(
        Role.MODIFY,
        lambda f, p, now: nce.check_quantity_change(f, p["quantity"], now),
        lambda pc, p: {"quantity": p["quantity"]},
        lambda pc, p: pc.quantity == p["quantity"],
        lambda s, p: f"Change seats from {s.quantity} to {p['quantity']}",
    ),
    "schedule_quantity": ChangeKind(
        Role.ADMIN,
        lambda f, p, now: nce.check_schedule_renewal_change(f, p["quantity"], now),
        _schedule_patch,
        lambda pc, p: pc.scheduled_quantity == p["quantity"],
        lambda s, p: f"Renew with {p['quantity']} seats on the renewal date",
    ),
    "remove_schedule": ChangeKind(
        Role.ADMIN,
        lambda f, p, now: nce.check_remove_scheduled_changes(f, now),
        lambda pc, p: {"scheduledNextTermInstructions": None},
        lambda pc, p: not pc.raw.get("scheduledNextTermInstructions"),
        lambda s, p: "Remove the changes scheduled for renewal",
    ),
    "suspend": ChangeKind(
        Role.ADMIN,
        lambda f, p, now: _check_suspend(f, p.get("end_of_term", "cancel"), now),
        lambda pc, p: {
            **end_of_term_changes(p.get("end_of_term", "cancel")),
            "status": "suspended",
        },
        lambda pc, p: pc.status == "suspended" and _end_chosen(pc, p.get("end_of_term", "cancel")),
        lambda s, p: (
            "Suspend the subscription"
            + (
                " and cancel it at the end of the term"
                if p.get("end_of_term", "cancel") == "cancel"
                else ""
            )
        ),
    ),
    "resume": ChangeKind(
        Role.ADMIN,
        lambda f, p, now: nce.check_resume(f, now),
        lambda pc, p: {"status": "active"},
        lambda pc, p: pc.status == "active",
        lambda s, p: "Resume the subscription",
    ),
    "cancel": ChangeKind(
        Role.ADMIN,
        lambda f, p, now: nce.check_cancel(f, now),
        lambda pc, p: {"status": "deleted", "autoRenewEnabled": False},
        lambda pc, p: pc.status == "deleted",
        lambda s, p: "Cancel the subscription",
    ),
    "end_of_term": ChangeKind(
        Role.ADMIN,
        lambda f, p, now: check_end_of_term(f, EndOfTerm(p["choice"]), now),
        lambda pc, p: end_of_term_changes(p["choice"]),
        lambda pc, p: _end_chosen(pc, p["choice"]),
        lambda s, p: f"At the end of the term: {EndOfTerm(p['choice']).label.lower()}",
    ),
    "auto_renew": ChangeKind(
        Role.ADMIN,
        lambda f, p, now: nce.check_auto_renew(f, p["enable"], now),
        lambda pc, p: {"autoRenewEnabled": p["enable"]},
        lambda pc, p: pc.auto_renew == p["enable"],
        lambda s, p: f"Turn auto-renew {'on' if p['enable'] else 'off'}",
    ),
}


def _addon_limit(customer: Customer, sub: Subscription, quantity: int) -> Decision | None:
    """Copilot seats never above the qualifying base seats (rule 8): a Copilot increase, or a
    base decrease, that would break it is refused (reduce Copilot first)."""
    if not (offers.is_copilot(sub.offer_id) or offers.is_copilot_base(sub.offer_id)):
        return None
    copilot, base = offers.customer_copilot_seats(customer.id)
    delta = quantity - sub.quantity if sub.status == "active" else 0
    if offers.is_copilot(sub.offer_id):
        copilot += delta
    else:
        base += delta
    growing_addon = offers.is_copilot(sub.offer_id) and delta > 0
    shrinking_base = offers.is_copilot_base(sub.offer_id) and delta < 0
    if not (growing_addon or shrinking_base) or copilot <= base:
        return None
    decision = check_copilot_seats(copilot, base)
    if offers.is_copilot_base(sub.offer_id):
        return refuse(
            decision.code,
            f"{copilot} Microsoft 365 Copilot seats need as many base licenses: reduce Copilot "
            f"to {base} or fewer first.",
        )
    return decision


def _check_suspend(facts: nce.SubscriptionFacts, choice: str, now: datetime) -> Decision:
    """Suspend, keeping the end-of-term choice asked for (the extended term only in scope)."""
    if choice == EndOfTerm.EST and not nce.est_applies(facts):
        return check_end_of_term(facts, EndOfTerm.EST, now)
    return nce.check_suspend(facts, now)


def _end_chosen(pc: PcSubscription, choice: str) -> bool:
    """Partner Center shows this end-of-term choice (out of EST's scope, auto-renew off
    simply ends the subscription: Partner Center names no choice then)."""
    if choice == "renew":
        return pc.auto_renew
    if choice == "cancel":
        return not pc.auto_renew and (pc.cancel_at_end or pc.end_of_term is None)
    return not pc.auto_renew and pc.end_of_term == "est"


class ChangeRefused(Exception):
    """The request cannot be accepted; `message` says why in words a person understands."""

    def __init__(self, message: str, decision: Decision | None = None) -> None:
        super().__init__(message)
        self.decision = decision


class StaleForm(ChangeRefused):
    """The subscription changed since the form was shown."""


def facts_of(sub: Subscription) -> nce.SubscriptionFacts:
    """The plain facts the NCE rules need, from a subscription row."""
    return nce.SubscriptionFacts(
        id=sub.pc_id,
        offer_id=sub.offer_id,
        quantity=sub.quantity,
        term_start=sub.term_start,
        commitment_end=sub.commitment_end,
        created_at=sub.creation_date,
        assigned=min(sub.assigned, sub.quantity),
        status=_status(sub.status),
        is_nce=sub.is_nce,
        is_trial=sub.is_trial,
        auto_renew=sub.auto_renew,
        tranches=_tranches_within(sub),
        has_scheduled_changes=sub.scheduled_quantity is not None,
        scheduled_quantity=sub.scheduled_quantity,
        update_count=sub.update_count,
        unit_price=sub.unit_price,
        term_duration=sub.term_duration if sub.term_duration in ("P1M", "P1Y", "P3Y") else "P1Y",
        billing_cycle=sub.billing_cycle,
        cancel_at_end=sub.cancel_at_end,
        cancellation_allowed_until=sub.cancellation_allowed_until,
        product=sub.sku_id or "",
    )


def _tranches_within(sub: Subscription) -> tuple[nce.Tranche, ...]:
    """The seat tranches, oldest first, never more seats than the row's count: a request
    that read the row just before a job rewrote its tranches (each read sees the latest
    commit) must not hold a newer count's tranches. The job re-checks on fresh data."""
    kept: list[nce.Tranche] = []
    left = sub.quantity
    for tranche in sorted(sub.tranches, key=lambda t: t.added_at):
        quantity = min(tranche.quantity, left)
        if quantity > 0:
            kept.append(nce.Tranche(quantity, tranche.added_at))
            left -= quantity
    return tuple(kept)


def _status(text: str) -> nce.Status:
    try:
        return nce.Status(text)
    except ValueError:
        return nce.Status.NONE


def request_change(
    user: User,
    role: Role,
    customer: Customer,
    subscription_pc_id: str,
    kind: str,
    params: dict[str, Any],
    *,
    idempotency_key: str,
    version: int | None,
    now: datetime | None = None,
) -> ChangeRequest:
    """Accept a change for the worker, or refuse it with the reason (nothing is written
    but the audit of the refusal). The same idempotency key returns the same request."""
    resellers.require_active(customer, ChangeRefused)  # reseller not authorised: paused
    now = now or utcnow()
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    spec = KINDS[kind]
    sub = subscription_of(customer, subscription_pc_id)
    if role < spec.need:
        raise ChangeRefused(f"Your role ({role.label}) cannot do this; {spec.need.label} can.")
    if version is not None and sub.version != version:
        raise StaleForm(
            "Someone else changed this subscription in the meantime. "
            "Here it is as it is now; check it and try again."
        )
    if outbox.open_change(sub) is not None:
        raise ChangeRefused("A change of this subscription is still being applied; wait for it.")
    decision = spec.decide(facts_of(sub), params, now)
    if decision.allowed and kind == "quantity":
        decision = _addon_limit(customer, sub, int(params["quantity"])) or decision
    if not decision.allowed:
        outbox.refuse(
            event=f"change.{kind}",
            actor=user,
            customer=customer,
            object_type="subscription",
            object_id=sub.pc_id,
            params=params,
            reason=decision.reason,
        )
        raise ChangeRefused(decision.reason, decision)
    return _create(customer, sub, user, kind, params, idempotency_key, enqueue_now=True)


def system_change(
    customer: Customer,
    sub: Subscription,
    kind: str,
    params: dict[str, Any],
    *,
    key: str,
    actor: str,
) -> ChangeRequest:
    """A change asked by a job (the reconciliation): the same outbox row and audit as a
    person's, applied by the caller with `apply_change`. The same key returns the same row."""
    return outbox.find(key, customer) or _create(
        customer, sub, actor, kind, params, key, enqueue_now=False
    )


def _create(
    customer: Customer,
    sub: Subscription,
    actor: User | str,
    kind: str,
    params: dict[str, Any],
    key: str,
    *,
    enqueue_now: bool,
) -> ChangeRequest:
    """The outbox row of an accepted change, with its audit event. A new seat count keeps
    the count it was asked against (`base`): the job refuses it if Partner Center's differs."""
    if kind == "quantity":
        params = {"base": sub.quantity, **params}
    try:
        return outbox.create(
            customer=customer,
            sub=sub,
            actor=actor,
            kind=kind,
            params=params,
            key=key,
            summary=KINDS[kind].summary(sub, params),
            audit_event={
                "kind": f"change.{kind}",
                "object_type": "subscription",
                "object_id": sub.pc_id,
                "before": _snapshot(sub),
                "after": dict(params),
                "outcome": "requested",
            },
            enqueue_now=enqueue_now,
        )
    except outbox.ChangeBusy as busy:
        raise ChangeRefused(str(busy)) from None


def apply_change(change_id: int, *, pc: PartnerCenterClient | None = None) -> ChangeRequest:
    """Apply an accepted change at Partner Center and record the outcome (safe to repeat).

    A change is marked "sent" before its PATCH. Until Partner Center answers clearly, every
    later attempt (a requeue after a dead worker, a person's Retry) sends the same request
    id again, which Partner Center carries out at most once; a change never sent is first
    checked against the seat count the person saw and against the rules."""
    change, started = outbox.start(change_id)
    if not started:
        return change
    sub = change.subscription
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    client = pc or factory.partner_center()
    before = _snapshot(sub)
    try:
        with outbox.settles(change, (RuleViolation,), _microsoft_text):
            spec = KINDS[change.kind]
            fresh = client.subscription(customer.pc_id, sub.pc_id)
            sync.refresh_subscription(sub, fresh)
            db.session.commit()  # the row shows what Partner Center has, whatever happens next
            sent = outbox.was_sent(change)
            if not sent:
                _require_base(change, fresh)
            if spec.done(fresh, change.params):
                # Already applied (a retried job whose first run got that far): just record it.
                outbox.finish(change, "done", _done_text(change, sub))
            else:
                sync.reallocate_assigned(customer.id, sub.sku_id)
                db.session.commit()  # never hold a database write lock across a Microsoft call
                if not sent:
                    spec.decide(facts_of(sub), change.params, utcnow()).require()
                after = _carry_out(client, customer, change, fresh)
                if after is None:
                    outbox.finish_unknown(change, "the change")
                else:
                    sync.refresh_subscription(sub, after)
                    sync.reallocate_assigned(customer.id, sub.sku_id)
                    sub.update_count += 1
                    outbox.finish(change, "done", _done_text(change, sub))
    finally:
        if pc is None:
            client.close()
    return outbox.record_outcome(
        change,
        event=f"change.{change.kind}",
        object_type="subscription",
        object_id=sub.pc_id,
        before=before,
        after=_snapshot(sub),
    )


def _require_base(change: ChangeRequest, fresh: PcSubscription) -> None:
    """A new seat count is asked against the count the person saw: if Partner Center has
    another one now (seats bought or returned outside Seatwise), applying it would undo
    that change, so it is refused instead."""
    base = change.params.get("base")
    if change.kind != "quantity" or base is None or fresh.quantity == base:
        return
    refuse(
        Code.CHANGED_ELSEWHERE,
        f"Partner Center has {nce.seats(fresh.quantity)} now, not the {base} shown when this "
        f"was asked (changed outside Seatwise); nothing was changed. The row shows the new "
        "count: check it and ask again.",
    ).require()


def _carry_out(
    client: PartnerCenterClient,
    customer: Customer,
    change: ChangeRequest,
    fresh: PcSubscription,
) -> PcSubscription | None:
    """PATCH the change; Partner Center's subscription afterwards, None when it cannot say.

    Sent again after an unclear answer, a new seat count keeps its step (+1 stays +1 on the
    count Partner Center has now) should the first request not have been carried out; if
    it was, Partner Center answers the repeated request id with the first outcome."""
    spec = KINDS[change.kind]
    sub = change.subscription
    params = dict(change.params)
    if outbox.was_sent(change) and change.kind == "quantity" and "base" in params:
        params["quantity"] = fresh.quantity + params["quantity"] - params["base"]
    outbox.mark_sent(change)
    db.session.commit()  # written down before the call that changes Partner Center
    try:
        client.update_subscription(
            customer.pc_id,
            sub.pc_id,
            spec.patch(fresh, params),
            request_id=change.request_id,
            current=fresh,
        )
    except MicrosoftError as error:
        if not outbox.ambiguous(error):
            raise
        try:  # the call may have been carried out all the same: ask what is there now
            after = client.subscription(customer.pc_id, sub.pc_id)
        except MicrosoftError:
            return None
        if not spec.done(after, params):
            raise error from None
        return after
    return client.subscription(customer.pc_id, sub.pc_id)


def _done_text(change: ChangeRequest, sub: Subscription) -> str:
    params = change.params
    texts = {
        "quantity": f"Done: {sub.quantity} seats.",
        "schedule_quantity": f"Done: renews with {params.get('quantity')} seats.",
        "remove_schedule": "Done: nothing is scheduled for renewal any more.",
        "suspend": "Done: suspended. Auto-renew is off; turn it on again after resuming.",
        "resume": "Done: active again. Auto-renew stays off until you turn it on.",
        "cancel": "Done: cancelled.",
        "auto_renew": f"Done: auto-renew is {'on' if sub.auto_renew else 'off'}.",
        "end_of_term": f"Done: {describe_end_of_term(facts_of(sub))}.",
    }
    return texts[change.kind]


def _microsoft_text(error: MicrosoftError, sent: bool = False) -> str:
    if isinstance(error, EtagMismatch):
        return (
            "The subscription changed at Microsoft while this was being "
            "applied; nothing was changed. Check the new figures and try again."
        )
    if sent:  # a 5xx or no answer, and Partner Center does not show the change now
        return (
            f"Microsoft answered with an error ({error}) and does not show the change, so it "
            "was not made. Retry sends the same request again; Microsoft carries it out at "
            "most once."
        )
    if error.status == 409:
        return (
            "Microsoft is renewing this subscription right now; nothing was changed. "
            "Try again in a few minutes."
        )
    if error.status == 429:
        return "Microsoft is busy (too many requests); nothing was changed. Try again shortly."
    return (
        f"Microsoft refused the change: {error}"
        if error.status and error.status < 500
        else (f"Microsoft could not be reached reliably ({error}). Nothing was changed; try again.")
    )


def _snapshot(sub: Subscription) -> dict[str, Any]:
    return {
        "quantity": sub.quantity,
        "status": sub.status,
        "auto_renew": sub.auto_renew,
        "scheduled_quantity": sub.scheduled_quantity,
    }


def subscription_of(customer: Customer, subscription_pc_id: str) -> Subscription:
    """The subscription of this company with this Partner Center id (NotFound otherwise)."""
    sub: Subscription | None = db.session.scalar(
        select(Subscription).where(
            Subscription.customer_id == customer.id, Subscription.pc_id == subscription_pc_id
        )
    )
    if sub is None:
        raise NotFound(subscription_pc_id)
    return sub


def retry_change(user: User, role: Role, customer: Customer, change_id: int) -> ChangeRequest:
    """Try a failed change again (outbox.prepare_retry: the same request id when Microsoft
    left the first outcome unclear, so a retry never applies it twice)."""
    change = outbox.get(customer, change_id)
    need = KINDS[change.kind].need if change.kind in KINDS else Role.ADMIN
    if role < need:
        raise ChangeRefused(f"Your role ({role.label}) cannot do this.")
    if change.state != "failed":
        return change
    sub = change.subscription if change.subscription_id is not None else None
    if sub is not None and outbox.open_change(sub) is not None:
        raise ChangeRefused("A change of this subscription is still being applied; wait for it.")
    outbox.prepare_retry(change)
    audit.record(
        f"change.{change.kind}",
        actor=user,
        customer_id=customer.id,
        object_type="subscription" if sub is not None else "order",
        object_id=sub.pc_id if sub is not None else str(change.id),
        after=dict(change.params),
        outcome="retried",
        message=change.summary,
    )
    try:
        db.session.commit()
    except IntegrityError:  # another change of the subscription was opened meanwhile
        db.session.rollback()
        raise ChangeRefused(str(outbox.ChangeBusy())) from None
    outbox.enqueue(change)
    return change


def requeue_stuck_changes(
    older_than: timedelta = timedelta(minutes=5), running_for: timedelta | None = None
) -> list[int]:
    """Hand changes left open (a dead worker, a queue that was down) to a worker again."""
    return outbox.requeue_stuck(older_than, running_for)
