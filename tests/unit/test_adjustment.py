"""The reconciliation planner of auto license adjustment (app.domain.adjustment)."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.adjustment import (
    IMMEDIATE_KINDS,
    ActionKind,
    Plan,
    apply_plan,
    monthly_bill,
    plan_adjustment,
    renewal_bill,
    renewal_quantity,
)
from app.domain.nce import (
    Status,
    SubscriptionFacts,
    check_cancel,
    check_quantity_change,
    check_schedule_renewal_change,
    check_suspend,
    reducible_now,
)
from tests.unit.domain_builders import NOW, sub


def kinds(plan: Plan) -> list[tuple[str, str, int, int]]:
    """(kind, subscription, from, to) of each changing action."""
    return [(a.kind.value, a.subscription_id, a.from_quantity, a.to_quantity) for a in plan.changes]


def replan_changes(subs: list[SubscriptionFacts], assigned: dict[str, int]) -> Plan:
    """Plan, apply, and plan again: the second plan."""
    plan = plan_adjustment(subs, assigned, NOW)
    return plan_adjustment(apply_plan(subs, plan, NOW), assigned, NOW)


# --- PRODUCT.md anchors -------------------------------------------------------------------------


def test_twelve_seats_with_ten_assigned_within_the_window_become_ten():
    subs = [sub(quantity=12, tranches=[(10, 40), (2, 3)])]

    plan = plan_adjustment(subs, {"E3": 10}, NOW)

    assert kinds(plan) == [("reduce_now", "sub-1", 12, 10)]
    assert plan.saving_now == Decimal("44.00")
    assert replan_changes(subs, {"E3": 10}).is_empty


def test_a_plan_reads_as_json_ready_values():
    plan = plan_adjustment([sub(quantity=12, tranches=[(10, 40), (2, 3)])], {"E3": 10}, NOW)

    data = plan.as_dict()

    assert data["monthly_saving"] == "44.00"
    assert data["actions"] == [
        {
            "subscription": "sub-1",
            "offer": "E3",
            "kind": "reduce_now",
            "from_quantity": 12,
            "to_quantity": 10,
            "when": NOW.isoformat(),
            "reason": "12 seats for 10 assigned: 2 seats returned now, within the 7-day window.",
            "saving": "44.00",
        }
    ]


def test_two_subscriptions_of_five_merge_onto_the_oldest_and_the_newer_is_one_and_suspended():
    subs = [
        sub(id="old", quantity=5, started_days_ago=40),
        sub(id="new", quantity=5, started_days_ago=2),
    ]

    plan = plan_adjustment(subs, {"E3": 10}, NOW)

    assert kinds(plan) == [
        ("merge_increase", "old", 5, 10),
        ("reduce_now", "new", 5, 1),
        ("suspend", "new", 1, 1),
    ]
    assert "turns auto-renew off" in plan.changes[-1].reason
    assert replan_changes(subs, {"E3": 10}).is_empty


def test_a_subscription_with_no_assigned_seats_is_suspended_and_the_auto_renew_consequence_noted():
    plan = plan_adjustment([sub(quantity=5)], {"E3": 0}, NOW)

    assert kinds(plan) == [("suspend", "sub-1", 5, 5)]
    assert "turns auto-renew off" in plan.actions[0].reason


# --- NCE-aware cases ----------------------------------------------------------------------------


def test_excess_outside_the_window_becomes_a_scheduled_reduction_at_renewal():
    subs = [sub(quantity=12)]

    plan = plan_adjustment(subs, {"E3": 10}, NOW)

    (action,) = plan.changes
    assert action.kind is ActionKind.SCHEDULE_REDUCTION
    assert (action.from_quantity, action.to_quantity) == (12, 10)
    assert action.when.date() == subs[0].renewal_on
    assert plan.saving_now == 0
    assert plan.saving_at_renewal == Decimal("44.00")
    assert replan_changes(subs, {"E3": 10}).is_empty


def test_mixed_tranches_return_part_now_and_schedule_the_rest_for_renewal():
    subs = [sub(quantity=15, tranches=[(12, 40), (3, 3)])]

    plan = plan_adjustment(subs, {"E3": 10}, NOW)

    assert kinds(plan) == [("reduce_now", "sub-1", 15, 12), ("schedule_reduction", "sub-1", 12, 10)]
    assert replan_changes(subs, {"E3": 10}).is_empty


def test_excess_that_cannot_be_returned_with_auto_renew_off_is_reported_as_not_saveable():
    plan = plan_adjustment([sub(quantity=12, auto_renew=False)], {"E3": 10}, NOW)

    assert plan.is_empty
    (note,) = plan.notes
    assert note.kind is ActionKind.CANNOT_SAVE
    assert "cannot be saved before the term ends" in note.reason
    assert note.reason.startswith("2 seats")


def test_a_newer_duplicate_with_locked_seats_is_not_merged_so_nothing_is_bought_on_the_oldest():
    subs = [
        sub(id="old", quantity=5, started_days_ago=40),
        sub(id="new", quantity=5, started_days_ago=30),
    ]

    plan = plan_adjustment(subs, {"E3": 10}, NOW)

    assert plan.actions == ()


def test_merging_buys_on_the_oldest_only_what_people_need():
    subs = [
        sub(id="old", quantity=5, started_days_ago=40),
        sub(id="new", quantity=5, started_days_ago=2),
    ]

    plan = plan_adjustment(subs, {"E3": 6}, NOW)

    assert kinds(plan)[0] == ("merge_increase", "old", 5, 6)


def test_trials_pending_renewals_changing_and_suspended_subscriptions_are_left_alone_and_listed():
    subs = [
        sub(id="trial", offer_id="A", quantity=25, is_trial=True, term_duration="P1M"),
        sub(id="renewing", offer_id="B", commitment_end=NOW.date() - timedelta(days=1)),
        sub(id="busy", offer_id="C", quantity=12),
        sub(id="paused", offer_id="D", status=Status.SUSPENDED, auto_renew=False),
        sub(id="gone", offer_id="E", status=Status.DELETED),
    ]
    renewing_at = NOW.replace(hour=3)

    plan = plan_adjustment(
        subs, {"A": 0, "B": 0, "C": 0, "D": 0, "E": 0}, renewing_at, changing={"busy"}
    )

    assert plan.is_empty
    assert [(a.kind, a.subscription_id) for a in plan.actions] == [
        (ActionKind.LEFT_ALONE, "trial"),
        (ActionKind.LEFT_ALONE, "renewing"),
        (ActionKind.LEFT_ALONE, "busy"),
        (ActionKind.LEFT_ALONE, "paused"),
    ]
    assert "Renewal in progress" in plan.actions[1].reason


def test_an_offer_without_an_assigned_count_is_left_alone():
    plan = plan_adjustment([sub(quantity=12, tranches=[(12, 1)])], {}, NOW)

    assert plan.is_empty
    assert "No assigned-seat count" in plan.actions[0].reason


def test_scheduled_changes_to_the_product_are_not_deleted_by_the_plan():
    facts = sub(
        quantity=12, tranches=[(12, 1)], has_scheduled_changes=True, scheduled_other_changes=True
    )

    assert plan_adjustment([facts], {"E3": 10}, NOW).is_empty


def test_an_existing_scheduled_reduction_is_lowered_rather_than_deleted():
    facts = sub(quantity=12, tranches=[(12, 1)], has_scheduled_changes=True, scheduled_quantity=11)

    plan = plan_adjustment([facts], {"E3": 8}, NOW)

    assert kinds(plan) == [("schedule_reduction", "sub-1", 11, 8)]


def test_the_plan_does_not_depend_on_the_order_of_the_subscriptions():
    subs = [
        sub(
            id=f"s{i}",
            offer_id=f"O{i % 3}",
            quantity=4 + i,
            tranches=[(4 + i, i)],
            started_days_ago=i,
        )
        for i in range(9)
    ]
    shuffled = subs[:]
    random.Random(7).shuffle(shuffled)
    assigned = {"O0": 5, "O1": 0, "O2": 30}

    assert plan_adjustment(subs, assigned, NOW) == plan_adjustment(shuffled, assigned, NOW)


# --- properties ---------------------------------------------------------------------------------

OFFERS = ("E3", "BP", "E5")


@st.composite
def customers(draw: st.DrawFn) -> tuple[list[SubscriptionFacts], dict[str, int]]:
    """A customer's subscriptions over a few offers, with the assigned seats per offer."""
    subs = []
    for i in range(draw(st.integers(1, 7))):
        tranches = draw(
            st.lists(st.tuples(st.integers(1, 12), st.floats(0, 20, allow_nan=False)), max_size=3)
        )
        scheduled = draw(st.sampled_from([None, "down", "other"]))
        started = draw(st.floats(0, 300, allow_nan=False))
        quantity = draw(st.integers(0 if tranches else 1, 15)) + sum(q for q, _ in tranches)
        extra: dict[str, object] = {}
        if scheduled == "down":
            extra = {
                "has_scheduled_changes": True,
                "scheduled_quantity": draw(st.integers(1, quantity)),
            }
        elif scheduled == "other":
            extra = {"has_scheduled_changes": True, "scheduled_other_changes": True}
        subs.append(
            sub(
                id=f"s{i}",
                offer_id=draw(st.sampled_from(OFFERS)),
                quantity=quantity,
                tranches=[(q, min(age, started)) for q, age in tranches] or None,
                started_days_ago=started,
                created_days_ago=started + draw(st.integers(0, 700)),
                status=draw(st.sampled_from([Status.ACTIVE] * 6 + [Status.SUSPENDED])),
                is_trial=draw(st.integers(0, 3)) == 0,
                is_nce=draw(st.sampled_from([True, True, True, False])),
                auto_renew=draw(st.booleans()),
                unit_price=draw(st.sampled_from(["22.00", "36.00", "7.8125"])),
                term_duration=draw(st.sampled_from(["P1Y", "P1Y", "P1M"])),
                billing_cycle=draw(st.sampled_from(["monthly", "monthly", "annual"])),
                **extra,
            )
        )
    assigned = {offer: draw(st.integers(0, 40)) for offer in OFFERS if draw(st.integers(0, 9)) > 0}
    return subs, assigned


