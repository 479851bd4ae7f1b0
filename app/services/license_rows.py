"""The license page's read-model: what each row shows and offers, for one person.

Commands (asking for and applying changes) live in `app.services.licensing`; this module
only reads. The same rules decide what a row offers and what a request is refused.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import cached_property

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm.attributes import set_committed_value

from app.domain import nce
from app.domain.addons import check_copilot_seats
from app.domain.decision import Decision
from app.domain.end_of_term import (
    EndOfTerm,
    check_end_of_term,
    consequences,
    describe_end_of_term,
    end_of_term,
)
from app.domain.insights import seat_return
from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, Subscription, Tranche
from app.models._types import utcnow
from app.models.licensing import OPEN_STATES
from app.services import offers, outbox
from app.services.licensing import KINDS, facts_of, subscription_of

_TERMS = {"P1M": "Monthly term", "P1Y": "1-year term", "P3Y": "3-year term"}


@dataclass(frozen=True)
class RowView:
    """What the license page shows and offers for one subscription, for one person.

    The Admin's decisions (cancel, suspend, ...) are worked out only when asked for: the
    page's rows do not show them, the manage panel of one subscription does.
    """

    sub: Subscription
    facts: nce.SubscriptionFacts
    role: Role
    change: ChangeRequest | None
    reducible_text: str
    limits: nce.QuantityLimits
    can_modify: bool
    can_admin: bool
    now: datetime
    addon_limit: str = ""  # why "+1" is not offered on an add-on at its limit ("" = it is)
    return_text: str = ""  # when the free seats leave the bill (app.domain.insights)

    @property
    def pending(self) -> bool:
        """A change is being applied: the row shows it and polls."""
        return self.change is not None and self.change.is_open

    @property
    def shown_until(self) -> datetime | None:
        """Until when the row, as rendered now, stays true (unless the subscription changes)."""
        return nce.next_change(self.facts, self.now)

    @property
    def can_retry(self) -> bool:
        """This person may retry the row's failed change."""
        need = KINDS[self.change.kind].need if self.change and self.change.kind in KINDS else None
        return need is not None and self.role >= need

    @property
    def term_text(self) -> str:
        return _TERMS.get(self.sub.term_duration, self.sub.term_duration)

    @property
    def renewal_text(self) -> str:
        return self.facts.renewal_on.strftime("%-d %b %Y")

    @cached_property
    def cancel(self) -> Decision:
        return nce.check_cancel(self.facts, self.now)

    @cached_property
    def suspend(self) -> Decision:
        return nce.check_suspend(self.facts, self.now)

    @cached_property
    def resume(self) -> Decision:
        return nce.check_resume(self.facts, self.now)

    @cached_property
    def auto_renew(self) -> Decision:
        return nce.check_auto_renew(self.facts, not self.facts.auto_renew, self.now)

    @property
    def end_of_term_text(self) -> str:
        """What happens at the end of the term, in one line."""
        return describe_end_of_term(self.facts)

    @cached_property
    def end_of_term_choices(self) -> list[tuple[EndOfTerm, Decision]]:
        """The other end-of-term choices, the one to offer first first, with their rules."""
        current = end_of_term(self.facts)
        order = (
            [EndOfTerm.CANCEL, EndOfTerm.EST]
            if current is EndOfTerm.RENEW
            else [EndOfTerm.RENEW, EndOfTerm.CANCEL, EndOfTerm.EST]
        )
        return [
            (choice, check_end_of_term(self.facts, choice, self.now))
            for choice in order
            if choice is not current
        ]

    @cached_property
    def suspend_choices(self) -> list[tuple[EndOfTerm, str]]:
        """What suspending may keep at the end of the term, with what it means: cancel at the
        end (offered first), or the extended service term where it applies."""
        choices = [EndOfTerm.CANCEL] + ([EndOfTerm.EST] if nce.est_applies(self.facts) else [])
        return [(choice, consequences(self.facts, choice)) for choice in choices]

    @cached_property
    def schedule(self) -> Decision:
        fewer = max(self.limits.floor, self.facts.quantity - 1)
        return nce.check_schedule_renewal_change(self.facts, fewer, self.now)


