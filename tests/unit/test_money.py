"""Money arithmetic (app.domain.money)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.money import (
    add_months,
    mark_up,
    monthly_cost,
    monthly_saving,
    prorated_refund,
    to_cents,
)


def test_azure_mark_up_of_seventeen_point_six_five_percent_rounds_half_up_to_cents():
    assert mark_up(Decimal("100.00"), Decimal("17.65")) == Decimal("117.65")
    assert mark_up(Decimal("0.10"), Decimal("5")) == Decimal("0.11")  # 0.105 rounds up
    assert mark_up(Decimal("10"), 0) == Decimal("10.00")


def test_monthly_cost_and_saving_are_exact_price_times_seats():
    assert monthly_cost(Decimal("22.1234"), 3) == Decimal("66.3702")
    assert monthly_saving(Decimal("22.00"), -2) == Decimal("-44.00")


def test_refund_of_a_cancellation_on_the_first_day_keeps_only_that_day():
    refund = prorated_refund(
        Decimal("300.00"), date(2026, 11, 1), date(2026, 11, 30), date(2026, 11, 1)
    )

    assert refund == Decimal("290.00")


def test_refund_after_the_period_is_nothing_and_before_it_everything():
    start, end = date(2026, 11, 1), date(2026, 11, 30)

    assert prorated_refund(Decimal("30"), start, end, date(2026, 12, 5)) == Decimal("0.00")
    assert prorated_refund(Decimal("30"), start, end, date(2026, 10, 1)) == Decimal("30.00")


def test_add_months_clamps_to_the_end_of_a_shorter_month():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 11, 15), 14) == date(2028, 1, 15)


money = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False)
days = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@settings(max_examples=200, deadline=None)
@given(money, days, st.integers(0, 1100), st.integers(-50, 1200))
def test_a_refund_is_never_negative_nor_more_than_charged(charged, start, length, offset):
    end = start + timedelta(days=length)
    refund = prorated_refund(charged, start, end, start + timedelta(days=offset))

    assert Decimal(0) <= refund <= to_cents(charged)
    assert refund == to_cents(refund)


@settings(max_examples=100, deadline=None)
@given(money, days, st.integers(1, 400), st.integers(0, 399))
def test_a_later_cancellation_never_refunds_more(charged, start, length, offset):
    end = start + timedelta(days=length)
    day = start + timedelta(days=min(offset, length))

    earlier = prorated_refund(charged, start, end, day)
    later = prorated_refund(charged, start, end, day + timedelta(days=1))

    assert later <= earlier


@settings(max_examples=200, deadline=None)
@given(money, st.decimals(min_value=0, max_value=500, places=2, allow_nan=False))
def test_a_mark_up_never_lowers_the_cost_and_has_two_decimals(cost, percent):
    marked = mark_up(cost, percent)

    assert marked >= to_cents(cost)
    assert marked == to_cents(marked)


@settings(max_examples=100, deadline=None)
@given(days, st.integers(0, 48))
def test_adding_months_lands_in_the_right_month(day, months):
    result = add_months(day, months)

    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day <= day.day
