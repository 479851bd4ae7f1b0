"""Applying an accepted change from the outbox: the one entry point of the provisioning job."""

from __future__ import annotations

from app.extensions import db
from app.models import ChangeRequest
from app.services import licensing, orders, people, people_view
from app.services.errors import NotFound
from app.services.microsoft.partner_center import PartnerCenterClient


def apply(change_id: int, *, pc: PartnerCenterClient | None = None) -> ChangeRequest:
    """Apply the change `change_id` by its kind (a subscription change or an assignment)."""
    change = db.session.get(ChangeRequest, change_id)
    if change is None:
        raise NotFound(f"no change request {change_id}")
    if change.kind == orders.KIND:
        return orders.apply_order(change_id, pc=pc)
    if change.kind in people_view.ASSIGNMENT_KINDS:
        return people.apply_assignment_change(change_id, pc=pc)
    return licensing.apply_change(change_id, pc=pc)