def usable(subs: list[SubscriptionFacts], offer: str) -> int:
    """Seats people can use now: those of active subscriptions."""
    return sum(f.quantity for f in subs if f.offer_id == offer and f.status is Status.ACTIVE)


@settings(max_examples=200, deadline=None)
@given(customers())
def test_the_plan_never_leaves_fewer_usable_seats_than_assigned(customer):
    subs, assigned = customer

    after = apply_plan(subs, plan_adjustment(subs, assigned, NOW), NOW)

    for offer, count in assigned.items():
        assert usable(after, offer) >= min(count, usable(subs, offer))


@settings(max_examples=200, deadline=None)
@given(customers())
def test_every_planned_change_is_one_the_rules_allow_at_that_moment(customer):
    subs, assigned = customer
    plan = plan_adjustment(subs, assigned, NOW)
    state = {f.id: f for f in subs}

    for action in plan.changes:
        # What a service re-checking the action would pass: the assigned seats of the
        # product that the other active subscriptions of that product do not cover.
        others = sum(
            f.quantity
            for f in state.values()
            if f.offer_id == action.offer_id
            and f.status is Status.ACTIVE
            and f.id != action.subscription_id
        )
        own = max(0, assigned[action.offer_id] - others)
        facts = dataclasses.replace(state[action.subscription_id], assigned=own)
        if action.kind is ActionKind.REDUCE_NOW:
            assert check_quantity_change(facts, action.to_quantity, NOW).allowed
            if facts.is_nce:
                assert facts.quantity - action.to_quantity <= reducible_now(facts, NOW).total
        elif action.kind is ActionKind.MERGE_INCREASE:
            assert check_quantity_change(facts, action.to_quantity, NOW).allowed
        elif action.kind is ActionKind.SUSPEND:
            assert check_suspend(facts, NOW).allowed
        elif action.kind is ActionKind.CANCEL:
            assert check_cancel(facts, NOW).allowed
        else:
            assert action.from_quantity == renewal_quantity(facts)
            assert check_schedule_renewal_change(facts, action.to_quantity, NOW).allowed
        (state[facts.id],) = apply_plan([facts], Plan(NOW, (action,)), NOW)


