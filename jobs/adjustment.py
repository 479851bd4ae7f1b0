"""Reconciliation jobs: the nightly run of one customer, and a preview (dry run)."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.services import adjustment
from jobs import app_context


def adjust_customer(customer_pc_id: str, day: str) -> dict[str, Any]:
    """Run the day's reconciliation for one customer (at most once per day)."""
    with app_context():
        return adjustment.run(customer_pc_id, date.fromisoformat(day)).as_dict()


def preview_customer(customer_pc_id: str, run_id: int | None = None) -> dict[str, Any]:
    """Plan without applying, for the partner admin's preview page (fills `run_id`)."""
    with app_context():
        return adjustment.preview(customer_pc_id, run_id=run_id).as_dict()
