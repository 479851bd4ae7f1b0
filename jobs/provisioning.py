"""Provisioning jobs: apply one accepted change at Partner Center."""

from __future__ import annotations

from app.services import licensing, provisioning
from jobs import app_context


def apply_change(change_id: int) -> str:
    """Apply the change request `change_id`; return its final state."""
    with app_context():
        return provisioning.apply(change_id).state


def requeue_stuck_changes() -> list[int]:
    """Re-enqueue changes that stayed open for more than five minutes (a worker died)."""
    with app_context():
        return licensing.requeue_stuck_changes()
