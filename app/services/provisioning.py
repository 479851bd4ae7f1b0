"""Applying an accepted change from the outbox: the one entry point of the provisioning job."""

from __future__ import annotations

from flask import current_app

from app.extensions import db
from app.models import ChangeRequest, Customer
from app.services import (
    licensing,
    locks,
    orders,
    outbox,
    people,
    people_view,
    resellers,
    upgrades,
)
from app.services.errors import NotFound
from app.services.microsoft.partner_center import PartnerCenterClient

LOCKED_DELAY = 5  # seconds before a change whose customer stayed busy is tried again


def apply(change_id: int, *, pc: PartnerCenterClient | None = None) -> ChangeRequest:
    """Apply the change `change_id` by its kind, holding its customer's lock: a sync or the
    reconciliation committing the same subscription in between would make the job's own
    write fail after Partner Center had already changed. A customer busy for longer sends
    the change back to the queue a little later (it stays pending; nothing is lost)."""
    change = db.session.get(ChangeRequest, change_id)
    if change is None:
        raise NotFound(f"no change request {change_id}")
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    db.session.rollback()  # hold no transaction while waiting for the lock
    try:
        with locks.customer_lock(
            customer.pc_id,
            timeout=float(current_app.config["CHANGE_LOCK_TTL"]),
            renew=True,
            wait=float(current_app.config["CHANGE_LOCK_WAIT"]),
            holder=outbox.lock_holder(change_id),
        ):
            return _apply(change_id, pc)
    except locks.Busy:
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None
        if change.is_open:
            outbox.enqueue(change, delay=LOCKED_DELAY)
        return change


def _apply(change_id: int, pc: PartnerCenterClient | None) -> ChangeRequest:
    change = db.session.get(ChangeRequest, change_id)
    assert change is not None
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    paused = resellers.paused_reason(customer)
    if paused is not None and change.is_open:  # the reseller's relationship lapsed since
        outbox.finish(change, "failed", paused)
        return outbox.record_outcome(
            change,
            event=f"change.{change.kind}",
            object_type="change_request",
            object_id=str(change.id),
        )
    if change.kind == orders.KIND:
        return orders.apply_order(change_id, pc=pc)
    if change.kind in upgrades.KINDS:
        return upgrades.apply(change_id, pc=pc)
    if change.kind in people_view.ASSIGNMENT_KINDS:
        return people.apply_assignment_change(change_id, pc=pc)
    return licensing.apply_change(change_id, pc=pc)
