"""The load-or-abort helpers: every view reaches a company's data only through these."""

from __future__ import annotations

from flask import abort, g
from flask_login import current_user
from sqlalchemy import bindparam, select

from app.domain.roles import Role
from app.extensions import db
from app.models import Customer, StaffRole, User
from app.services.access import is_staff, role_on

# Built once per process, as every statement each page runs (docs/performance.md).
_CUSTOMER = select(Customer).where(Customer.pc_id == bindparam("pc_id"))


def get_customer_for(customer_pc_id: str, need: Role = Role.VIEW) -> tuple[Customer, Role]:
    """The company and the current user's role on it; 404 without any role, 403 if too low."""
    customer = db.session.execute(_CUSTOMER, {"pc_id": customer_pc_id}).scalar()
    role = role_on(current_user, customer) if customer is not None else None
    if customer is None or role is None:
        abort(404)  # never reveal that another tenant's company exists
    if role < need:
        abort(403)
    g.company = customer  # the page's branding follows the company it shows
    g.company_role = role  # the navigation offers what this role may open
    return customer, role


def get_customer_for_staff(customer_pc_id: str) -> Customer:
    """The company, for partner or reseller staff who manage it; 404 for anyone else."""
    customer, _role = get_customer_for(customer_pc_id, need=Role.VIEW)
    if not is_staff(current_user):
        abort(404)
    return customer


def require_staff() -> User:
    """The signed-in partner or reseller administrator; 404 for anyone else."""
    user: User = current_user._get_current_object()
    if not user.is_authenticated or not is_staff(user):
        abort(404)
    return user


def require_partner_admin() -> User:
    """The signed-in partner administrator; 403 for reseller staff, 404 for anyone else."""
    user = require_staff()
    if user.staff_role is not StaffRole.PARTNER_ADMIN:
        abort(403)
    return user
