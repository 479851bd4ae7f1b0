"""Licence waste and the daily proration of a month's charge (hand-computed examples)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain.reports import free_seats, month_bounds, prorate_month, waste

NOV = month_bounds(2026, 11)  # 30 days


def test_waste_is_free_seats_times_the_price_and_never_negative() -> None:
    assert waste(12, 9, Decimal("22.00")) == Decimal("66.00")
    assert waste(5, 7, Decimal("36.00")) == 0
    assert free_seats(5, 7) == 0


def test_a_whole_month_without_changes_is_the_monthly_price() -> None:
    result = prorate_month(Decimal("6.00"), *NOV, opening_quantity=10)
    assert result.charge == Decimal("60.00") and result.seat_days == 300


def test_a_mid_month_increase_is_billed_from_its_day() -> None:
    # 10 seats on days 1-20, 13 seats on days 21-30: 6.00 * (200 + 130) / 30 = 66.00
    result = prorate_month(Decimal("6.00"), *NOV, 10, [(date(2026, 11, 21), 13)])
    assert result.seat_days == 330
    assert result.charge == Decimal("66.00")
    assert result.closing_quantity == 13


def test_a_mid_month_decrease_is_billed_until_the_day_before() -> None:
    # 20 seats on days 1-10, 15 on days 11-30: 22.00 * (200 + 300) / 30 = 366.666… → 366.67
    result = prorate_month(Decimal("22.00"), *NOV, 20, [(date(2026, 11, 11), 15)])
    assert result.charge == Decimal("366.67")


def test_a_subscription_bought_mid_month_is_billed_from_its_first_day() -> None:
    # bought on the 16th with 4 seats: 15 days of 30 → half of 4 * 9.00 = 18.00
    result = prorate_month(Decimal("9.00"), *NOV, 4, active_from=date(2026, 11, 16))
    assert result.charge == Decimal("18.00")


def test_changes_outside_the_month_only_set_the_opening_quantity() -> None:
    result = prorate_month(
        Decimal("1.00"), *NOV, 3, [(date(2026, 10, 5), 8), (date(2026, 12, 2), 50)]
    )
    assert result.seat_days == 8 * 30


@given(
    st.integers(min_value=0, max_value=500),
    st.lists(
        st.tuples(st.integers(min_value=1, max_value=30), st.integers(min_value=0, max_value=500)),
        max_size=6,
    ),
)
def test_the_charge_lies_between_the_smallest_and_largest_quantity_held(
    opening: int, changes: list[tuple[int, int]]
) -> None:
    dated = [(date(2026, 11, day), quantity) for day, quantity in changes]
    result = prorate_month(Decimal("10.00"), *NOV, opening, dated)
    held = [opening, *(q for _d, q in dated)]
    assert min(held) * 10 - Decimal("0.01") <= result.charge <= max(held) * 10 + Decimal("0.01")
    assert sum(s.days for s in result.segments) <= 30
