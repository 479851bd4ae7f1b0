"""Which renewal / end-of-term reminder is due for a subscription today (pure).

Reminders go out 60, 30 and 7 days before a term ends (the market does 60 / 35 / 7 or
60 / 30: ../shared/NOTES.md). The due one is the nearest threshold the days left have
reached, so a subscription first seen 45 days before its end gets the 60-day reminder at
once, and a day the scheduler missed does not lose a reminder; the caller keeps each
(subscription, threshold, term end, recipient) sent once.

A threshold as long as the term itself makes no sense (a monthly term is always within 30
days of its end), so only thresholds shorter than the term count; and a monthly term that
renews is not reminded at all — it renews every month, nothing is news.
"""

from __future__ import annotations

from datetime import date

from app.domain.end_of_term import EndOfTerm

THRESHOLDS = (60, 30, 7)  # days before the term ends
TERM_DAYS = {"P1M": 28, "P1Y": 365, "P3Y": 1095}  # shortest length of each term


def due_threshold(
    today: date, renewal_on: date, term_duration: str, choice: EndOfTerm
) -> int | None:
    """The reminder due today (its threshold in days), or None.

    `renewal_on` is the day after the commitment end: the term ends at its 00:00 UTC, so
    on `renewal_on - 7` there are 7 days left.
    """
    days_left = (renewal_on - today).days
    if days_left <= 0:
        return None
    term_days = TERM_DAYS.get(term_duration, 365)
    if term_days <= 31 and choice is EndOfTerm.RENEW:
        return None
    reached = [t for t in THRESHOLDS if days_left <= t and t < term_days]
    return min(reached) if reached else None
