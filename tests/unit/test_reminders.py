"""Which renewal reminder is due: 60, 30 and 7 days before the term ends."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.end_of_term import EndOfTerm
from app.domain.reminders import THRESHOLDS, due_threshold

TODAY = date(2026, 11, 26)


def test_each_threshold_is_due_once_the_days_left_reach_it() -> None:
    due = {
        days: due_threshold(TODAY, TODAY + timedelta(days=days), "P1Y", EndOfTerm.RENEW)
        for days in (90, 61, 60, 45, 31, 30, 8, 7, 1, 0)
    }
    assert due == {90: None, 61: None, 60: 60, 45: 60, 31: 60, 30: 30, 8: 30, 7: 7, 1: 7, 0: None}


def test_a_monthly_term_is_reminded_only_when_it_ends_or_goes_to_est_and_only_at_7_days() -> None:
    end = TODAY + timedelta(days=20)
    assert due_threshold(TODAY, end, "P1M", EndOfTerm.RENEW) is None
    assert due_threshold(TODAY, end, "P1M", EndOfTerm.EST) is None
    soon = TODAY + timedelta(days=6)
    assert due_threshold(TODAY, soon, "P1M", EndOfTerm.EST) == 7
    assert due_threshold(TODAY, soon, "P1M", EndOfTerm.CANCEL) == 7
    assert due_threshold(TODAY, soon, "P1M", EndOfTerm.RENEW) is None


@given(st.integers(min_value=-5, max_value=400), st.sampled_from(list(EndOfTerm)))
def test_the_due_threshold_is_the_nearest_one_reached(days: int, choice: EndOfTerm) -> None:
    due = due_threshold(TODAY, TODAY + timedelta(days=days), "P1Y", choice)
    if days <= 0 or days > max(THRESHOLDS):
        assert due is None
    else:
        assert due is not None and days <= due
        assert all(not (days <= t < due) for t in THRESHOLDS)
