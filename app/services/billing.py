"""Billing: which subscriptions are billed, their PSA agreement ids, and the monthly export.

A subscription is billed when its own flag is on, or when its customer's *Send all
subscriptions* setting is on — decided when the export is made, so a subscription that
appears after the setting was switched on is included without anyone ticking it. Charges are
prorated by day from the audit trail of what changed when (app.domain.reports.prorate_month).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select

from app.domain.reports import month_bounds, prorate_month
from app.extensions import db
from app.models import AuditEvent, BillingAgreement, Customer, Subscription, User
from app.models._types import utcnow
from app.services import audit
from app.services.errors import NotFound

ENDED = ("deleted", "expired", "disabled")  # no seats are billed in these states
AGREEMENT_MAX = 100


class BillingError(ValueError):
    """A billing setting that is refused, with a message a person understands."""


def is_billed(sub: Subscription, customer: Customer) -> bool:
    """Billed: its own flag, or every subscription of a customer with Send all subscriptions."""
    return bool(sub.billing_enabled or customer.send_all_subscriptions)


def agreements(subscription_ids: Iterable[int]) -> dict[int, str]:
    """The PSA agreement id of each of these subscriptions that has one."""
    ids = list(subscription_ids)
    if not ids:
        return {}
    rows = db.session.scalars(
        select(BillingAgreement).where(BillingAgreement.subscription_id.in_(ids))
    )
    return {row.subscription_id: row.agreement_id for row in rows}


def subscription_for(customer: Customer, subscription_pc_id: str) -> Subscription:
    """The customer's subscription with this Partner Center id (NotFound otherwise)."""
    sub: Subscription | None = db.session.scalar(
        select(Subscription).where(
            Subscription.customer_id == customer.id, Subscription.pc_id == subscription_pc_id
        )
    )
    if sub is None:
        raise NotFound(subscription_pc_id)
    return sub


def set_billing(actor: User, sub: Subscription, billed: bool, agreement_id: str) -> None:
    """Switch a subscription's billed flag and set (or clear) its PSA agreement id; audited."""
    agreement_id = agreement_id.strip()
    if len(agreement_id) > AGREEMENT_MAX or any(ord(c) < 32 for c in agreement_id):
        raise BillingError(
            f"An agreement id is at most {AGREEMENT_MAX} characters of text on one line."
        )
    row = db.session.scalar(
        select(BillingAgreement).where(BillingAgreement.subscription_id == sub.id)
    )
    before = {"billed": sub.billing_enabled, "agreement_id": row.agreement_id if row else ""}
    after = {"billed": billed, "agreement_id": agreement_id}
    if before == after:
        return
    sub.billing_enabled = billed
    if agreement_id and row is None:
        db.session.add(
            BillingAgreement(subscription_id=sub.id, agreement_id=agreement_id, updated_at=utcnow())
        )
    elif agreement_id and row is not None:
        row.agreement_id, row.updated_at = agreement_id, utcnow()
    elif row is not None:
        db.session.delete(row)
    audit.record(
        "billing.changed",
        actor=actor,
        customer_id=sub.customer_id,
        object_type="subscription",
        object_id=sub.pc_id,
        before=before,
        after=after,
    )
    db.session.commit()


@dataclass(frozen=True)
class ExportLine:
    """One billed subscription's month: seats, daily-prorated charge and agreement id."""

    customer: Customer
    sub: Subscription
    agreement_id: str
    opening_quantity: int
    closing_quantity: int
    changes: tuple[tuple[date, int], ...]
    seat_days: int
    days_in_month: int
    charge: Decimal

    def as_dict(self, month: str) -> dict[str, Any]:
        """The line as plain values (JSON and CSV share it)."""
        return {
            "month": month,
            "customer_id": self.customer.pc_id,
            "customer": self.customer.name,
            "subscription_id": self.sub.pc_id,
            "product": self.sub.offer_name,
            "agreement_id": self.agreement_id,
            "unit_price": str(self.sub.unit_price.quantize(Decimal("0.01"))),
            "currency": self.sub.currency,
            "opening_quantity": self.opening_quantity,
            "closing_quantity": self.closing_quantity,
            "changes": [{"from": day.isoformat(), "quantity": q} for day, q in self.changes],
            "seat_days": self.seat_days,
            "days_in_month": self.days_in_month,
            "charge": str(self.charge),
        }


