"""Storefront orders: request (check + outbox + audit + enqueue) and apply (the job buys).

The same shape as a quantity change (ARCHITECTURE.md): `request_order` checks the cart
against the rules with what we know, writes an outbox row of kind "order" and its audit event
in one transaction, and enqueues the provisioning job. The job calls `apply_order`, which
re-checks the rules against the customer's subscriptions fresh from Partner Center, buys
through a Partner Center cart with the order's own request id, syncs the new subscription in
and records the outcome. Running it twice buys once: once the rules passed for an order, a
second run only repeats the same cart and checkout request ids, which Partner Center replays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select

from app.domain import storefront as rules
from app.domain.decision import RuleViolation
from app.domain.nce import format_day, seats
from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, Reseller, Subscription, User
from app.models._types import utcnow
from app.services import access, audit, offers, outbox, profiles, resellers, storefront, sync
from app.services.errors import NotFound
from app.services.microsoft import factory
from app.services.microsoft.http import MicrosoftError
from app.services.microsoft.partner_center import CartLine, PartnerCenterClient

KIND = "order"
AWAITING = "to_approve"  # an order that waits for the partner's approval (state is String(16))
MAX_OTHER_RESELLERS = 5  # create-a-cart.md: "Only a maximum of 5 Indirect Resellers"
ATTESTATION = (
    "I confirm that the resellers named took part in this sale and that naming them as "
    "additional resellers on record is accurate (Partner Center's partner-of-record "
    "attestation)."
)


class OrderRefused(Exception):
    """The order cannot be accepted; the message says why in words a person understands."""


def reseller_refusal(customer: Customer) -> str | None:
    """Indirect model (rule 13): nothing is bought for a customer of a reseller whose
    relationship with the provider is not authorised."""
    return resellers.paused_reason(customer)


def other_resellers_refusal(
    customer: Customer, others: Sequence[str], attested: bool
) -> str | None:
    """Why the other resellers named on an order cannot be accepted (None when they can):
    a reseller's customer only, at most five, known resellers of the partner other than the
    reseller of record, each once, and the attestation given."""
    if not others:
        return None
    if customer.reseller is None:
        return (
            f"{customer.name} buys directly from the partner: other resellers can only be named "
            "on an order for a reseller's customer."
        )
    if len(others) > MAX_OTHER_RESELLERS:
        return (
            f"An order may name at most {MAX_OTHER_RESELLERS} other resellers besides the "
            f"reseller of record (Partner Center's limit); this one names {len(others)}."
        )
    if len(set(others)) != len(others):
        return "Each other reseller can be named once."
    known = {
        r.pc_id: r
        for r in db.session.scalars(select(Reseller).where(Reseller.pc_id.in_(list(others))))
    }
    for pc_id in others:
        if pc_id not in known or known[pc_id].partner_id != customer.reseller.partner_id:
            return "One of the resellers named is not a reseller of the partner."
        if pc_id == customer.reseller.pc_id:
            return f"{customer.reseller.name} is the reseller of record already."
    if not attested:
        return "Naming other resellers needs the attestation: read it and tick the box."
    return None


def describe(
    lines: Sequence[rules.Line],
    titles: dict[str, str],
    trials: frozenset[str] = frozenset(),
    ends: Mapping[int, date] | None = None,
) -> str:
    """'Buy 5 seats of Microsoft 365 Business Premium (annual term, billed monthly (+5 %))',
    with ', ending on 28 Jan 2027' for a line co-termed to that date."""
    ends = ends or {}
    parts = [
        f"{seats(line.quantity)} of {titles.get(line.offer_id, line.offer_id)} ("
        + (
            rules.TRIAL_TEXT
            if line.offer_id in trials
            else rules.describe_option(line.term, line.billing)
        )
        + (f", ending on {format_day(ends[i])}" if i in ends else "")
        + ")"
        for i, line in enumerate(lines)
    ]
    return "Buy " + "; ".join(parts)


def request_order(
    user: User,
    role: Role,
    customer: Customer,
    lines: Sequence[rules.Line],
    *,
    idempotency_key: str,
    now: datetime | None = None,
    ends: Mapping[int, date] | None = None,
    others: Sequence[str] = (),
    attested: bool = False,
) -> ChangeRequest:
    """Accept an order for the worker, or refuse it with the reason (nothing is written but
    the audit of the refusal). The same idempotency key returns the same order. `ends`:
    per line (by index) a custom term end date Partner Center allowed (co-terming)."""
    ends = dict(ends or {})
    now = now or utcnow()
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    if role < Role.ADMIN:
        raise OrderRefused(
            f"Your role ({role.label}) cannot buy new products; an Admin of {customer.name} can."
        )
    refusal = reseller_refusal(customer)
    quote = storefront.quote(customer, lines, now)
    if refusal is None:
        decision = storefront.check(customer, lines)
        refusal = None if decision.allowed else decision.reason
    if refusal is None:
        refusal = other_resellers_refusal(customer, others, attested)
    if refusal is not None:
        outbox.refuse(
            event="order.requested",
            actor=user,
            customer=customer,
            object_type="order",
            object_id=None,
            params={"lines": [_line_json(line) for line in lines], "other_resellers": list(others)},
            reason=refusal,
        )
        raise OrderRefused(refusal)
    titles = {q.line.offer_id: q.title for q in quote.lines}
    params: dict[str, Any] = {
        "lines": [
            {
                **_line_json(q.line),
                "catalog_item_id": q.catalog_item_id,
                "title": q.title,
                "monthly": str(q.option.monthly.amount),
                "currency": q.option.monthly.currency,
                "trial": q.option_text == rules.TRIAL_TEXT,
                **(
                    {"custom_term_end_date": ends[i].isoformat()}
                    if i in ends and q.option_text != rules.TRIAL_TEXT
                    else {}
                ),
            }
            for i, q in enumerate(quote.lines)
        ],
    }
    if others:
        params |= {"other_resellers": list(others), "attested": True}
    trials = frozenset(q.line.offer_id for q in quote.lines if q.option_text == rules.TRIAL_TEXT)
    summary = describe(lines, titles, trials, ends)
    waits = approval_needed(customer, lines, quote.per_month)
    if waits is not None:
        params["approval"] = waits
    return outbox.create_order(
        customer=customer,
        actor=user,
        params=params,
        key=idempotency_key,
        summary=summary,
        audit_event={
            "kind": "order.requested",
            "object_type": "order",
            "after": params,
            "outcome": "requested" if waits is None else AWAITING,
        },
        state="pending" if waits is None else AWAITING,
    )


def approval_needed(
    customer: Customer, lines: Sequence[rules.Line], per_month: rules.Money | None
) -> str | None:
    """Why this order waits for the partner's approval (the customer's profile says), or None."""
    profile = profiles.profile_of(customer)
    if profile is None:
        return None
    wanted = {line.offer_id for line in lines}
    flagged = [o.offer_id for o in profile.offers if o.needs_approval and o.offer_id in wanted]
    titles = {o.offer_id: o.item.title for o in (storefront.offer_facts(customer) or {}).values()}
    return rules.approval_reason(
        per_month,
        above=profile.approval_above,
        every_order=profile.approve_all,
        flagged=[titles.get(o, o) for o in flagged],
    )


def awaiting_approval(approver: User) -> list[ChangeRequest]:
    """Orders waiting for approval, of the customers this administrator manages, oldest first."""
    customers = access.companies_query(approver).with_only_columns(Customer.id).order_by(None)
    return list(
        db.session.scalars(
            select(ChangeRequest)
            .where(
                ChangeRequest.kind == KIND,
                ChangeRequest.state == AWAITING,
                ChangeRequest.customer_id.in_(customers.scalar_subquery()),
            )
            .order_by(ChangeRequest.id)
        )
    )


def decide(approver: User, change_id: int, *, approve: bool, reason: str = "") -> ChangeRequest:
    """Approve an order (it is queued and bought) or reject it with a reason (audited)."""
    change = db.session.get(ChangeRequest, change_id)
    customer = db.session.get(Customer, change.customer_id) if change is not None else None
    if (
        change is None
        or customer is None
        or change.kind != KIND
        or not access.is_staff(approver)
        or access.role_on(approver, customer) is None
    ):
        raise NotFound(change_id)
    if change.state != AWAITING:
        raise OrderRefused(f"This order is no longer waiting for approval (it is {change.state}).")
    reason = " ".join(reason.split())[:500]
    who = approver.name or approver.email or "the partner"
    if approve:
        change.state = "pending"
        message = f"Approved by {who}" + (f": {reason}" if reason else ".")
    else:
        if not reason:
            raise OrderRefused("Say why the order is rejected; the buyer will read it.")
        message = f"Rejected by {who}: {reason}"
        outbox.finish(change, "rejected", message + " Nothing was bought.")
    audit.record(
        f"order.{'approved' if approve else 'rejected'}",
        actor=approver,
        customer_id=customer.id,
        object_type="order",
        object_id=str(change.id),
        outcome="ok",
        message=message,
    )
    db.session.commit()
    if approve:
        outbox.enqueue(change)
    return change


def _line_json(line: rules.Line) -> dict[str, Any]:
    return {
        "offer_id": line.offer_id,
        "quantity": line.quantity,
        "term": line.term,
        "billing": line.billing,
    }


def lines_of(change: ChangeRequest) -> list[rules.Line]:
    """The cart lines an order asked for."""
    return [
        rules.Line(str(p["offer_id"]), int(p["quantity"]), str(p["term"]), str(p["billing"]))
        for p in change.params.get("lines", [])
    ]


def apply_order(change_id: int, *, pc: PartnerCenterClient | None = None) -> ChangeRequest:
    """Buy an accepted order at Partner Center and record the outcome (safe to repeat)."""
    change, started = outbox.start(change_id)
    if not started:
        return change
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    lines = lines_of(change)
    client = pc or factory.partner_center()
    bought: list[str] = []
    try:
        refusal = reseller_refusal(customer)
        if refusal is not None:
            raise OrderRefused(refusal)
        if not change.params.get("checked_at"):
            _recheck(client, customer, lines)
            # From here on the order may reach Partner Center: a second run repeats the
            # same requests (replayed) instead of checking against its own purchase.
            change.params = {**change.params, "checked_at": utcnow().isoformat()}
        db.session.commit()  # never hold a database write lock across a Microsoft call
        reseller = customer.reseller.pc_id if customer.reseller is not None else None
        others = tuple(str(r) for r in change.params.get("other_resellers", []))
        result = client.buy(
            customer.pc_id,
            [
                CartLine(
                    catalog_item_id=str(p["catalog_item_id"]),
                    quantity=int(p["quantity"]),
                    term_duration=str(p["term"]),
                    billing_cycle=str(p["billing"]),
                    reseller_of_record=reseller,
                    other_resellers=others,
                    custom_term_end_date=(
                        date.fromisoformat(str(p["custom_term_end_date"]))
                        if p.get("custom_term_end_date")
                        else None
                    ),
                )
                for p in change.params["lines"]
            ],
            request_id=change.request_id,
            attest_partner_of_record=reseller is not None or bool(others),
        )
        bought = [line.subscription_id for line in result]
        sync.sync_customer(customer.pc_id, pc=client, with_users=False)
        change = db.session.get(ChangeRequest, change_id) or change
        first = db.session.scalar(
            select(Subscription).where(
                Subscription.customer_id == customer.id, Subscription.pc_id.in_(bought)
            )
        )
        if first is not None:
            change.subscription_id = first.id
        where = (
            "It is on the license page."
            if first is not None
            else "It appears on the license page after the next sync."
        )
        outbox.finish(change, "done", f"Done: {_bought_text(change)}. {where}")
    except RuleViolation as violation:
        db.session.rollback()
        outbox.finish(change, "failed", violation.decision.reason + " Nothing was bought.")
    except OrderRefused as refused:
        db.session.rollback()
        outbox.finish(change, "failed", str(refused))
    except MicrosoftError as error:
        db.session.rollback()
        if _refused(error):  # nothing was bought: a new attempt must check the rules again
            change.params = {k: v for k, v in change.params.items() if k != "checked_at"}
        outbox.finish(change, "failed", _microsoft_text(error))
    finally:
        if pc is None:
            client.close()
    return outbox.record_outcome(
        change,
        event=f"order.{'bought' if change.state == 'done' else 'failed'}",
        object_type="order",
        object_id=",".join(bought)[:64] or None,
        after={"lines": change.params.get("lines", []), "subscriptions": bought},
    )


def _recheck(client: PartnerCenterClient, customer: Customer, lines: Sequence[rules.Line]) -> None:
    """The rules again, with the customer's subscriptions fresh from Partner Center and the
    profile as it is now (RuleViolation when the order no longer fits)."""
    fresh = client.subscriptions(customer.pc_id)
    found = storefront.offer_facts(customer) or {}
    holdings = rules.Holdings(
        subscriptions=tuple(rules.Held(s.offer_id, s.quantity, s.status) for s in fresh),
        copilot=offers.copilot_seats(fresh),
        copilot_base_offers=storefront.copilot_base_offers(found),
    )
    rules.check_cart(lines, storefront.facts_of(found), holdings).require()


def _bought_text(change: ChangeRequest) -> str:
    text = "; ".join(
        f"bought {seats(int(p['quantity']))} of {p.get('title', p['offer_id'])}"
        for p in change.params.get("lines", [])
    )
    return text[:1].upper() + text[1:]


def _refused(error: MicrosoftError) -> bool:
    """Partner Center refused the order as such (nothing was bought)."""
    return error.status is not None and 400 <= error.status < 500 and error.status not in (408, 429)


def _microsoft_text(error: MicrosoftError) -> str:
    if error.status == 429:
        return "Microsoft is busy (too many requests); nothing was bought. Try again shortly."
    if _refused(error):
        return f"Microsoft refused the order: {error}. Nothing was bought."
    return (
        f"Microsoft could not be reached reliably ({error}). The order may not have gone "
        "through: check the license page after the next sync before ordering again."
    )


class OrderSummary(NamedTuple):
    """An order as a list of orders shows it: its id (for its page), summary and state."""

    id: int
    summary: str
    state: str


# Built once (each request binds the customer and how many).
_LATEST_ORDERS = (
    select(ChangeRequest.id, ChangeRequest.summary, ChangeRequest.state)
    .where(ChangeRequest.customer_id == bindparam("customer_id"), ChangeRequest.kind == KIND)
    .order_by(ChangeRequest.id.desc())
    .limit(bindparam("limit"))
)


def orders_of(customer: Customer, limit: int = 10) -> list[OrderSummary]:
    """The customer's latest orders, newest first."""
    rows = db.session.execute(_LATEST_ORDERS, {"customer_id": customer.id, "limit": limit})
    return [OrderSummary._make(row) for row in rows]
