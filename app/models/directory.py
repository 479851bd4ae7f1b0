"""The people of a customer's Microsoft directory and the licenses assigned to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models._types import UTCDateTime, utcnow


class DirectoryUser(db.Model):  # type: ignore[name-defined,misc]
    """A user of the customer's tenant, as Graph lists them."""

    __tablename__ = "directory_user"
    __table_args__ = (
        UniqueConstraint("customer_id", "graph_id"),
        # The people page reads a company's people by name, 50 at a time: in index order,
        # instead of sorting all 5,000 of a big customer for every page (bench/BENCHMARKS.md).
        Index("ix_directory_user_customer_name", "customer_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    graph_id: Mapped[str] = mapped_column(String(64))
    upn: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    # When Seatwise first saw the account disabled (Graph gives no disable date): set by the
    # user sync and the insights refresh, cleared when the account is enabled again.
    disabled_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    licenses: Mapped[list[UserLicense]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )


class UserLicense(db.Model):  # type: ignore[name-defined,misc]
    """One SKU assigned to one directory user."""

    __tablename__ = "user_license"
    __table_args__ = (UniqueConstraint("directory_user_id", "sku_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    directory_user_id: Mapped[int] = mapped_column(
        ForeignKey("directory_user.id", ondelete="CASCADE"), index=True
    )
    sku_id: Mapped[str] = mapped_column(String(64), index=True)

    user: Mapped[DirectoryUser] = relationship(back_populates="licenses")


class UnmanagedSku(db.Model):  # type: ignore[name-defined,misc]
    """A product the customer's tenant has that no CSP subscription grants (an Enterprise
    Agreement, say), as Graph's subscribedSkus counts it; kept only while Unmanaged license
    sync is on (docs/unmanaged-licences.md)."""

    __tablename__ = "unmanaged_sku"
    __table_args__ = (UniqueConstraint("customer_id", "sku_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    sku_id: Mapped[str] = mapped_column(String(64))
    part_number: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(String(200))
    total: Mapped[int] = mapped_column(default=0)  # prepaidUnits.enabled
    assigned: Mapped[int] = mapped_column(default=0)  # consumedUnits
    synced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def free(self) -> int:
        """Units paid for and not assigned."""
        return max(self.total - self.assigned, 0)
