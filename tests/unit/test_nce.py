"""The New Commerce rules of one subscription (app.domain.nce)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.nce import (
    Code,
    RuleViolation,
    Status,
    SubscriptionFacts,
    Tranche,
    Verdict,
    cancellation_refund,
    check_auto_renew,
    check_cancel,
    check_quantity_change,
    check_remove_scheduled_changes,
    check_resume,
    check_schedule_renewal_change,
    check_suspend,
    check_trial_conversion,
    describe_reducible,
    format_when,
    is_renewal_pending,
    next_change,
    quantity_limits,
    reducible_now,
    reducible_total,
    renewal_date,
)
from tests.unit.domain_builders import NOW, days_ago, sub

# --- PRODUCT.md / issue 5 anchors ---


def test_twelve_seats_with_two_added_three_days_ago_and_ten_assigned_can_reduce_by_two_now():
    facts = sub(quantity=12, tranches=[(10, 40), (2, 3)], assigned=10)

    decision = check_quantity_change(facts, 10, NOW)

    assert decision.verdict is Verdict.ALLOWED
    assert decision.lowest_quantity_now == 10
    assert decision.deadline == days_ago(3) + timedelta(days=7)
    assert reducible_now(facts, NOW).total == 2


def test_twelve_seats_added_twenty_days_ago_can_be_reduced_only_at_renewal():
    facts = sub(quantity=12, started_days_ago=20, assigned=10)

    decision = check_quantity_change(facts, 10, NOW)

    assert decision.verdict is Verdict.AT_RENEWAL_ONLY
    assert decision.code is Code.OUTSIDE_WINDOW
    assert decision.renewal_on == renewal_date(facts)
    assert "No seats can be reduced now" in decision.reason
    assert "scheduled at renewal" in decision.reason


def test_a_trial_refuses_quantity_changes():
    facts = sub(quantity=25, is_trial=True, term_duration="P1M")

    assert check_quantity_change(facts, 26, NOW).code is Code.TRIAL
    assert check_quantity_change(facts, 24, NOW).verdict is Verdict.REFUSED


def test_cancellation_is_refused_on_day_eight_of_the_term():
    facts = sub(started_days_ago=7.5)

    decision = check_cancel(facts, NOW)

    assert decision.verdict is Verdict.REFUSED
    assert decision.code is Code.OUTSIDE_WINDOW
    assert "within 7 days" in decision.reason


# --- quantity changes ---


def test_decrease_outside_window_is_refused_with_renewal_offer_naming_both_dates():
    facts = sub(
        quantity=10,
        tranches=[(8, 320), (2, 0)],
        started_days_ago=320,
        commitment_end=date(2026, 12, 31),
    )

    decision = check_quantity_change(facts, 5, NOW)

    assert decision.verdict is Verdict.AT_RENEWAL_ONLY
    assert decision.reason == (
        "Only 2 seats can be reduced now, until 24 Nov 2026 14:00 UTC; "
        "the other 3 can be reduced at renewal on 1 Jan 2027."
    )
    assert decision.lowest_quantity_now == 8


def test_decrease_outside_window_with_auto_renew_off_is_refused_and_says_how_to_schedule():
    facts = sub(quantity=12, auto_renew=False)

    decision = check_quantity_change(facts, 10, NOW)

    assert decision.verdict is Verdict.REFUSED
    assert "turn auto-renew on" in decision.reason


def test_increase_is_allowed_any_time_on_an_active_subscription():
    facts = sub(quantity=12, started_days_ago=200)

    assert check_quantity_change(facts, 40, NOW).verdict is Verdict.ALLOWED


def test_unchanged_quantity_is_refused_as_no_change():
    assert check_quantity_change(sub(quantity=5), 5, NOW).code is Code.NO_CHANGE


def test_decrease_below_assigned_seats_asks_to_unassign_people_first():
    facts = sub(quantity=12, tranches=[(12, 1)], assigned=11)

    decision = check_quantity_change(facts, 10, NOW)

    assert decision.code is Code.BELOW_ASSIGNED
    assert "unassign people first" in decision.reason


def test_decrease_to_zero_is_refused_even_inside_the_window():
    facts = sub(quantity=3, tranches=[(3, 1)])

    assert check_quantity_change(facts, 0, NOW).code is Code.BELOW_MINIMUM
    assert check_quantity_change(facts, 1, NOW).allowed


def test_quantity_change_warns_that_it_deletes_the_scheduled_changes():
    facts = sub(quantity=10, has_scheduled_changes=True, scheduled_quantity=8)

    decision = check_quantity_change(facts, 11, NOW)

    assert decision.allowed
    assert any("deletes the changes scheduled" in w for w in decision.warnings)


def test_renewal_in_progress_refuses_changes_and_says_to_retry_in_a_few_minutes():
    facts = sub(commitment_end=NOW.date() - timedelta(days=1))
    at = datetime.combine(NOW.date(), datetime.min.time(), UTC) + timedelta(hours=3)

    decision = check_quantity_change(facts, 11, at)

    assert is_renewal_pending(facts, at)
    assert decision.code is Code.RENEWAL_PENDING
    assert "try again in a few minutes" in decision.reason.lower()
    assert decision.retry_after == timedelta(minutes=2)


def test_renewal_is_not_pending_after_twenty_four_hours_or_with_auto_renew_off():
    facts = sub(commitment_end=NOW.date() - timedelta(days=2))

    assert not is_renewal_pending(facts, NOW)
    assert check_quantity_change(facts, 11, NOW).code is Code.TERM_ENDED
    off = sub(commitment_end=NOW.date() - timedelta(days=1), auto_renew=False)
    assert not is_renewal_pending(off, NOW)


def test_update_count_near_the_cap_warns_and_at_the_cap_refuses():
    assert any(
        "1,050 updates" in w
        for w in check_quantity_change(sub(update_count=1050), 11, NOW).warnings
    )
    assert check_quantity_change(sub(update_count=1200), 11, NOW).code is Code.UPDATE_CAP


def test_suspended_subscription_must_be_resumed_before_changing_quantity():
    decision = check_quantity_change(sub(status=Status.SUSPENDED), 11, NOW)

    assert decision.code is Code.NOT_ACTIVE
    assert "resume it first" in decision.reason


def test_legacy_subscription_can_be_reduced_any_time_down_to_the_floor():
    facts = sub(quantity=12, is_nce=False, assigned=4)

    assert check_quantity_change(facts, 4, NOW).allowed
    assert check_quantity_change(facts, 3, NOW).code is Code.BELOW_ASSIGNED


def test_decrease_deadline_is_the_latest_one_that_still_covers_the_reduction():
    facts = sub(quantity=10, tranches=[(7, 100), (2, 5), (1, 1)], started_days_ago=100)

    assert check_quantity_change(facts, 9, NOW).deadline == days_ago(1) + timedelta(days=7)
    assert check_quantity_change(facts, 7, NOW).deadline == days_ago(5) + timedelta(days=7)


def test_require_raises_rule_violation_carrying_the_decision():
    decision = check_quantity_change(sub(quantity=12), 10, NOW)

    with pytest.raises(RuleViolation) as raised:
        decision.require()
    assert raised.value.decision is decision


def test_page_sentence_says_how_many_seats_can_be_reduced_and_until_when():
    facts = sub(quantity=12, tranches=[(10, 40), (2, 3)], assigned=10)
    locked = sub(quantity=12, assigned=10)

    assert (
        describe_reducible(facts, NOW) == "2 seats can be reduced now, until 21 Nov 2026 14:00 UTC."
    )
    assert describe_reducible(locked, NOW).startswith("No seats can be reduced now; a reduction")


# --- scheduled changes ---


def test_scheduling_a_renewal_quantity_needs_auto_renew_on():
    assert check_schedule_renewal_change(sub(auto_renew=False), 5, NOW).code is Code.AUTO_RENEW_OFF
    assert check_schedule_renewal_change(sub(), 5, NOW).allowed


def test_scheduling_below_assigned_seats_is_refused():
    assert check_schedule_renewal_change(sub(assigned=6), 5, NOW).code is Code.BELOW_ASSIGNED


def test_scheduling_the_quantity_it_already_renews_with_is_no_change():
    facts = sub(quantity=10, has_scheduled_changes=True, scheduled_quantity=7)

    assert check_schedule_renewal_change(facts, 7, NOW).code is Code.NO_CHANGE
    replaced = check_schedule_renewal_change(facts, 10, NOW)
    assert replaced.allowed
    assert "replaces the scheduled quantity of 7 seats" in replaced.warnings[0]


def test_scheduled_changes_exist_only_for_new_commerce_subscriptions():
    assert check_schedule_renewal_change(sub(is_nce=False), 5, NOW).code is Code.NOT_NCE


def test_removing_scheduled_changes_needs_some_to_exist():
    assert check_remove_scheduled_changes(sub(), NOW).code is Code.NO_SCHEDULED_CHANGES
    assert check_remove_scheduled_changes(sub(has_scheduled_changes=True), NOW).allowed


# --- cancel, suspend, resume, auto-renew ---


def test_cancellation_within_seven_days_refunds_the_unused_days_of_the_first_month():
    facts = sub(quantity=10, started_days_ago=2, unit_price="30.00", billing_cycle="monthly")

    decision = check_cancel(facts, NOW)

    assert decision.allowed
    # Term started 15 Nov 2026: period 15 Nov .. 14 Dec (30 days); cancelled 17 Nov -> 27 unused.
    assert decision.refund == Decimal("270.00")
    assert decision.deadline == days_ago(2) + timedelta(days=7)


def test_cancellation_of_an_annual_upfront_subscription_refunds_most_of_the_year():
    facts = sub(quantity=1, started_days_ago=0, unit_price="10.00", billing_cycle="annual")

    refund = cancellation_refund(facts, NOW)

    assert Decimal("119") < refund < Decimal("120.00")


def test_legacy_subscription_can_be_cancelled_any_time():
    assert check_cancel(sub(is_nce=False, started_days_ago=200), NOW).allowed


def test_a_trial_cannot_be_cancelled_but_auto_renew_off_ends_it():
    trial = sub(quantity=25, is_trial=True, term_duration="P1M", started_days_ago=2)

    assert check_cancel(trial, NOW).code is Code.TRIAL
    off = check_auto_renew(trial, False, NOW)
    assert off.allowed
    assert "without converting" in off.reason


def test_suspending_warns_that_auto_renew_goes_off_and_billing_continues():
    decision = check_suspend(sub(assigned=3, has_scheduled_changes=True), NOW)

    assert decision.allowed
    text = " ".join(decision.warnings)
    assert "turns auto-renew off" in text
    assert "still billed" in text
    assert "3 people lose access" in text
    assert "deletes the changes scheduled" in text


def test_resume_says_it_does_not_turn_auto_renew_back_on():
    decision = check_resume(sub(status=Status.SUSPENDED, auto_renew=False), NOW)

    assert decision.allowed
    assert "does not turn auto-renew back on" in decision.warnings[0]
    assert check_resume(sub(), NOW).code is Code.NOT_SUSPENDED


def test_turning_auto_renew_off_warns_that_scheduled_changes_are_deleted():
    decision = check_auto_renew(sub(has_scheduled_changes=True, scheduled_quantity=3), False, NOW)

    assert decision.allowed
    assert "deletes the changes scheduled for renewal (3 seats at renewal)" in decision.warnings[0]
    assert check_auto_renew(sub(), True, NOW).code is Code.NO_CHANGE


# --- trials ---


def test_trial_conversion_needs_twenty_five_seats_and_a_target_that_does_not_end_earlier():
    trial = sub(quantity=25, is_trial=True, term_duration="P1M", commitment_end=date(2026, 12, 10))
    early = sub(commitment_end=date(2026, 12, 1))
    later = sub(commitment_end=date(2027, 6, 1))

    assert check_trial_conversion(trial, 24, NOW).code is Code.TRIAL_MINIMUM
    assert check_trial_conversion(trial, 25, NOW).allowed
    assert check_trial_conversion(trial, 30, NOW, target=early).code is Code.TARGET_ENDS_EARLIER
    assert check_trial_conversion(trial, 30, NOW, target=later).allowed
    assert check_trial_conversion(sub(), 30, NOW).code is Code.NOT_TRIAL


def test_trial_conversion_at_the_end_of_the_trial_needs_auto_renew():
    trial = sub(quantity=25, is_trial=True, term_duration="P1M", commitment_end=date(2026, 12, 10))

    scheduled = check_trial_conversion(trial, 25, NOW, at_trial_end=True)
    assert scheduled.allowed
    assert scheduled.renewal_on == date(2026, 12, 11)
    off = sub(quantity=25, is_trial=True, auto_renew=False, commitment_end=date(2026, 12, 10))
    assert check_trial_conversion(off, 25, NOW, at_trial_end=True).code is Code.AUTO_RENEW_OFF


def test_a_conversion_at_the_end_of_the_trial_may_choose_fewer_than_twenty_five_seats():
    trial = sub(quantity=25, is_trial=True, term_duration="P1M", commitment_end=date(2026, 12, 10))

    assert check_trial_conversion(trial, 3, NOW).code is Code.TRIAL_MINIMUM
    scheduled = check_trial_conversion(trial, 3, NOW, at_trial_end=True)
    assert scheduled.allowed
    assert "3 seats" in scheduled.reason
    assert check_trial_conversion(trial, 0, NOW, at_trial_end=True).code is Code.BELOW_MINIMUM


# --- facts validation ---


def test_facts_refuse_tranches_holding_more_seats_than_the_subscription():
    with pytest.raises(ValueError, match="tranches"):
        SubscriptionFacts(
            id="s",
            offer_id="o",
            quantity=1,
            term_start=NOW,
            commitment_end=NOW.date(),
            created_at=NOW,
            tranches=(Tranche(2, NOW),),
        )


def test_facts_refuse_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        Tranche(1, datetime(2026, 1, 1))


def test_tranche_from_partner_centers_refundable_detail_keeps_the_deadline():
    until = NOW + timedelta(days=2)

    assert Tranche.from_allowed_until(3, until).allowed_until == until
    assert format_when(until) == "19 Nov 2026 14:00 UTC"


# --- properties ---

tranche_lists = st.lists(
    st.tuples(st.integers(1, 20), st.floats(0, 30, allow_nan=False)), max_size=5
)


@st.composite
def active_subscriptions(draw: st.DrawFn) -> SubscriptionFacts:
    """Active NCE subscriptions mid-term, with random tranches, assignments and auto-renew."""
    tranches = draw(tranche_lists)
    base = draw(st.integers(0 if tranches else 1, 30))
    quantity = base + sum(q for q, _ in tranches)
    return sub(
        quantity=quantity,
        tranches=tranches,
        started_days_ago=31,
        assigned=draw(st.integers(0, quantity + 2)),
        auto_renew=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(active_subscriptions())
def test_reducible_seats_never_exceed_quantity_and_equal_the_open_tranches(facts):
    reducible = reducible_now(facts, NOW)

    assert reducible.total <= facts.quantity
    assert reducible.total == sum(t.quantity for t in facts.tranches if t.allowed_until > NOW)
    assert reducible.total == reducible_total(facts, NOW)
    assert [d for _, d in reducible.details] == sorted(d for _, d in reducible.details)


@settings(max_examples=150, deadline=None)
@given(active_subscriptions(), st.data())
def test_a_decrease_is_allowed_exactly_within_reducible_seats_and_the_floor(facts, data):
    new = data.draw(st.integers(0, facts.quantity - 1)) if facts.quantity > 0 else 0
    reducible = reducible_now(facts, NOW).total
    floor = max(1, facts.assigned)

    decision = check_quantity_change(facts, new, NOW)

    expected = new >= floor and facts.quantity - new <= reducible
    assert decision.allowed == expected
    at_renewal = not expected and new >= floor and facts.auto_renew
    assert (decision.verdict is Verdict.AT_RENEWAL_ONLY) == at_renewal
    if at_renewal:
        assert check_schedule_renewal_change(facts, new, NOW).allowed
    limits = quantity_limits(facts, NOW)
    assert decision.allowed == (limits.lowest_now <= new < facts.quantity)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 500),
    st.floats(0, 6.99, allow_nan=False),
    st.sampled_from(["P1M", "P1Y", "P3Y"]),
    st.sampled_from(["monthly", "annual", "triennial", "none"]),
    st.decimals(min_value=0, max_value=500, places=2),
)
def test_a_cancellation_refund_lies_between_nothing_and_what_was_charged(
    quantity, started, term, cycle, price
):
    facts = sub(
        quantity=quantity,
        started_days_ago=started,
        term_duration=term,
        billing_cycle=cycle,
        unit_price=str(price),
    )
    months = {"P1M": 1, "P1Y": 12, "P3Y": 36}[term]
    if cycle == "monthly":
        months = 1
    elif cycle == "annual":
        months = min(12, months)

    decision = check_cancel(facts, NOW)

    assert decision.allowed
    assert decision.refund is not None
    assert Decimal(0) <= decision.refund <= price * quantity * months


@settings(max_examples=300, deadline=None)
@given(active_subscriptions(), st.data())
def test_what_the_license_row_shows_holds_until_next_change(facts, data):
    """The page keeps rendered rows until `next_change`: nothing they show may differ before."""
    start = NOW + timedelta(hours=data.draw(st.integers(-24 * 40, 24 * 400)))
    until = next_change(facts, start) or start + timedelta(days=800)
    assert until > start
    later = start + (until - start) * data.draw(st.floats(0, 0.999999))

    def shown(now: datetime) -> tuple[object, ...]:
        limits = quantity_limits(facts, now)
        return (
            describe_reducible(facts, now, limits),
            limits.can_increase,
            limits.lowest_now,
            limits.lowest_at_renewal,
            is_renewal_pending(facts, now),
        )

    assert shown(later) == shown(start)


def test_next_change_is_the_nearest_closing_window_or_term_end():
    facts = sub(quantity=5, tranches=[(2, 2)], started_days_ago=31)  # 2 seats added 2 days ago
    assert next_change(facts, NOW) == days_ago(2) + timedelta(days=7)
    after = days_ago(2) + timedelta(days=7)
    assert next_change(facts, after) == datetime.combine(facts.renewal_on, datetime.min.time(), UTC)
