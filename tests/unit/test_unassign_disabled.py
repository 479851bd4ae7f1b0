"""The rule that picks the licences of people disabled for long (pure), and its setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.insights import Person, disabled_to_unassign, seen_disabled_since
from app.domain.settings import SPECS, SettingError, format_value, parse_value

NOW = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
E3, BP, EA = "sku-e3", "sku-bp", "sku-ea-only"


def person(pid: int, upn: str, days: int | None, *skus: str, enabled: bool = False) -> Person:
    since = None if days is None else NOW - timedelta(days=days)
    return Person(id=pid, name=upn, upn=upn, enabled=enabled, sku_ids=skus, disabled_since=since)


def pick(people: list[Person], after_days: int = 30, **extra: object) -> set[tuple[str, str]]:
    found = disabled_to_unassign(
        people,
        after_days=after_days,
        managed_skus={E3, BP},
        now=NOW,
        **extra,  # type: ignore[arg-type]
    )
    return {(f.person.upn, f.sku_id) for f in found}


def test_only_people_disabled_for_more_than_the_days_lose_their_csp_licences() -> None:
    people = [
        person(1, "old@x.example", 40, E3, BP, EA),
        person(2, "recent@x.example", 10, E3),
        person(3, "edge@x.example", 30, E3),  # exactly 30 days: not *more* than 30
        person(4, "back@x.example", 90, E3, enabled=True),  # enabled again
        person(5, "unknown@x.example", None, E3),  # disabled, but no date seen yet
    ]
    assert pick(people) == {("old@x.example", E3), ("old@x.example", BP)}


def test_the_setting_off_unassigns_nobody() -> None:
    assert pick([person(1, "old@x.example", 400, E3)], after_days=0) == set()


def test_excluded_people_and_products_are_never_touched() -> None:
    people = [person(1, "Scanner@x.example", 40, E3), person(2, "old@x.example", 40, E3, BP)]
    assert pick(people, excluded_people=["scanner@x.example"], excluded_skus=[BP]) == {
        ("old@x.example", E3)
    }


def test_disabled_since_is_the_first_time_seen_and_cleared_when_enabled() -> None:
    first = NOW - timedelta(days=5)
    assert seen_disabled_since(None, False, NOW) == NOW
    assert seen_disabled_since(first, False, NOW) == first
    assert seen_disabled_since(first, True, NOW) is None
    assert seen_disabled_since(None, True, NOW) is None


KEY = "unassign_disabled_after_days"


def test_the_setting_is_off_by_default_and_decided_by_the_provider() -> None:
    assert SPECS[KEY].default == 0
    assert SPECS[KEY].decided_by == "provider"


@pytest.mark.parametrize(("raw", "days"), [("", 0), ("0", 0), ("off", 0), ("30", 30), (" 7 ", 7)])
def test_days_are_read_and_written_back(raw: str, days: int) -> None:
    assert parse_value(KEY, raw) == days
    assert parse_value(KEY, format_value(days)) == days


@pytest.mark.parametrize("raw", ["3", "731", "-5", "30.5", "thirty", "1e3"])
def test_days_out_of_bounds_or_not_whole_are_refused_clearly(raw: str) -> None:
    with pytest.raises(SettingError, match="whole number of days from 7 to 730, or 0"):
        parse_value(KEY, raw)


def test_the_disabled_insight_says_since_when_the_account_was_seen_disabled() -> None:
    from decimal import Decimal

    from app.domain.insights import Kind, Product, Rules, find

    product = Product(E3, "Microsoft 365 E3", "SPE_E3", Decimal(36), "USD")
    found = find(
        [person(1, "old@x.example", 40, E3), person(2, "new@x.example", None, E3)],
        [product],
        Rules(inactive_days=90, excluded_skus=frozenset(), excluded_people=frozenset()),
        NOW,
    )
    reasons = {f.person.upn: f.reason for f in found.insights[0].findings}
    assert found.insights[0].kind is Kind.DISABLED
    assert reasons["old@x.example"].startswith("account disabled in Entra ID (seen disabled since")
    assert reasons["new@x.example"] == "account disabled in Entra ID"
