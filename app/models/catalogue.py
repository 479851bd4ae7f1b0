"""The storefront's data: the cached Partner Center catalogue, products-for-sale profiles and
which profile each customer is given."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models._types import UTCDateTime, utcnow


class CatalogueItem(db.Model):  # type: ignore[name-defined,misc]
    """One SKU of the Partner Center catalogue of a market, with its prices per term and
    billing frequency (`prices`: [{term, billing, monthly, currency}], per seat per month).
    Refreshed by a job (app.services.catalogue.refresh)."""

    __tablename__ = "catalogue_item"
    __table_args__ = (UniqueConstraint("market", "offer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    market: Mapped[str] = mapped_column(String(2), default="US")
    offer_id: Mapped[str] = mapped_column(String(64))  # productId:skuId
    catalog_item_id: Mapped[str] = mapped_column(String(100))  # product:sku:availability
    product_id: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200))
    publisher: Mapped[str] = mapped_column(String(200), default="Microsoft Corporation")
    segment: Mapped[str] = mapped_column(String(32), default="commercial")
    azure_sku_id: Mapped[str | None] = mapped_column(String(64))
    addon: Mapped[str | None] = mapped_column(String(16))  # copilot / multigeo / other
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list)
    limit_per_customer: Mapped[int | None]
    min_quantity: Mapped[int] = mapped_column(default=1)
    max_quantity: Mapped[int] = mapped_column(default=10000)
    is_trial: Mapped[bool] = mapped_column(default=False)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    prices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_addon(self) -> bool:
        """Bought on top of base licenses."""
        return self.addon is not None


class SalesProfile(db.Model):  # type: ignore[name-defined,misc]
    """A products-for-sale profile: the offers a customer's users may buy, at what price."""

    __tablename__ = "sales_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # The reseller whose admins made it (they manage it for their own customers); None: the
    # partner's.
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("reseller.id"), index=True)
    # Approvals: orders above this much a month (at the customer's price), or every order,
    # wait for a partner admin's approval before anything reaches Partner Center.
    approval_above: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    approve_all: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    offers: Mapped[list[ProfileOffer]] = relationship(
        back_populates="profile", cascade="all, delete-orphan", order_by="ProfileOffer.offer_id"
    )


class ProfileOffer(db.Model):  # type: ignore[name-defined,misc]
    """One offer of a profile: the customer's price (cost + margin %, or a fixed price per
    seat per month) and optional self-service minimum and maximum seats."""

    __tablename__ = "profile_offer"
    __table_args__ = (UniqueConstraint("profile_id", "offer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    profile_id: Mapped[int] = mapped_column(
        ForeignKey("sales_profile.id", ondelete="CASCADE"), index=True
    )
    offer_id: Mapped[str] = mapped_column(String(64))
    margin_percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 2))
    fixed_monthly: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    min_quantity: Mapped[int | None]
    max_quantity: Mapped[int | None]
    needs_approval: Mapped[bool] = mapped_column(default=False)

    profile: Mapped[SalesProfile] = relationship(back_populates="offers")


class CustomerProfile(db.Model):  # type: ignore[name-defined,misc]
    """The one products-for-sale profile a customer is given (none: the storefront is closed)."""

    __tablename__ = "customer_profile"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), primary_key=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("sales_profile.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    profile: Mapped[SalesProfile] = relationship()
