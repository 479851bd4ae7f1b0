"""Small use cases about Seatwise itself."""

from __future__ import annotations

from app.extensions import db
from app.services import audit


def record_heartbeat(note: str, *, job_id: str | None) -> dict[str, object]:
    """Write a heartbeat audit event (proves a job reached the database) and describe it."""
    event = audit.record("system.heartbeat", actor=f"job:{job_id or 'inline'}", message=note)
    db.session.commit()
    return {"event_id": event.id, "note": note}
