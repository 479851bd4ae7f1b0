"""People who sign in, and the roles they hold on companies."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.domain.roles import Role
from app.extensions import db
from app.models._types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.tenancy import Customer, Reseller


class StaffRole(enum.StrEnum):
    """Partner-side roles that reach companies without an invitation."""

    PARTNER_ADMIN = "partner_admin"
    RESELLER_ADMIN = "reseller_admin"


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    """A person known by their Microsoft identity (tenant id, object id)."""

    __tablename__ = "user_account"
    __table_args__ = (UniqueConstraint("tid", "oid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tid: Mapped[str] = mapped_column(String(64))
    oid: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    staff_role: Mapped[StaffRole | None] = mapped_column(
        Enum(
            StaffRole, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
        )
    )
    reseller_id: Mapped[int | None] = mapped_column(ForeignKey("reseller.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Moved on at sign-out: session cookies issued under an older generation are refused.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    reseller: Mapped[Reseller | None] = relationship()
    memberships: Mapped[list[Membership]] = relationship(
        back_populates="user", foreign_keys="Membership.user_id"
    )


class Membership(db.Model):  # type: ignore[name-defined,misc]
    """A role on one company, granted to an email and bound to a person at first sign-in."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("customer_id", "email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=10))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    customer: Mapped[Customer] = relationship()
    user: Mapped[User | None] = relationship(back_populates="memberships", foreign_keys=[user_id])
