"""Who may see and change which company: the one place roles are decided."""

from __future__ import annotations

import re

from sqlalchemy import Select, bindparam, false, select

from app.domain.roles import Role
from app.extensions import db
from app.models import Customer, Membership, StaffRole, User
from app.services import audit


def role_on(user: User, customer: Customer) -> Role | None:
    """The role `user` holds on `customer` now, or None (revocations count at once)."""
    if user.staff_role is StaffRole.PARTNER_ADMIN:
        return Role.ADMIN
    if user.staff_role is StaffRole.RESELLER_ADMIN:
        # An unrecorded reseller (None) must not match the direct customers (None too).
        mine = user.reseller_id is not None and customer.reseller_id == user.reseller_id
        return Role.ADMIN if mine else None
    if not customer.self_service:
        return None
    role: Role | None = db.session.execute(
        _MEMBERSHIP_ROLE, {"user_id": user.id, "customer_id": customer.id}
    ).scalar()
    return role


# Built once per process, as every statement each page runs (docs/performance.md).
_MEMBER = Membership.__table__.c
_MEMBERSHIP_ROLE = select(_MEMBER.role).where(
    _MEMBER.user_id == bindparam("user_id"), _MEMBER.customer_id == bindparam("customer_id")
)


def companies_query(user: User) -> Select[tuple[Customer]]:
    """The companies `user` may open, by name."""
    query = select(Customer).order_by(Customer.name)
    if user.staff_role is StaffRole.PARTNER_ADMIN:
        return query
    if user.staff_role is StaffRole.RESELLER_ADMIN:
        if user.reseller_id is None:  # `== None` would be IS NULL: every direct customer
            return query.where(false())
        return query.where(Customer.reseller_id == user.reseller_id)
    return query.join(Membership, Membership.customer_id == Customer.id).where(
        Membership.user_id == user.id, Customer.self_service.is_(True)
    )


def scoped_companies(user: User) -> tuple[Select[tuple[Customer]], dict[str, int]]:
    """`companies_query` as a statement built once per kind of user, and its parameters:
    the same rows, for lists shown on every page view (docs/performance.md)."""
    if user.staff_role is StaffRole.PARTNER_ADMIN:
        return _SCOPES["partner"], {}
    if user.staff_role is StaffRole.RESELLER_ADMIN:
        if user.reseller_id is None:
            return _SCOPES["nothing"], {}
        return _SCOPES["reseller"], {"scope_reseller_id": user.reseller_id}
    return _SCOPES["member"], {"scope_user_id": user.id}


_BY_NAME = select(Customer).order_by(Customer.name)
_SCOPES: dict[str, Select[tuple[Customer]]] = {
    "partner": _BY_NAME,
    "nothing": _BY_NAME.where(false()),
    "reseller": _BY_NAME.where(Customer.reseller_id == bindparam("scope_reseller_id")),
    "member": _BY_NAME.join(Membership, Membership.customer_id == Customer.id).where(
        Membership.user_id == bindparam("scope_user_id"), Customer.self_service.is_(True)
    ),
}


def companies(user: User, limit: int = 501) -> list[Customer]:
    """The companies `user` may open, by name (at most `limit`)."""
    return list(db.session.scalars(companies_query(user).limit(limit)))


def reseller_unrecorded(user: User) -> bool:
    """A reseller admin whose reseller is not recorded here: they may reach nothing."""
    return user.staff_role is StaffRole.RESELLER_ADMIN and user.reseller_id is None


def is_staff(user: User) -> bool:
    """Partner or reseller staff reach companies without an invitation."""
    return user.staff_role is not None


class AccessError(ValueError):
    """A grant or revoke that is refused, with a message a person understands."""


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def portal_users(customer: Customer) -> list[Membership]:
    """Everyone invited to the company's portal, by email."""
    return list(
        db.session.scalars(
            select(Membership)
            .where(Membership.customer_id == customer.id)
            .order_by(Membership.email)
        )
    )


def grant_access(actor: User, customer: Customer, email: str, role: Role) -> Membership:
    """Invite an email at a role (or change the role of an existing invitation); audited.
    A new invitation is mailed by a job queued after the commit."""
    _require_staff_on(actor, customer)
    address = email.strip().lower()
    if not _EMAIL.match(address) or len(address) > 320:
        raise AccessError(f"{email.strip() or 'That'} is not an email address.")
    membership = db.session.scalar(
        select(Membership).where(Membership.customer_id == customer.id, Membership.email == address)
    )
    invited = membership is None
    if membership is None:
        membership = Membership(
            customer_id=customer.id, email=address, role=role, invited_by_id=actor.id
        )
        db.session.add(membership)
        db.session.flush()
        audit.record(
            "access.granted",
            actor=actor,
            customer_id=customer.id,
            object_type="membership",
            object_id=str(membership.id),
            after={"email": address, "role": role.label},
        )
    elif membership.role != role:
        audit.record(
            "access.changed",
            actor=actor,
            customer_id=customer.id,
            object_type="membership",
            object_id=str(membership.id),
            before={"email": address, "role": membership.role.label},
            after={"email": address, "role": role.label},
        )
        membership.role = role
    db.session.commit()
    if invited:
        from app.services import mail  # mail → reports → access: imported when used

        mail.queue_invitation(membership.id)
    return membership


def revoke_access(actor: User, customer: Customer, membership_id: int) -> str:
    """Remove someone's access to the company; it ends with their next request. Audited."""
    _require_staff_on(actor, customer)
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.customer_id != customer.id:
        raise AccessError("That person has no access to this company (any more).")
    email = membership.email
    audit.record(
        "access.revoked",
        actor=actor,
        customer_id=customer.id,
        object_type="membership",
        object_id=str(membership.id),
        before={"email": email, "role": membership.role.label},
    )
    db.session.delete(membership)
    db.session.commit()
    return email


def _require_staff_on(actor: User, customer: Customer) -> None:
    """Only partner staff with a role on the company manage who may use its portal."""
    if not is_staff(actor) or role_on(actor, customer) is None:
        raise AccessError("Only partner or reseller administrators manage portal access.")
