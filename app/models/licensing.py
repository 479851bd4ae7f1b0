"""Subscriptions as Partner Center knows them, with their seat tranches."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models._types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.tenancy import Customer


class Subscription(db.Model):  # type: ignore[name-defined,misc]
    """One Partner Center subscription of a customer (mirrors its fields)."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("customer_id", "pc_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    pc_id: Mapped[str] = mapped_column(String(64))
    offer_id: Mapped[str] = mapped_column(String(64))
    sku_id: Mapped[str | None] = mapped_column(String(64))
    offer_name: Mapped[str] = mapped_column(String(200))
    friendly_name: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int]
    assigned: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20))
    is_nce: Mapped[bool] = mapped_column(default=True)
    is_trial: Mapped[bool] = mapped_column(default=False)
    auto_renew: Mapped[bool] = mapped_column(default=True)
    # Auto-renew off with "cancel at end of term": the service stops at the end of the term
    # (otherwise, in EST's scope, it goes on in the paid extended service term).
    cancel_at_end: Mapped[bool] = mapped_column(default=False, server_default=false())
    term_duration: Mapped[str] = mapped_column(String(8))
    billing_cycle: Mapped[str] = mapped_column(String(16))
    creation_date: Mapped[datetime] = mapped_column(UTCDateTime)
    term_start: Mapped[datetime] = mapped_column(UTCDateTime)
    commitment_end: Mapped[date] = mapped_column(Date)
    # Partner Center's cancellationAllowedUntilDate (its word wins over the computed rule;
    # a subscription it says cannot be cancelled, e.g. made by a partial upgrade, has the
    # start of its term here, long passed).
    cancellation_allowed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(0))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    reseller_pc_id: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(String(128))
    update_count: Mapped[int] = mapped_column(default=0)
    scheduled_quantity: Mapped[int | None]
    billing_enabled: Mapped[bool] = mapped_column(default=False)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    customer: Mapped[Customer] = relationship(back_populates="subscriptions")
    tranches: Mapped[list[Tranche]] = relationship(
        back_populates="subscription",
        cascade="all, delete-orphan",
        order_by="Tranche.added_at",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @property
    def free(self) -> int:
        """Seats paid for but not assigned to anyone."""
        return max(self.quantity - self.assigned, 0)


class Tranche(db.Model):  # type: ignore[name-defined,misc]
    """Seats added at one moment; they can be returned until allowed_until (NCE: 7 days)."""

    __tablename__ = "tranche"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE"), index=True
    )
    quantity: Mapped[int]
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    allowed_until: Mapped[datetime] = mapped_column(UTCDateTime)

    subscription: Mapped[Subscription] = relationship(back_populates="tranches")


OPEN_STATES = ("pending", "running")  # a change still to be applied, or being applied


class ChangeRequest(db.Model):  # type: ignore[name-defined,misc]
    """The outbox row of one requested change: who asked what, and how it ended.

    Written in the same transaction as its audit event; a job applies it. The idempotency
    key makes a double submit one change; `request_id` is the MS-RequestId that makes a
    retried Partner Center call apply once.
    """

    __tablename__ = "change_request"
    # One change at a time per subscription: two requests that both passed the "a change is
    # still being applied" check cannot both be written (NULL subscriptions are not limited).
    __table_args__ = (
        Index(
            "uq_change_request_open_subscription",
            "subscription_id",
            unique=True,
            sqlite_where=text("state IN ('pending', 'running')"),
            postgresql_where=text("state IN ('pending', 'running')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    # NULL for an order of the storefront until it is bought (typed int: every other kind has
    # one, and the queries that read it select changes of a subscription).
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id"), index=True, nullable=True
    )
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_by: Mapped[str] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When it was last handed to a worker (queued, or started); None while the queue was
    # down. The requeue cron goes by this, not by created_at, so a retried change is not
    # queued twice.
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscription: Mapped[Subscription] = relationship()

    @property
    def is_open(self) -> bool:
        """Still to be applied (pending) or being applied (running)."""
        return self.state in OPEN_STATES
