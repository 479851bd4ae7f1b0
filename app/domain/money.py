"""Money arithmetic in Decimal: monthly costs, savings, prorated refunds and mark-up.

Costs and savings are kept exact (no rounding) so that sums of savings equal differences of
costs; round with `to_cents` only for display or for amounts that are charged (refunds,
marked-up prices).
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal(0)


def to_cents(amount: Decimal) -> Decimal:
    """Round an amount to two decimals, halves away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def monthly_cost(unit_price: Decimal, quantity: int) -> Decimal:
    """Exact monthly cost of `quantity` seats at a monthly `unit_price`."""
    return unit_price * quantity


def monthly_saving(unit_price: Decimal, seats: int) -> Decimal:
    """Exact monthly saving of returning `seats` seats (negative when seats are bought)."""
    return unit_price * seats


def mark_up(cost: Decimal, percent: Decimal | int) -> Decimal:
    """Cost * (1 + percent / 100), rounded to two decimals (ROUND_HALF_UP)."""
    if isinstance(percent, float):  # pragma: no cover - guarded by the type checker
        raise TypeError("pass the mark-up as a Decimal, not a float")
    return to_cents(cost * (1 + Decimal(percent) / 100))


def add_months(day: date, months: int) -> date:
    """The same day `months` later, clamped to the end of a shorter month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def prorated_refund(
    charged: Decimal, period_start: date, period_end: date, cancelled_on: date
) -> Decimal:
    """Refund of `charged` for the days of [period_start, period_end] after `cancelled_on`.

    Prorated daily; the day of cancellation itself is paid for. Never negative and never
    more than what was charged.
    """
    if period_end < period_start:
        raise ValueError("the billing period ends before it starts")
    days = (period_end - period_start).days + 1
    unused = min(days, max(0, (period_end - cancelled_on).days))
    return to_cents(charged * unused / days)
