"""The partner console's front page: the customers at a glance, what needs a person's
attention, and what the reconciliation saved (a handful of aggregate queries)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from app.domain.end_of_term import EndOfTerm, end_of_term, est_unit_price, est_uplift
from app.extensions import db
from app.models import AdjustmentRun, ChangeRequest, Customer, Subscription, SyncRun, User
from app.models._types import utcnow
from app.services import access, licensing

RECENT = timedelta(days=7)
SAVED_OVER = timedelta(days=30)
ENDING_WITHIN = timedelta(days=60)


@dataclass(frozen=True)
class EstLine:
    """A subscription whose term ends soon with auto-renew off and no cancel: it goes on,
    month to month, in the paid extended service term."""

    customer_pc_id: str
    customer_name: str
    subscription: str
    ends: date
    seats: int
    est_unit_price: Decimal
    uplift_percent: int


@dataclass(frozen=True)
class Overview:
    """What the partner (or reseller) admin sees first."""

    customers: int
    portal_on: int
    seats: int
    free_seats: int
    free_monthly: Decimal  # what the free seats cost a month
    failed_syncs: int  # in the last 7 days
    failed_changes: int  # in the last 7 days
    changes_in_flight: int
    ending_soon: int  # active, auto-renew off, term ending within 60 days
    heading_into_est: list[EstLine]  # of those, the ones going on in the paid extended term
    saved_monthly: Decimal  # by the reconciliation's runs of the last 30 days
    saving_runs: int

    @property
    def needs_attention(self) -> bool:
        return bool(
            self.failed_syncs or self.failed_changes or self.ending_soon or self.heading_into_est
        )


def overview(user: User, now: datetime | None = None) -> Overview:
    """The figures of the companies `user` manages."""
    now = now or utcnow()
    visible = access.companies_query(user).with_only_columns(Customer.id).scalar_subquery()
    customers, portal_on = db.session.execute(
        select(func.count(), func.coalesce(func.sum(case((Customer.self_service, 1), else_=0)), 0))
        .select_from(Customer)
        .where(Customer.id.in_(visible))
    ).one()
    active = (Subscription.customer_id.in_(visible), Subscription.status == "active")
    free = case(
        (
            Subscription.quantity > Subscription.assigned,
            Subscription.quantity - Subscription.assigned,
        ),
        else_=0,
    )
    seats, free_seats, free_monthly = db.session.execute(
        select(
            func.coalesce(func.sum(Subscription.quantity), 0),
            func.coalesce(func.sum(free), 0),
            func.coalesce(func.sum(free * Subscription.unit_price), 0),
        ).where(*active)
    ).one()
    ending_soon = db.session.scalar(
        select(func.count()).where(
            *active,
            Subscription.auto_renew.is_(False),
            Subscription.commitment_end <= (now + ENDING_WITHIN).date(),
            Subscription.commitment_end >= now.date(),
        )
    )
    heading = _heading_into_est(visible, now)
    failed_syncs = db.session.scalar(
        select(func.count()).where(
            SyncRun.customer_id.in_(visible),
            SyncRun.state == "failed",
            SyncRun.started_at >= now - RECENT,
        )
    )
    failed_changes, in_flight = db.session.execute(
        select(
            func.coalesce(
                func.sum(
                    case(
                        (
                            (ChangeRequest.state == "failed")
                            & (ChangeRequest.created_at >= now - RECENT),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
            func.coalesce(
                func.sum(case((ChangeRequest.state.in_(("pending", "running")), 1), else_=0)), 0
            ),
        ).where(ChangeRequest.customer_id.in_(visible))
    ).one()
    saved, runs = db.session.execute(
        select(
            func.coalesce(func.sum(AdjustmentRun.saving_now + AdjustmentRun.saving_at_renewal), 0),
            func.count(),
        ).where(
            AdjustmentRun.customer_id.in_(visible),
            AdjustmentRun.dry_run.is_(False),
            AdjustmentRun.day >= _day(now - SAVED_OVER),
        )
    ).one()
    return Overview(
        customers=int(customers),
        portal_on=int(portal_on),
        seats=int(seats),
        free_seats=int(free_seats),
        free_monthly=Decimal(free_monthly).quantize(Decimal("0.01")),
        failed_syncs=int(failed_syncs or 0),
        failed_changes=int(failed_changes),
        changes_in_flight=int(in_flight),
        ending_soon=int(ending_soon or 0),
        heading_into_est=heading,
        saved_monthly=Decimal(saved).quantize(Decimal("0.01")),
        saving_runs=int(runs),
    )


def _heading_into_est(visible: Any, now: datetime) -> list[EstLine]:
    """Subscriptions whose term ends within 60 days and that will go into the paid EST."""
    rows = db.session.execute(
        select(Subscription, Customer.pc_id, Customer.name)
        .join(Customer, Customer.id == Subscription.customer_id)
        .where(
            Subscription.customer_id.in_(visible),
            Subscription.status.in_(("active", "suspended")),
            Subscription.auto_renew.is_(False),
            Subscription.cancel_at_end.is_(False),
            Subscription.commitment_end <= (now + ENDING_WITHIN).date(),
            Subscription.commitment_end >= now.date(),
        )
        .order_by(Subscription.commitment_end, Customer.name)
        .limit(200)
    ).all()
    lines = []
    for sub, pc_id, name in rows:
        facts = licensing.facts_of(sub)
        if end_of_term(facts) is not EndOfTerm.EST:
            continue
        lines.append(
            EstLine(
                pc_id,
                name,
                sub.friendly_name or sub.offer_name,
                sub.commitment_end,
                sub.quantity,
                est_unit_price(facts),
                int(est_uplift(facts) * 100),
            )
        )
    return lines


def _day(moment: datetime) -> date:
    return moment.date()