def describe(
    sub: Subscription,
    role: Role,
    *,
    change: ChangeRequest | None = None,
    now: datetime | None = None,
    seats: tuple[int, int] | None = None,
) -> RowView:
    """Everything the row needs: the rules decide what is offered (the same rules refuse).
    `seats`: the customer's (Copilot, base) seats, for an add-on's limit."""
    now = now or utcnow()
    facts = facts_of(sub)
    limits = nce.quantity_limits(facts, now)
    addon_limit = ""
    if offers.is_copilot(sub.offer_id):
        copilot, base = (
            seats if seats is not None else offers.customer_copilot_seats(sub.customer_id)
        )
        decision = check_copilot_seats(copilot + 1, base)
        addon_limit = "" if decision.allowed else decision.reason
    return RowView(
        sub=sub,
        facts=facts,
        role=role,
        change=change,
        reducible_text=nce.describe_reducible(facts, now, limits)
        if facts.status is nce.Status.ACTIVE
        else "",
        limits=limits,
        can_modify=role >= Role.MODIFY and limits.can_increase,
        can_admin=role >= Role.ADMIN,
        now=now,
        addon_limit=addon_limit,
        return_text=_seat_return(sub, facts, limits),
    )


def _seat_return(
    sub: Subscription, facts: nce.SubscriptionFacts, limits: nce.QuantityLimits
) -> str:
    """For a row with free seats: when they leave the bill (licence insights)."""
    if sub.free < 1 or facts.status is not nce.Status.ACTIVE:
        return ""
    return seat_return(
        auto_adjustment=sub.customer.auto_license_adjustment,
        reducible_now=facts.quantity - limits.lowest_now,
        renewal_on=facts.renewal_on,
        is_nce=facts.is_nce,
    ).text


@dataclass(frozen=True, slots=True)
class RowStamp:
    """What a rendered row of the license page depends on, read without loading the rows:
    the subscription's version changes with every write to it, and every sync (which also
    rewrites its tranches) sets synced_at; together they also tell apart a row whose id was
    reused. The other fields are what the page's search, filters and totals need."""

    subscription_id: int
    pc_id: str
    version: int
    synced_at: datetime
    open_change_id: int | None
    name: str
    status: str
    quantity: int
    assigned: int
    unit_price: Decimal
    currency: str
    offer_id: str = ""
    depends_on: int = 0  # an add-on's row also depends on the customer's base seats

    @property
    def key(self) -> tuple[int, int, datetime, int]:
        return (self.subscription_id, self.version, self.synced_at, self.depends_on)

    @property
    def free(self) -> int:
        """Seats paid for and not assigned."""
        return max(self.quantity - self.assigned, 0)


def row_stamps(customer: Customer) -> list[RowStamp]:
    """The license page's subscriptions in page order, as stamps (two small queries)."""
    return with_open_changes(subscription_stamps(customer), open_changes(customer))


# Statements every license page runs, built once per process: building a statement and
# computing its cache key took ~230 µs, more than SQLite takes to answer it; and they name
# table columns (plain rows, no ORM loading) (docs/performance.md). The customer is a
# bound parameter.
_SUB = Subscription.__table__.c
_CHANGE = ChangeRequest.__table__.c
_STAMPS_VERSION = select(
    func.count(),
    func.coalesce(func.sum(_SUB.version), 0),
    func.max(_SUB.synced_at),
    func.coalesce(func.max(_SUB.id), 0),
).where(_SUB.customer_id == bindparam("customer_id"))
_OPEN_CHANGES = select(_CHANGE.subscription_id, _CHANGE.id).where(
    _CHANGE.customer_id == bindparam("customer_id"),
    _CHANGE.state.in_(OPEN_STATES),
)