@settings(max_examples=200, deadline=None)
@given(customers())
def test_the_claimed_saving_equals_the_bill_before_minus_the_bill_after(customer):
    subs, assigned = customer
    plan = plan_adjustment(subs, assigned, NOW)
    immediate = Plan(NOW, tuple(a for a in plan.actions if a.kind in IMMEDIATE_KINDS))

    after_now = apply_plan(subs, immediate, NOW)
    after_all = apply_plan(subs, plan, NOW)

    assert plan.saving_now == monthly_bill(subs) - monthly_bill(after_now)
    assert plan.saving_at_renewal == renewal_bill(after_now) - renewal_bill(after_all)


@settings(max_examples=200, deadline=None)
@given(customers())
def test_planning_again_after_applying_the_plan_changes_nothing(customer):
    subs, assigned = customer

    again = replan_changes(subs, assigned)

    assert again.is_empty, kinds(again)


@settings(max_examples=200, deadline=None)
@given(customers())
def test_scheduled_reductions_keep_renewing_seats_at_or_above_assigned(customer):
    subs, assigned = customer
    plan = plan_adjustment(subs, assigned, NOW)
    after = apply_plan(subs, plan, NOW)

    for offer in {a.offer_id for a in plan.changes if a.kind is ActionKind.SCHEDULE_REDUCTION}:
        renewing = sum(renewal_quantity(f) for f in after if f.offer_id == offer)
        assert renewing >= assigned[offer]


