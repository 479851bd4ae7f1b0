"""Reading and changing a customer's relationship settings (web, CLI and jobs use this)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.domain.settings import (
    SettingError,
    SettingValue,
    apply_changes,
    check_reseller_changes,
    format_value,
)
from app.extensions import db
from app.models import Customer, StaffRole, User
from app.services import audit


class CustomerNotFound(LookupError):
    """No customer with that Partner Center id."""


def get_settings(customer_pc_id: str) -> dict[str, SettingValue]:
    """The relationship settings of a customer."""
    return _load(customer_pc_id).settings()


def change_settings(
    customer_pc_id: str, raw_changes: Mapping[str, str], *, actor: User | str
) -> dict[str, SettingValue]:
    """Validate and apply setting changes all together (or none), auditing each change.

    Who decides (issue 19): a reseller admin may change only the reseller's settings (Self
    service, Reporting) and only of its own customers; the rest is the provider's. The web
    checks the customer first (another reseller's customer is not found); this is the rule.
    """
    customer = _load(customer_pc_id)
    if isinstance(actor, User) and actor.staff_role is StaffRole.RESELLER_ADMIN:
        if actor.reseller_id is None or customer.reseller_id != actor.reseller_id:
            raise CustomerNotFound(f"No customer with id {customer_pc_id!r}.")
        check_reseller_changes(raw_changes)  # raises ProviderOnlySetting
    before = customer.settings()
    after = apply_changes(before, raw_changes)  # raises SettingError, nothing is applied
    for key, value in after.items():
        if value != before[key]:
            setattr(customer, key, value)
            audit.record(
                "settings.changed",
                actor=actor,
                customer_id=customer.id,
                object_type="customer",
                object_id=customer.pc_id,
                before={key: format_value(before[key])},
                after={key: format_value(value)},
            )
    try:
        db.session.commit()
    except StaleDataError:  # another change of this company's row won the race
        db.session.rollback()
        raise SettingError(
            f"{customer.name}'s settings were changed by someone else at the same moment; "
            "nothing was changed. Reload them and try again."
        ) from None
    return after


def _load(customer_pc_id: str) -> Customer:
    """The customer with this Partner Center id, or CustomerNotFound."""
    customer: Customer | None = db.session.scalar(
        select(Customer).where(Customer.pc_id == customer_pc_id)
    )
    if customer is None:
        raise CustomerNotFound(f"No customer with id {customer_pc_id!r}.")
    return customer
