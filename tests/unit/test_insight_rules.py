"""The licence insight rules: each person's licence counted once, thresholds, exclusions,
overlaps, idle add-ons, and when a freed seat leaves the bill."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.insights import (
    Kind,
    Person,
    Product,
    Rules,
    find,
    seat_return,
    validate_inactive_days,
)

NOW = datetime(2026, 11, 26, 12, tzinfo=UTC)
TODAY = NOW.date()
E3 = Product("e3", "Microsoft 365 E3", "SPE_E3", Decimal("36"))
BP = Product("bp", "Microsoft 365 Business Premium", "SPB", Decimal("22"))
EXO = Product("exo", "Exchange Online (Plan 1)", "EXCHANGESTANDARD", Decimal("4"))
COPILOT = Product("cop", "Microsoft 365 Copilot", "Microsoft_365_Copilot", Decimal("30"))
TEAMS_PREMIUM = Product("tp", "Teams Premium", "Microsoft_Teams_Premium", Decimal("10"))
CATALOGUE = (E3, BP, EXO, COPILOT, TEAMS_PREMIUM)


def active(days_ago: int = 1) -> dict[str, date]:
    day = TODAY - timedelta(days=days_ago)
    return dict.fromkeys(("exchange", "teams", "office", "copilot"), day)


def person(pid: int, *skus: str, enabled: bool = True, **kw: object) -> Person:
    return Person(pid, f"P{pid}", f"p{pid}@x.example", enabled, skus, **kw)  # type: ignore[arg-type]


def kinds(people: list[Person], rules: Rules | None = None) -> dict[Kind, list[tuple[int, str]]]:
    overview = find(people, CATALOGUE, rules or Rules(), NOW)
    return {
        i.kind: [(f.person.id, f.product.sku_id) for f in i.findings] for i in overview.insights
    }


def test_a_disabled_person_is_not_also_inactive_and_each_licence_counts_once() -> None:
    found = kinds([person(1, "e3", "bp", enabled=False)])
    assert found[Kind.DISABLED] == [(1, "e3"), (1, "bp")]
    assert found[Kind.INACTIVE] == [] and found[Kind.OVERLAP] == []


def test_inactive_from_the_threshold_on_and_sign_ins_count_only_when_known() -> None:
    signed_in = NOW - timedelta(days=10)
    old = active(days_ago=90)
    people = [
        person(1, "e3", activity=old),
        person(2, "e3", activity=active(days_ago=89)),
        person(3, "e3", activity=old, last_sign_in=signed_in),
        person(4, "e3"),  # never active
    ]
    assert kinds(people)[Kind.INACTIVE] == [(1, "e3"), (4, "e3")]
    without_p1 = kinds(people, Rules(with_sign_in=False))[Kind.INACTIVE]
    assert without_p1 == [(1, "e3"), (3, "e3"), (4, "e3")]


def test_overlaps_drop_the_covered_licence_and_add_ons_idle_for_a_month() -> None:
    people = [
        person(1, "e3", "bp", "exo", activity=active()),
        person(2, "e3", "cop", activity={**active(), "copilot": TODAY - timedelta(days=30)}),
        person(3, "e3", "tp", activity={"exchange": TODAY}),  # no Teams: Teams Premium idle
        person(4, "e3", "cop", activity=active()),
    ]
    found = kinds(people)
    assert found[Kind.OVERLAP] == [(1, "bp"), (1, "exo")]
    assert found[Kind.IDLE_ADDON] == [(2, "cop"), (3, "tp")]


def test_exclusions_by_product_and_person_and_the_sum() -> None:
    people = [person(1, "e3", "cop", activity=active() | {"copilot": None}), person(2, "e3")]
    rules = Rules(excluded_skus=frozenset({"cop"}), excluded_people=frozenset({"p2@x.example"}))
    overview = find(people, CATALOGUE, rules, NOW)
    assert overview.findings == ()
    assert find(people, CATALOGUE, Rules(), NOW).saving == Decimal(30 + 36)


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.integers(0, 400),
            st.sets(st.sampled_from([p.sku_id for p in CATALOGUE])),
        ),
        max_size=12,
    )
)
def test_no_licence_is_counted_twice_and_the_total_is_the_sum(
    raw: list[tuple[bool, int, set[str]]],
) -> None:
    people = [
        person(i, *sorted(skus), enabled=on, activity=active(days_ago=days))
        for i, (on, days, skus) in enumerate(raw)
    ]
    overview = find(people, CATALOGUE, Rules(), NOW)
    pairs = [(f.person.id, f.product.sku_id) for f in overview.findings]
    assert len(pairs) == len(set(pairs))
    assert overview.saving == sum((f.saving for f in overview.findings), Decimal(0))


def test_the_freed_seat_leaves_the_bill_as_the_nce_rules_allow() -> None:
    assert (
        "next reconciliation (tonight)"
        in seat_return(auto_adjustment=True, reducible_now=1, renewal_on=date(2027, 3, 1)).text
    )
    later = seat_return(auto_adjustment=True, reducible_now=0, renewal_on=date(2027, 3, 1))
    assert "at renewal on" in later.text and not later.now
    assert (
        "Auto license adjustment is off"
        in seat_return(auto_adjustment=False, reducible_now=3, renewal_on=None).text
    )


def test_the_threshold_has_bounds() -> None:
    assert validate_inactive_days(90) == 90
    with pytest.raises(ValueError, match="between 14 and 365"):
        validate_inactive_days(7)