@settings(max_examples=200, deadline=None)
@given(customers())
def test_merges_go_only_onto_a_renewing_subscription_of_the_same_term_and_billing(customer):
    subs, assigned = customer
    by_id = {f.id: f for f in subs}
    plan = plan_adjustment(subs, assigned, NOW)
    for action in plan.actions:
        if action.kind is ActionKind.MERGE_INCREASE:
            assert by_id[action.subscription_id].auto_renew
        if "Merged onto " in action.reason:
            target = by_id[action.reason.split("Merged onto ")[1].split(",")[0]]
            merged = by_id[action.subscription_id]
            assert target.auto_renew and target.status is Status.ACTIVE
            assert (merged.term_duration, merged.billing_cycle) == (
                target.term_duration,
                target.billing_cycle,
            )


@settings(max_examples=200, deadline=None)
@given(customers())
def test_after_every_term_end_the_renewing_seats_still_cover_the_assigned(customer):
    subs, assigned = customer
    after = apply_plan(subs, plan_adjustment(subs, assigned, NOW), NOW)
    for offer, count in assigned.items():
        before = sum(renewal_quantity(f) for f in subs if f.offer_id == offer)
        renewing = sum(renewal_quantity(f) for f in after if f.offer_id == offer)
        assert renewing >= min(count, before)


def test_duplicates_are_not_merged_onto_an_oldest_that_does_not_renew():
    oldest = sub(id="old", quantity=5, started_days_ago=200, auto_renew=False)
    newer = sub(id="new", quantity=5, tranches=[(5, 2)], started_days_ago=2, created_days_ago=2)
    plan = plan_adjustment([oldest, newer], {"E3": 10}, NOW)
    assert not [a for a in plan.actions if a.kind is ActionKind.MERGE_INCREASE]
    assert not [a for a in plan.changes if a.subscription_id == "new"]


def test_monthly_term_seats_are_never_folded_into_an_annual_commitment():
    annual = sub(id="annual", quantity=5, started_days_ago=200)
    monthly = sub(
        id="monthly", quantity=5, tranches=[(5, 2)], started_days_ago=2, term_duration="P1M"
    )
    plan = plan_adjustment([annual, monthly], {"E3": 10}, NOW)
    assert not [a for a in plan.actions if a.kind is ActionKind.MERGE_INCREASE]


def test_an_older_trial_of_the_product_never_leaves_the_paid_one_looking_unused():
    trial = sub(id="trial", offer_id="E3-trial", product="sku-e3", quantity=25, is_trial=True)
    paid = sub(id="paid", offer_id="E3", product="sku-e3", quantity=10, started_days_ago=20)
    plan = plan_adjustment([trial, paid], {"sku-e3": 10}, NOW)
    assert not [a for a in plan.changes if a.subscription_id == "paid"]


def test_an_unused_subscription_inside_its_cancellation_window_is_cancelled_not_suspended():
    young = sub(id="young", quantity=6, started_days_ago=2)
    plan = plan_adjustment([young], {"E3": 0}, NOW)
    assert kinds(plan) == [("cancel", "young", 6, 0)]
    assert plan.saving_now == Decimal("132.00")  # 6 seats at 22.00 a month, refunded


def test_an_unused_subscription_outside_its_window_is_suspended_and_set_to_cancel_at_end():
    old = sub(id="old", quantity=6, started_days_ago=60)
    plan = plan_adjustment([old], {"E3": 0}, NOW)
    assert kinds(plan) == [("suspend", "old", 6, 6)]
    (after,) = apply_plan([old], plan, NOW)
    assert after.status is Status.SUSPENDED and after.cancel_at_end
