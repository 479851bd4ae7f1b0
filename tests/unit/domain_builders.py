"""Builders of domain facts for the unit tests (plain values, no I/O)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.nce import SubscriptionFacts, Tranche

NOW = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)


def days_ago(days: float, now: datetime = NOW) -> datetime:
    """A moment `days` before `now`."""
    return now - timedelta(days=days)


def sub(
    *,
    quantity: int = 10,
    started_days_ago: float = 40,
    tranches: list[tuple[int, float]] | None = None,
    created_days_ago: float | None = None,
    commitment_end: date | None = None,
    unit_price: str = "22.00",
    **overrides: Any,
) -> SubscriptionFacts:
    """A subscription: active NCE P1Y monthly, term started `started_days_ago`.

    `tranches` are (quantity, days ago); by default the whole quantity was added at the
    start of the term. The quantity is raised to the sum of the tranches if needed.
    """
    term_start = days_ago(started_days_ago)
    if tranches is None:
        tranches = [(quantity, started_days_ago)] if quantity else []
    built = tuple(Tranche(q, days_ago(age)) for q, age in tranches)
    quantity = max(quantity, sum(t.quantity for t in built))
    fields: dict[str, Any] = {
        "id": "sub-1",
        "offer_id": "E3",
        "quantity": quantity,
        "term_start": term_start,
        "commitment_end": commitment_end or (term_start.date() + timedelta(days=364)),
        "created_at": days_ago(
            created_days_ago if created_days_ago is not None else started_days_ago
        ),
        "tranches": built,
        "unit_price": Decimal(unit_price),
    }
    fields.update(overrides)
    return SubscriptionFacts(**fields)
