"""The outbox: one ChangeRequest row for every change anyone asks for, and its lifecycle.

Every kind of change (quantity, renewal, suspend, cancel, assign, buy, and the storefront's
orders next) goes through these functions: `create` writes the row and its audit event in
one transaction (a double submit of the same idempotency key becomes one change), `start`
and `finish` move it through its states, and `enqueue` hands it to a worker by the job's
dotted name, so services never import `jobs/`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import ChangeRequest, Customer, Subscription, User
from app.models._types import utcnow
from app.models.licensing import OPEN_STATES
from app.services import audit
from app.services.errors import NotFound

APPLY_JOB = "jobs.provisioning.apply_change"  # the worker's entry point, by name


def find(key: str, customer: Customer) -> ChangeRequest | None:
    """The change already asked with this idempotency key for this company, if any."""
    change: ChangeRequest | None = db.session.scalar(
        select(ChangeRequest).where(ChangeRequest.idempotency_key == key)
    )
    return change if change is not None and change.customer_id == customer.id else None


def get(customer: Customer, change_id: int) -> ChangeRequest:
    """A change request of this company (NotFound for any other)."""
    change = db.session.get(ChangeRequest, change_id)
    if change is None or change.customer_id != customer.id:
        raise NotFound(change_id)
    return change


def open_change(sub: Subscription) -> ChangeRequest | None:
    """The change being applied to this subscription, if any."""
    return db.session.scalar(
        select(ChangeRequest)
        .where(ChangeRequest.subscription_id == sub.id, ChangeRequest.state.in_(OPEN_STATES))
        .order_by(ChangeRequest.id.desc())
        .limit(1)
    )


def create(
    *,
    customer: Customer,
    sub: Subscription,
    actor: User | str,
    kind: str,
    params: Mapping[str, Any],
    key: str,
    summary: str,
    audit_event: Mapping[str, Any],
    enqueue_now: bool = True,
) -> ChangeRequest:
    """Write the change (pending) and its audit event in one transaction, then (unless
    `enqueue_now` is off) hand it to a worker. The same key returns the first change."""
    change = ChangeRequest(
        customer_id=customer.id,
        subscription_id=sub.id,
        requested_by_id=actor.id if isinstance(actor, User) else None,
        requested_by=(actor.email or actor.name) if isinstance(actor, User) else actor,
        kind=kind,
        params=dict(params),
        idempotency_key=key,
        request_id=str(uuid.uuid4()),
        state="pending",
        summary=summary,
    )
    db.session.add(change)
    try:
        db.session.flush()
    except IntegrityError:  # the same form submitted twice at once: one change
        db.session.rollback()
        again = find(key, customer)
        if again is None:
            raise
        return again
    audit.record(actor=actor, customer_id=customer.id, message=summary, **audit_event)
    db.session.commit()
    if enqueue_now:
        enqueue(change)
    return change


def start(change_id: int) -> tuple[ChangeRequest, bool]:
    """Mark the change running (one more attempt); False when it is no longer open."""
    change = db.session.get(ChangeRequest, change_id)
    if change is None:
        raise NotFound(f"no change request {change_id}")
    if not change.is_open:
        return change, False
    change.state = "running"
    change.attempts += 1
    db.session.commit()
    return change, True


def finish(change: ChangeRequest, state: str, outcome: str) -> None:
    """Record how the change ended (the caller commits, with its audit event)."""
    change.state = state
    change.outcome = outcome
    change.finished_at = utcnow()


def enqueue(change: ChangeRequest) -> None:
    """Hand the change to a worker; if the queue is down, say so and change nothing."""
    from app.queue import enqueue as put

    try:
        put(APPLY_JOB, change.id, job_id=f"change-{change.id}-{uuid.uuid4().hex[:8]}")
    except Exception as error:  # Redis unreachable: the request must not hang forever
        current_app.logger.exception("could not enqueue change %s", change.id)
        finish(
            change,
            "failed",
            f"The change could not be queued ({type(error).__name__}); "
            "nothing was changed. Try again.",
        )
        db.session.commit()


def create_order(
    *,
    customer: Customer,
    actor: User,
    params: Mapping[str, Any],
    key: str,
    summary: str,
    audit_event: Mapping[str, Any],
    state: str = "pending",
) -> ChangeRequest:
    """An order of the storefront: a change with no subscription yet (it creates one). The
    same row, audit and queue as `create`; the same key returns the first order. An order
    that waits for approval (`state` "to_approve") is not queued until approved."""
    change = ChangeRequest(
        customer_id=customer.id,
        subscription_id=None,
        requested_by_id=actor.id,
        requested_by=actor.email or actor.name,
        kind="order",
        params=dict(params),
        idempotency_key=key,
        request_id=str(uuid.uuid4()),
        state=state,
        summary=summary,
    )
    db.session.add(change)
    try:
        db.session.flush()
    except IntegrityError:  # the same form submitted twice at once: one order
        db.session.rollback()
        again = find(key, customer)
        if again is None:
            raise
        return again
    audit.record(actor=actor, customer_id=customer.id, message=summary, **audit_event)
    db.session.commit()
    if change.is_open:
        enqueue(change)
    return change
