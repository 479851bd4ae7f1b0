"""Runs of the auto license adjustment (reconciliation): the plan, and what applying it did."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models._types import UTCDateTime, utcnow
from app.models.tenancy import Customer


class AdjustmentRun(db.Model):  # type: ignore[name-defined,misc]
    """One reconciliation of one customer: a preview (dry run) or the day's real run.

    `run_key` is "<customer>-<day>" for real runs and empty for previews, so a real run
    happens at most once per customer and day (a unique key, on every database).
    """

    __tablename__ = "adjustment_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    day: Mapped[date] = mapped_column(Date)
    dry_run: Mapped[bool] = mapped_column(default=False)
    run_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="planned")
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    saving_now: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    saving_at_renewal: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(0))
    actions_total: Mapped[int] = mapped_column(default=0)
    actions_applied: Mapped[int] = mapped_column(default=0)
    actions_failed: Mapped[int] = mapped_column(default=0)
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship()

    @property
    def monthly_saving(self) -> Decimal:
        """The saving now plus the one that starts at renewals."""
        return self.saving_now + self.saving_at_renewal
