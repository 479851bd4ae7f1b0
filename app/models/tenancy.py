"""The partner, its indirect resellers and their customers."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.settings import SPECS, SettingValue
from app.extensions import db
from app.models._types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.licensing import Subscription


class Branding:
    """The name, colour and logo a partner or reseller shows in the portal (all optional)."""

    brand_name: Mapped[str | None] = mapped_column(String(200))
    brand_color: Mapped[str | None] = mapped_column(String(7))
    logo: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    logo_mime: Mapped[str | None] = mapped_column(String(32))
    logo_width: Mapped[int | None]
    logo_height: Mapped[int | None]
    logo_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Where customers get help (an e-mail address, a phone number or a web address): shown
    # in the footer and on error pages.
    support_contact: Mapped[str | None] = mapped_column(String(200))


class Partner(Branding, db.Model):  # type: ignore[name-defined,misc]
    """The CSP partner (direct-bill or indirect provider) that runs this Seatwise."""

    __tablename__ = "partner"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tenant_id: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reseller(Branding, db.Model):  # type: ignore[name-defined,misc]
    """An indirect reseller selling through the partner; may white-label the portal."""

    __tablename__ = "reseller"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    pc_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    mpn_id: Mapped[str | None] = mapped_column(String(20))
    tenant_id: Mapped[str | None] = mapped_column(String(36))
    relationship_status: Mapped[str] = mapped_column(String(20), default="Active")
    # The proven (active) white-label host; a host asked for waits in `pending_host_name`
    # until the reseller proves control of it (DNS TXT with `host_token`) or the provider
    # approves it, whichever the installation chose (HOST_PROOF).
    host_name: Mapped[str | None] = mapped_column(String(253), unique=True)
    pending_host_name: Mapped[str | None] = mapped_column(String(253))
    host_token: Mapped[str | None] = mapped_column(String(64))
    host_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    host_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    host_check_result: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    customers: Mapped[list[Customer]] = relationship(back_populates="reseller")


class Customer(db.Model):  # type: ignore[name-defined,misc]
    """A customer company (a Microsoft tenant) and its relationship settings."""

    __tablename__ = "customer"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner.id"))
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("reseller.id"), index=True)
    pc_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    domain: Mapped[str | None] = mapped_column(String(253))
    tenant_id: Mapped[str] = mapped_column(String(36), unique=True)

    # Relationship settings (PRODUCT.md); the names match app.domain.settings.
    self_service: Mapped[bool] = mapped_column(default=False)
    reporting: Mapped[bool] = mapped_column(default=False)
    partner_center_sync: Mapped[bool] = mapped_column(default=True)
    azure_sync: Mapped[bool] = mapped_column(default=False)
    unmanaged_license_sync: Mapped[bool] = mapped_column(default=False)
    auto_license_adjustment: Mapped[bool] = mapped_column(default=False)
    send_all_subscriptions: Mapped[bool] = mapped_column(default=False)
    auto_increment: Mapped[bool] = mapped_column(default=False)
    azure_markup_percent: Mapped[Decimal] = mapped_column(Numeric(6, 2), default=Decimal("17.65"))
    unassign_disabled_after_days: Mapped[int] = mapped_column(default=0, server_default="0")

    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)

    reseller: Mapped[Reseller | None] = relationship(back_populates="customers")
    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="customer", order_by="Subscription.creation_date"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def settings(self) -> dict[str, SettingValue]:
        """The relationship settings as a mapping keyed by setting name."""
        return {key: getattr(self, key) for key in SPECS}
