"""Licence insights jobs: refresh one customer's sign-in and usage data from Graph."""

from __future__ import annotations

from typing import Any

from app.extensions import db
from app.models import Customer
from app.services import insights, locks
from jobs import app_context


def refresh(customer_id: int) -> dict[str, Any]:
    """Refresh the customer's activity data (under its lock: the sync writes the same
    people)."""
    with app_context():
        customer = db.session.get(Customer, customer_id)
        if customer is None:
            return {"customer": customer_id, "missing": True}
        pc_id = customer.pc_id
        db.session.rollback()
        try:
            with locks.customer_lock(pc_id, wait=60):
                report = insights.refresh(customer_id)
        except locks.Busy:
            insights.refresh_busy(customer_id)
            raise
        return {"people": report.people, "source": report.source, "requests": report.requests}
