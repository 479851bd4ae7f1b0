"""Report and billing arithmetic, pure: licence waste and daily proration of a month's charge.

Amounts stay exact (Decimal); a charge is rounded to cents once, at the end (money.to_cents).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from app.domain.money import mark_up, to_cents


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


# --- Azure usage with the customer's mark-up ------------------------------------------------


@dataclass(frozen=True)
class UsageItem:
    """A month's usage of one meter in one resource group of one Azure subscription."""

    entitlement: str
    resource_group: str
    category: str
    meter: str
    unit: str
    quantity: Decimal
    cost: Decimal  # the partner's cost, exact


@dataclass(frozen=True)
class PricedUsage:
    """Usage (one item or a group of them) at the partner's cost and the customer's price."""

    label: str
    quantity: Decimal
    unit: str
    cost: Decimal  # cents
    price: Decimal  # cents
    items: int = 1

    @property
    def margin(self) -> Decimal:
        return self.price - self.cost


def price_usage(item: UsageItem, markup_percent: Decimal) -> PricedUsage:
    """One item's cost and price: price = cost * (1 + mark-up / 100), rounded to cents once
    (from the exact cost); the cost shown is the exact cost rounded to cents."""
    return PricedUsage(
        label=item.meter,
        quantity=item.quantity,
        unit=item.unit,
        cost=to_cents(item.cost),
        price=mark_up(item.cost, markup_percent),
    )


def group_usage(items: Sequence[UsageItem], markup_percent: Decimal, by: str) -> list[PricedUsage]:
    """Items grouped by `resource_group` or `meter` (category and meter name), most expensive
    first. A group's cost and price are the sums of its items' (each rounded once), so every
    table adds up to the same total."""
    groups: dict[str, list[tuple[UsageItem, PricedUsage]]] = {}
    for item in items:
        key = item.resource_group if by == "resource_group" else f"{item.category}: {item.meter}"
        groups.setdefault(key, []).append((item, price_usage(item, markup_percent)))
    found = []
    for key, members in groups.items():
        units = {item.unit for item, _ in members}
        found.append(
            PricedUsage(
                label=key,
                quantity=sum((item.quantity for item, _ in members), Decimal(0)),
                unit=units.pop() if len(units) == 1 else "",
                cost=sum((p.cost for _, p in members), Decimal(0)),
                price=sum((p.price for _, p in members), Decimal(0)),
                items=len(members),
            )
        )
    return sorted(found, key=lambda g: (-g.price, g.label))
