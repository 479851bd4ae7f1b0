"""Report and billing arithmetic, pure: licence waste and daily proration of a month's charge.

Amounts stay exact (Decimal); a charge is rounded to cents once, at the end (money.to_cents).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.domain.money import to_cents


def free_seats(seats: int, assigned: int) -> int:
    """Seats paid for and assigned to nobody (never negative)."""
    return max(seats - assigned, 0)


def waste(seats: int, assigned: int, unit_price: Decimal) -> Decimal:
    """The monthly cost of the free seats: free seats * the monthly price of a seat."""
    return unit_price * free_seats(seats, assigned)


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """The first and the last day of a calendar month."""
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


@dataclass(frozen=True)
class Segment:
    """`quantity` seats held from `start` to `end` (both days included)."""

    start: date
    end: date
    quantity: int

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Proration:
    """A month's charge of one subscription, prorated by day."""

    segments: tuple[Segment, ...]
    seat_days: int
    days_in_month: int
    charge: Decimal  # rounded to cents

    @property
    def closing_quantity(self) -> int:
        """The seats held on the last billed day (0 when none)."""
        return self.segments[-1].quantity if self.segments else 0


def prorate_month(
    unit_price: Decimal,
    first: date,
    last: date,
    opening_quantity: int,
    changes: Sequence[tuple[date, int]] = (),
    active_from: date | None = None,
) -> Proration:
    """The charge for [first, last] of seats at a monthly `unit_price`, prorated by day.

    `opening_quantity` is held at the start of the month; each `(day, quantity)` change
    holds from that day on (the day of a change is billed at the new quantity). Days before
    `active_from` (a subscription bought mid-month) are not billed. The charge is
    unit price * seat-days ÷ days of the month, rounded to cents once.
    """
    if last < first:
        raise ValueError("the month ends before it starts")
    start = max(first, active_from) if active_from else first
    quantity = opening_quantity
    points: list[tuple[date, int]] = []
    for day, new_quantity in sorted(changes, key=lambda change: change[0]):
        if day <= start:
            quantity = new_quantity  # in force from the first billed day
        elif day <= last:
            points.append((day, new_quantity))
    segments: list[Segment] = []
    cursor = start
    for day, new_quantity in points:
        if day > cursor:
            segments.append(Segment(cursor, day - timedelta(days=1), quantity))
            cursor = day
        quantity = new_quantity
    if cursor <= last:
        segments.append(Segment(cursor, last, quantity))
    kept = tuple(s for s in segments if s.quantity > 0)
    seat_days = sum(s.quantity * s.days for s in kept)
    days_in_month = (last - first).days + 1
    return Proration(
        kept, seat_days, days_in_month, to_cents(unit_price * seat_days / days_in_month)
    )