def parse_month(text: str | None, now: datetime | None = None) -> tuple[int, int]:
    """'2026-11' as (2026, 11); the current month when empty; ValueError when not a month."""
    if not text:
        today = (now or utcnow()).date()
        return today.year, today.month
    try:
        year, month = (int(part) for part in text.split("-"))
        date(year, month, 1)
    except ValueError:
        raise BillingError("Give the month as YYYY-MM, e.g. 2026-11.") from None
    return year, month


def export(year: int, month: int, customers: Iterable[Customer] | None = None) -> list[ExportLine]:
    """The month's billing lines of every billed subscription (of `customers`, or all)."""
    first, last = month_bounds(year, month)
    chosen = (
        list(customers)
        if customers is not None
        else list(db.session.scalars(select(Customer).order_by(Customer.name)))
    )
    lines: list[ExportLine] = []
    by_id = {c.id: c for c in chosen}
    subs = [
        sub
        for sub in db.session.scalars(
            select(Subscription)
            .where(Subscription.customer_id.in_(list(by_id)))
            .where(
                or_(
                    Subscription.billing_enabled.is_(True),
                    Subscription.customer_id.in_(
                        [c.id for c in chosen if c.send_all_subscriptions]
                    ),
                )
            )
            .order_by(Subscription.customer_id, Subscription.creation_date)
        )
        if sub.creation_date.date() <= last
    ]
    history = _quantity_events(subs, datetime.combine(first, time(0), UTC))
    ids = agreements(sub.id for sub in subs)
    for sub in subs:
        opening, changes = _timeline(sub, history[(sub.customer_id, sub.pc_id)])
        created = sub.creation_date.date()
        result = prorate_month(
            sub.unit_price,
            first,
            last,
            opening,
            changes,
            active_from=created if created > first else None,
        )
        if result.seat_days == 0 and sub.status in ENDED:
            continue  # ended before the month began
        lines.append(
            ExportLine(
                customer=by_id[sub.customer_id],
                sub=sub,
                agreement_id=ids.get(sub.id, ""),
                opening_quantity=opening,
                closing_quantity=result.closing_quantity,
                changes=tuple((d, q) for d, q in changes if first < d <= last),
                seat_days=result.seat_days,
                days_in_month=result.days_in_month,
                charge=result.charge,
            )
        )
    return sorted(lines, key=lambda line: (line.customer.name, line.sub.offer_name, line.sub.pc_id))


def _quantity_events(
    subs: list[Subscription], since: datetime
) -> dict[tuple[int, str], list[AuditEvent]]:
    """The audited changes of quantity or status of these subscriptions since `since`."""
    found: dict[tuple[int, str], list[AuditEvent]] = defaultdict(list)
    if not subs:
        return found
    wanted = {(sub.customer_id, sub.pc_id) for sub in subs}
    rows = db.session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.object_type == "subscription",
            AuditEvent.customer_id.in_({sub.customer_id for sub in subs}),
            AuditEvent.at >= since,
            AuditEvent.outcome.in_(("ok", "done")),
        )
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    for event in rows:
        key = (event.customer_id or 0, event.object_id or "")
        if key in wanted and (_touches_seats(event.before) or _touches_seats(event.after)):
            found[key].append(event)
    return found


def _touches_seats(values: dict[str, Any] | None) -> bool:
    return values is not None and ("quantity" in values or "status" in values)


def _seats(quantity: int, status: str) -> int:
    return 0 if status in ENDED else quantity


def _timeline(sub: Subscription, events: list[AuditEvent]) -> tuple[int, list[tuple[date, int]]]:
    """The seats billed at the start of the month and each change since, by day.

    Walks back from the subscription as it is now through the `before` values of the events
    (newest first) to the start of the month, then forward through their `after` values.
    """
    quantity, status = sub.quantity, sub.status
    for event in reversed(events):
        before = event.before or {}
        quantity = int(before.get("quantity", quantity))
        status = str(before.get("status", status))
    opening = held = _seats(quantity, status)
    changes: list[tuple[date, int]] = []
    for event in events:
        after = event.after or {}
        quantity = int(after.get("quantity", quantity))
        status = str(after.get("status", status))
        if _seats(quantity, status) != held:  # e.g. the first sync's "added" changes nothing
            held = _seats(quantity, status)
            changes.append((event.at.date(), held))
    return opening, changes
