"""The outbox: one ChangeRequest row for every change anyone asks for, and its lifecycle.

Every kind of change (quantity, renewal, suspend, cancel, assign, buy, and the storefront's
orders next) goes through these functions: `create` writes the row and its audit event in
one transaction (a double submit of the same idempotency key becomes one change), `start`
and `finish` move it through its states, and `enqueue` hands it to a worker by the job's
dotted name, so services never import `jobs/`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import ChangeRequest, Customer, Subscription, User
from app.models._types import utcnow
from app.models.licensing import OPEN_STATES
from app.services import audit, locks
from app.services.errors import NotFound
from app.services.microsoft.http import MicrosoftError

APPLY_JOB = "jobs.provisioning.apply_change"  # the worker's entry point, by name

QUEUE_DOWN = (
    "Waiting for the job queue, which cannot be reached just now; the change is kept and "
    "is applied as soon as the queue is back."
)


class ChangeBusy(Exception):
    """Another change of the same subscription is still open (one at a time)."""

    def __init__(self) -> None:
        super().__init__("A change of this subscription is still being applied; wait for it.")


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
    sub: Subscription | None,
    actor: User | str,
    kind: str,
    params: Mapping[str, Any],
    key: str,
    summary: str,
    audit_event: Mapping[str, Any],
    enqueue_now: bool = True,
    state: str = "pending",
) -> ChangeRequest:
    """Write the change (pending) and its audit event in one transaction, then (unless
    `enqueue_now` is off) hand it to a worker. The same key returns the first change."""
    change = ChangeRequest(
        customer_id=customer.id,
        subscription_id=sub.id if sub is not None else None,
        requested_by_id=actor.id if isinstance(actor, User) else None,
        requested_by=(actor.email or actor.name) if isinstance(actor, User) else actor,
        kind=kind,
        params=dict(params),
        idempotency_key=key,
        request_id=str(uuid.uuid4()),
        state=state,
        summary=summary,
    )
    db.session.add(change)
    try:
        db.session.flush()
    except IntegrityError:  # the same form submitted twice at once: one change
        db.session.rollback()
        again = find(key, customer)
        if again is not None:
            return again
        if sub is not None and open_change(sub) is not None:  # two raced: the first wins
            raise ChangeBusy() from None
        raise
    audit.record(actor=actor, customer_id=customer.id, message=summary, **audit_event)
    db.session.commit()
    if enqueue_now and change.is_open:
        enqueue(change)
    return change


def refuse(
    *,
    event: str,
    actor: User | str,
    customer: Customer,
    object_type: str,
    object_id: str | None,
    params: Mapping[str, Any],
    reason: str,
) -> None:
    """Keep the audit trail of a change refused before it reached the outbox (no row is
    written): who asked for what, and why not. Commits."""
    audit.record(
        event,
        actor=actor,
        customer_id=customer.id,
        object_type=object_type,
        object_id=object_id,
        after=dict(params),
        outcome="refused",
        message=reason,
    )
    db.session.commit()


def record_outcome(
    change: ChangeRequest,
    *,
    event: str,
    object_type: str,
    object_id: str | None,
    after: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
) -> ChangeRequest:
    """The job's audit event for how the change ended (its state and outcome), committed
    with the change."""
    audit.record(
        event,
        actor=f"job:change-{change.id}",
        customer_id=change.customer_id,
        object_type=object_type,
        object_id=object_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
        outcome=change.state,
        message=change.outcome,
    )
    db.session.commit()
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
    change.queued_at = utcnow()
    db.session.commit()
    return change, True


def finish(change: ChangeRequest, state: str, outcome: str) -> None:
    """Record how the change ended (the caller commits, with its audit event)."""
    change.state = state
    change.outcome = outcome
    change.finished_at = utcnow()


def lock_holder(change_id: int) -> str:
    """Who holds a customer's lock while a worker applies this change."""
    return f"change-{change_id}"


def job_timeout() -> int:
    """Seconds a change job may run (CHANGE_JOB_TIMEOUT): it must outlive the Microsoft
    client's retry budget, two calls with ~2 min waits after a 409, and the wait for the
    customer's lock; RQ's default of 180 s would stop it halfway."""
    config = current_app.config
    budget = float(config["MICROSOFT_RETRY_SECONDS"]) + float(config["CHANGE_LOCK_WAIT"])
    return max(int(config["CHANGE_JOB_TIMEOUT"]), int(budget * 2) + 180)


def ambiguous(error: MicrosoftError) -> bool:
    """An answer that leaves open whether Partner Center carried the call out: no answer
    in time, or a server error (it may have failed after doing the work)."""
    return error.status is None or error.status >= 500


def was_sent(change: ChangeRequest) -> bool:
    """An earlier attempt sent this change to Microsoft without a clear answer (or was
    stopped around the call): it may have been carried out."""
    return bool(change.params.get("sent"))


def mark_sent(change: ChangeRequest) -> None:
    """About to send the change (the caller commits before the call)."""
    if not was_sent(change):
        change.params = {**change.params, "sent": True}


def clear_sent(change: ChangeRequest) -> None:
    """Microsoft answered clearly that it did not carry the change out."""
    if was_sent(change):
        change.params = {k: v for k, v in change.params.items() if k != "sent"}


def finish_unknown(change: ChangeRequest, what: str) -> None:
    """Microsoft did not say whether `what` was done, and could not be asked: the change
    fails saying so; its retry sends the same request id (Partner Center answers a
    repeated request id with the first outcome) after checking what is there."""
    mark_sent(change)
    finish(
        change,
        "failed",
        f"Microsoft did not answer clearly, so it is not known yet whether {what} was made. "
        "Retry checks Partner Center first and never applies it twice.",
    )