def stamps_version(customer: Customer) -> tuple[int, int, datetime | None, int]:
    """What changes whenever any stamp of the customer changes (one aggregate query): every
    write to a subscription raises its version, every sync sets synced_at, and a new or
    removed subscription changes the count or the largest id."""
    count, versions, synced, last = db.session.execute(
        _STAMPS_VERSION, {"customer_id": customer.id}
    ).one()
    return int(count), int(versions), synced, int(last)


def open_changes(customer: Customer) -> dict[int, int]:
    """The change being applied to each subscription of the customer that has one."""
    return dict(db.session.execute(_OPEN_CHANGES, {"customer_id": customer.id}).all())


def with_open_changes(stamps: list[RowStamp], changes: dict[int, int]) -> list[RowStamp]:
    """The stamps with the changes in flight set (the same list when there are none)."""
    if not changes:
        return stamps
    return [
        replace(s, open_change_id=changes[s.subscription_id]) if s.subscription_id in changes else s
        for s in stamps
    ]


def subscription_stamps(customer: Customer) -> list[RowStamp]:
    """The stamps of the customer's subscriptions in page order, without changes in flight."""
    columns = (
        Subscription.id,
        Subscription.pc_id,
        Subscription.version,
        Subscription.synced_at,
        func.coalesce(Subscription.friendly_name, Subscription.offer_name),
        Subscription.status,
        Subscription.quantity,
        Subscription.assigned,
        Subscription.unit_price,
        Subscription.currency,
        Subscription.offer_id,
    )
    stamps = [
        RowStamp(sub_id, pc_id, version, synced_at, None, *rest)
        for sub_id, pc_id, version, synced_at, *rest in db.session.execute(
            select(*columns)
            .where(Subscription.customer_id == customer.id, Subscription.status != "deleted")
            .order_by(Subscription.offer_name, Subscription.creation_date, Subscription.id)
        )
    ]
    copilot, base = offers.copilot_seats(stamps)
    return [
        replace(stamp, depends_on=base - copilot) if offers.is_copilot(stamp.offer_id) else stamp
        for stamp in stamps
    ]


def license_rows(customer: Customer, role: Role, only: Collection[int]) -> list[RowView]:
    """The rows of the license page for the company's subscriptions with the ids `only`
    (those not kept from an earlier page), with their open changes, in 3 queries.

    The tranches are read with one query of their own and attached to their subscriptions
    (`selectinload` would send one more query per 500 subscriptions).
    """
    wanted = (Subscription.customer_id == customer.id, Subscription.id.in_(only))
    subs = db.session.scalars(select(Subscription).where(*wanted)).all()
    tranches: dict[int, list[Tranche]] = {sub.id: [] for sub in subs}
    for tranche in db.session.scalars(
        select(Tranche).join(Subscription).where(*wanted).order_by(Tranche.added_at, Tranche.id)
    ):
        tranches[tranche.subscription_id].append(tranche)
    for sub in subs:
        set_committed_value(sub, "tranches", tranches[sub.id])
    open_changes = {
        c.subscription_id: c
        for c in db.session.scalars(
            select(ChangeRequest).where(
                ChangeRequest.subscription_id.in_(only), ChangeRequest.state.in_(OPEN_STATES)
            )
        )
    }
    now = utcnow()
    seats = (
        offers.customer_copilot_seats(customer.id)
        if any(offers.is_copilot(s.offer_id) for s in subs)
        else None
    )
    return [describe(s, role, change=open_changes.get(s.id), now=now, seats=seats) for s in subs]


def row(
    customer: Customer, role: Role, subscription_pc_id: str, change_id: int | None = None
) -> RowView:
    """One row; with `change_id`, the outcome of that change is shown (after polling)."""
    sub = subscription_of(customer, subscription_pc_id)
    change = outbox.open_change(sub)
    if change is None and change_id is not None:
        shown = db.session.get(ChangeRequest, change_id)
        change = shown if shown is not None and shown.subscription_id == sub.id else None
    return describe(sub, role, change=change)
