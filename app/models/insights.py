"""Licence insights: each person's last sign-in and activity per workload, and the
customer's insight settings (inactivity threshold, exclusions, where the data came from)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models._types import UTCDateTime

DEFAULT_INACTIVE_DAYS = 90


class UserActivity(db.Model):  # type: ignore[name-defined,misc]
    """One person's last sign-in (Entra ID P1/P2 only) and last activity date per workload
    (Microsoft 365 usage reports), as of the last insights refresh."""

    __tablename__ = "user_activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    directory_user_id: Mapped[int] = mapped_column(
        ForeignKey("directory_user.id", ondelete="CASCADE"), unique=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    last_sign_in: Mapped[datetime | None] = mapped_column(UTCDateTime)
    exchange: Mapped[date | None] = mapped_column(Date)
    onedrive: Mapped[date | None] = mapped_column(Date)
    sharepoint: Mapped[date | None] = mapped_column(Date)
    teams: Mapped[date | None] = mapped_column(Date)
    office: Mapped[date | None] = mapped_column(Date)
    copilot: Mapped[date | None] = mapped_column(Date)


class InsightSettings(db.Model):  # type: ignore[name-defined,misc]
    """A customer's insight settings and the state of its last refresh."""

    __tablename__ = "insight_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), unique=True)
    inactive_days: Mapped[int] = mapped_column(default=DEFAULT_INACTIVE_DAYS)
    # SKU ids never counted, and people (lower-case sign-in names) never counted: shared
    # mailboxes, service accounts, a CEO who reads mail on a phone only ...
    excluded_skus: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded_people: Mapped[list[str]] = mapped_column(JSON, default=list)
    # skuId -> skuPartNumber, from Graph's subscribedSkus at the last refresh.
    sku_parts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # "sign_in" (signInActivity and the reports) or "reports" (no Entra ID P1/P2); with
    # "-concealed" when the reports hide user names (so they could not be used).
    source: Mapped[str] = mapped_column(String(24), default="")
    source_note: Mapped[str | None] = mapped_column(Text)
    refresh_state: Mapped[str] = mapped_column(String(16), default="never")
    refresh_message: Mapped[str | None] = mapped_column(Text)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