@contextmanager
def settles(
    change: ChangeRequest,
    refusals: tuple[type[Exception], ...],
    microsoft_text: Callable[[MicrosoftError, bool], str],
) -> Iterator[None]:
    """Whatever stops the block ends `change` failed with a true reason, never open: a
    refusal (one of `refusals`, its message; nothing was sent), a Microsoft error
    (`microsoft_text(error, may have been carried out)`; a clear refusal clears "sent"), or
    anything else (`finish_unexpected`). The caller records the outcome and commits."""
    try:
        yield
    except refusals as refused:
        db.session.rollback()
        clear_sent(change)
        finish(change, "failed", str(refused))
    except MicrosoftError as error:
        db.session.rollback()
        if not ambiguous(error):
            clear_sent(change)
        finish(change, "failed", microsoft_text(error, was_sent(change)))
    except Exception:  # a bug or an outage of ours
        finish_unexpected(change)


def finish_unexpected(change: ChangeRequest) -> None:
    """Anything but a Microsoft answer stopped the job (a bug, our database): the change
    ends failed with a true reason instead of staying open, and is logged."""
    db.session.rollback()
    current_app.logger.exception("change %s stopped by an unexpected error", change.id)
    reached = (
        "it may or may not have reached Microsoft; Retry checks Partner Center first and "
        "never applies it twice."
        if was_sent(change)
        else "nothing was sent to Microsoft. Try again."
    )
    finish(
        change,
        "failed",
        f"Seatwise stopped on an unexpected error while applying this (change {change.id}); "
        + reached,
    )


def prepare_retry(change: ChangeRequest) -> None:
    """Open a failed change again. One that may have been sent keeps its request id (the
    same operation, carried out at most once); otherwise it gets a new id, so Partner
    Center does not answer the retry with the old refusal."""
    change.state, change.outcome, change.finished_at = "pending", None, None
    if not was_sent(change) and change.kind != "order":  # an order's checkout is replayed
        change.request_id = str(uuid.uuid4())


def enqueue(change: ChangeRequest, *, delay: float | None = None) -> None:
    """Hand the change to a worker. If the queue is down the change stays pending, says
    so, and the requeue cron hands it over when the queue is back (nothing is lost)."""
    from app.queue import enqueue as put
    from app.queue import enqueue_in

    job_id = f"change-{change.id}-{uuid.uuid4().hex[:8]}"
    timeout = job_timeout()
    try:
        if delay:
            enqueue_in(
                timedelta(seconds=delay), APPLY_JOB, change.id, job_id=job_id, job_timeout=timeout
            )
        else:
            put(APPLY_JOB, change.id, job_id=job_id, job_timeout=timeout)
    except Exception:  # Redis unreachable: keep the change, say so, hand it over later
        current_app.logger.exception("could not enqueue change %s", change.id)
        db.session.rollback()
        change.queued_at = None
        change.outcome = QUEUE_DOWN
        db.session.commit()
        return
    change.queued_at = utcnow()
    if change.outcome == QUEUE_DOWN:
        change.outcome = None
    db.session.commit()


def requeue_stuck(
    older_than: timedelta = timedelta(minutes=5), running_for: timedelta | None = None
) -> list[int]:
    """Hand changes left open to a worker again: pending ones never queued (the queue was
    down) or queued more than `older_than` ago, and running ones started more than
    `running_for` ago (default: the job timeout, after which RQ has surely stopped the
    job; a worker killed mid-job leaves it "started" and nothing else retries it). A change
    that used all its attempts fails instead, saying so. Applying is safe to repeat."""
    config = current_app.config
    now = utcnow()
    running_for = running_for if running_for is not None else timedelta(seconds=job_timeout() + 60)
    stuck = db.session.scalars(
        select(ChangeRequest)
        .where(
            or_(
                (ChangeRequest.state == "pending")
                & or_(
                    ChangeRequest.queued_at.is_(None),
                    ChangeRequest.queued_at <= now - older_than,
                ),
                (ChangeRequest.state == "running") & (ChangeRequest.queued_at <= now - running_for),
            )
        )
        .order_by(ChangeRequest.id)
    ).all()
    again: list[ChangeRequest] = []
    for change in stuck:
        given_up = change.attempts >= int(config["CHANGE_MAX_ATTEMPTS"])
        if given_up:
            finish(
                change,
                "failed",
                f"Stopped after {change.attempts} attempts that did not finish. "
                + (
                    "It may or may not have reached Microsoft; Retry checks Partner Center "
                    "first and never applies it twice."
                    if was_sent(change)
                    else "Nothing was sent to Microsoft; try again."
                ),
            )
        else:
            if change.state == "running":  # its worker is gone: so is its hold on the customer
                customer = db.session.get(Customer, change.customer_id)
                if customer is not None:
                    locks.break_lock(customer.pc_id, lock_holder(change.id))
            change.state = "pending"
            again.append(change)
        audit.record(
            f"change.{change.kind}",
            actor="job:requeue",
            customer_id=change.customer_id,
            object_type="subscription" if change.subscription_id else "change_request",
            object_id=change.subscription.pc_id if change.subscription_id else str(change.id),
            outcome="failed" if given_up else "requeued",
            message=change.outcome if given_up else "Still open; handed to a worker again.",
        )
    db.session.commit()
    for change in again:
        enqueue(change)
    return [change.id for change in again]


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
    """An order of the storefront: a change with no subscription yet (it creates one), the
    same row, audit and queue as every change. An order that waits for approval (`state`
    "to_approve") is not queued until approved."""
    return create(
        customer=customer,
        sub=None,
        actor=actor,
        kind="order",
        params=params,
        key=key,
        summary=summary,
        audit_event=audit_event,
        state=state,
    )
