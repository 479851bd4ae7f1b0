"""Reports and billing: daily seat snapshots, and the PSA agreement each subscription bills to."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models._types import UTCDateTime, utcnow


class UsageSnapshot(db.Model):  # type: ignore[name-defined,misc]
    """Seats, assigned seats and monthly cost of one product of one customer on one day.

    One row per customer, product and day (a unique key): taking the day's snapshot again
    updates it instead of adding a second one.
    """

    __tablename__ = "usage_snapshot"
    __table_args__ = (UniqueConstraint("customer_id", "day", "product"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    product: Mapped[str] = mapped_column(String(64))  # the SKU (or offer) id
    product_name: Mapped[str] = mapped_column(String(200))
    seats: Mapped[int]
    assigned: Mapped[int]
    monthly_cost: Mapped[Decimal] = mapped_column(Numeric(14, 4))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BillingAgreement(db.Model):  # type: ignore[name-defined,misc]
    """The PSA agreement (ConnectWise, Autotask, HaloPSA ...) a subscription is billed to,
    as the partner typed it."""

    __tablename__ = "billing_agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscription.id", ondelete="CASCADE"), unique=True
    )
    agreement_id: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AzureUsage(db.Model):  # type: ignore[name-defined,misc]
    """A customer's Azure usage of one month, per Azure subscription, resource group and meter:
    the daily rated usage lines of Partner Center added up (partner cost, before tax).

    Imported for customers with *Azure sync* on; importing a month again replaces its rows.
    """

    __tablename__ = "azure_usage"
    __table_args__ = (
        UniqueConstraint("customer_id", "month", "entitlement_id", "resource_group", "meter_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    month: Mapped[date] = mapped_column(Date, index=True)  # its first day
    subscription_id: Mapped[str] = mapped_column(String(64))  # the Azure plan
    entitlement_id: Mapped[str] = mapped_column(String(64))  # the Azure subscription
    entitlement_name: Mapped[str] = mapped_column(String(200))
    resource_group: Mapped[str] = mapped_column(String(200))
    meter_id: Mapped[str] = mapped_column(String(64))
    meter_category: Mapped[str] = mapped_column(String(100))
    meter_subcategory: Mapped[str] = mapped_column(String(100))
    meter_name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(50))
    quantity: Mapped[Decimal] = mapped_column(Numeric(20, 6))
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    days: Mapped[int]  # days of the month with usage
    last_day: Mapped[date] = mapped_column(Date)  # the latest usage day imported
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
