"""Add-on limits (app.domain.addons) and upgrades (app.domain.upgrades)."""

from __future__ import annotations

import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.addons import (
    check_copilot_seats,
    check_multi_geo_seats,
    check_one_per_customer,
    multi_geo_minimum,
)
from app.domain.nce import Code, Status, Verdict
from app.domain.upgrades import UpgradeTable, check_upgrade, upgrade_targets
from tests.unit.domain_builders import NOW, sub

# --- add-ons ------------------------------------------------------------------------------------


def test_copilot_seats_may_not_exceed_the_base_license_seats():
    assert check_copilot_seats(10, base_held=10).allowed
    refused = check_copilot_seats(11, base_held=10)
    assert refused.code is Code.ADDON_LIMIT
    assert "at most 10 seats" in refused.reason


def test_base_seats_in_the_same_cart_count_for_copilot():
    assert check_copilot_seats(15, base_held=10, base_in_cart=5).allowed


def test_multi_geo_needs_five_percent_of_base_seats_rounded_up():
    assert multi_geo_minimum(100) == 5
    assert multi_geo_minimum(101) == 6
    assert multi_geo_minimum(0) == 0
    assert check_multi_geo_seats(6, base_held=101).allowed
    assert check_multi_geo_seats(5, base_held=101).code is Code.ADDON_MINIMUM


def test_a_one_per_customer_offer_is_refused_when_held_or_already_in_the_cart():
    rule = {"one_per_customer": {"X"}}

    assert check_one_per_customer("X", held_offer_ids=set(), **rule).allowed
    assert check_one_per_customer("X", held_offer_ids={"X"}, **rule).code is Code.ONE_PER_CUSTOMER
    assert not check_one_per_customer("X", held_offer_ids=(), cart_offer_ids=["X"], **rule).allowed
    assert check_one_per_customer("Y", held_offer_ids={"Y"}, **rule).allowed


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 100_000), st.integers(0, 100_000))
def test_multi_geo_minimum_is_the_ceiling_of_five_percent(base, geo):
    least = multi_geo_minimum(base)

    assert least == math.ceil(base * 5 / 100)
    assert check_multi_geo_seats(geo, base).allowed == (geo * 100 >= base * 5)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
def test_copilot_is_allowed_exactly_up_to_held_plus_cart_base_seats(copilot, held, cart):
    assert check_copilot_seats(copilot, held, cart).allowed == (copilot <= held + cart)


# --- upgrades -----------------------------------------------------------------------------------

BP, E3, E5, EMS3, EMS5 = "BP", "E3", "E5", "EMS3", "EMS5"
TABLE = UpgradeTable(
    rank={BP: 1, E3: 2, E5: 3, EMS3: 2, EMS5: 3},
    unsupported={(EMS3, EMS5)},
    names={E3: "Microsoft 365 E3", E5: "Microsoft 365 E5", EMS3: "EMS E3", EMS5: "EMS E5"},
)


def e3(**overrides):
    """An E3 subscription past its cancellation window."""
    return sub(offer_id=E3, quantity=10, **overrides)


def test_a_full_upgrade_moves_every_seat_and_keeps_the_subscription_id():
    decision = check_upgrade(e3(), E5, 10, NOW, TABLE)

    assert decision.allowed
    assert "keeps its id" in decision.reason
    assert any("cannot be undone" in w for w in decision.warnings)


def test_a_partial_upgrade_creates_a_co_terminous_subscription():
    decision = check_upgrade(e3(), E5, 4, NOW, TABLE)

    assert decision.allowed
    assert "new subscription ending with this one" in decision.reason
    assert "6 seats stay" in decision.reason


def test_upgrades_only_go_up():
    assert check_upgrade(e3(), BP, 10, NOW, TABLE).code is Code.NOT_AN_UPGRADE


def test_ems_e3_to_ems_e5_is_refused_as_an_unsupported_path():
    decision = check_upgrade(sub(offer_id=EMS3), EMS5, 10, NOW, TABLE)

    assert decision.code is Code.UNSUPPORTED_PATH
    assert "does not support upgrading EMS E3 to EMS E5" in decision.reason


def test_only_active_subscriptions_upgrade():
    decision = check_upgrade(e3(status=Status.SUSPENDED), E5, 10, NOW, TABLE)

    assert decision.code is Code.NOT_ACTIVE
    assert decision.reason.startswith("Only active subscriptions can be upgraded.")


def test_an_upgrade_inside_the_cancellation_window_is_refused_but_can_be_scheduled():
    fresh = e3(started_days_ago=2)

    assert check_upgrade(fresh, E5, 10, NOW, TABLE).verdict is Verdict.REFUSED
    scheduled = check_upgrade(fresh, E5, 10, NOW, TABLE, at_renewal=True)
    assert scheduled.allowed
    assert scheduled.renewal_on == fresh.renewal_on


def test_an_upgrade_into_a_subscription_that_ends_earlier_is_refused():
    earlier = sub(id="t", offer_id=E5, commitment_end=date(2027, 3, 1))
    later = sub(id="t", offer_id=E5, started_days_ago=10)

    assert check_upgrade(e3(), E5, 4, NOW, TABLE, target=earlier).code is Code.TARGET_ENDS_EARLIER
    assert check_upgrade(e3(), E5, 4, NOW, TABLE, target=later).allowed


def test_an_upgrade_to_a_shorter_term_is_refused():
    assert check_upgrade(e3(), E5, 10, NOW, TABLE, to_term="P1M").code is Code.NOT_AN_UPGRADE


def test_upgrade_targets_list_only_supported_higher_offers():
    assert upgrade_targets(TABLE, BP) == [E3, EMS3, E5, EMS5]
    assert upgrade_targets(TABLE, EMS3) == [E5]
    restricted = UpgradeTable(rank=TABLE.rank, paths={BP: {E3}})
    assert upgrade_targets(restricted, BP) == [E3]
