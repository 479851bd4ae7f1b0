"""Housekeeping jobs: a heartbeat that proves the worker, Redis and the database work."""

from __future__ import annotations

from rq import get_current_job

from app.services import system
from jobs import app_context


def heartbeat(note: str) -> dict[str, object]:
    """Record a heartbeat audit event from the worker and return what it wrote."""
    job = get_current_job()
    with app_context():
        return system.record_heartbeat(note, job_id=job.id if job else None)
