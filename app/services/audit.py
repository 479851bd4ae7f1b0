"""Writing the audit trail (the caller commits, in the same transaction as the change)."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import AuditEvent, User


def record(
    kind: str,
    *,
    actor: User | str,
    customer_id: int | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    outcome: str = "ok",
    message: str | None = None,
) -> AuditEvent:
    """Add an audit event to the session; it is saved with the change it describes."""
    if isinstance(actor, User):
        actor_id: int | None = actor.id
        label = actor.email or actor.name or f"user {actor.id}"
    else:
        actor_id, label = None, actor
    event = AuditEvent(
        actor_id=actor_id,
        actor=label,
        customer_id=customer_id,
        kind=kind,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        outcome=outcome,
        message=message,
    )
    db.session.add(event)
    return event
