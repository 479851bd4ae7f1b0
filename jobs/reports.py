"""Report jobs: the daily seat snapshot of every customer."""

from __future__ import annotations

from datetime import date

from app.services import reports
from jobs import app_context


def snapshot_all(day: str) -> dict[str, int]:
    """Record the day's seats, assigned seats and cost per product of every customer (safe to
    run twice: one snapshot per customer, product and day)."""
    with app_context():
        return reports.take_snapshots(date.fromisoformat(day))
