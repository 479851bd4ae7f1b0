"""End of term (rule 14): renew, cancel at the end, or the paid extended service term."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain.decision import Code, Verdict
from app.domain.end_of_term import (
    EndOfTerm,
    check_end_of_term,
    describe_end_of_term,
    end_of_term,
    est_unit_price,
)
from tests.unit.domain_builders import NOW, sub


def test_auto_renew_off_without_a_cancel_goes_to_the_extended_service_term() -> None:
    facts = sub(auto_renew=False, commitment_end=date(2026, 12, 11))
    assert end_of_term(facts) is EndOfTerm.EST
    assert describe_end_of_term(facts) == "Goes to monthly extended term on 12 Dec 2026 at +3 %"


def test_cancel_at_the_end_of_term_ends_it() -> None:
    facts = sub(auto_renew=False, cancel_at_end=True, commitment_end=date(2026, 12, 11))
    assert end_of_term(facts) is EndOfTerm.CANCEL
    assert describe_end_of_term(facts) == "Ends 11 Dec 2026"


def test_a_term_outside_the_est_scope_keeps_the_old_end() -> None:
    bought_before = sub(auto_renew=False, started_days_ago=700, commitment_end=date(2026, 12, 11))
    assert end_of_term(bought_before) is EndOfTerm.CANCEL  # bought before 2025-04-01
    ended_before = sub(auto_renew=False, started_days_ago=400, commitment_end=date(2026, 5, 3))
    assert end_of_term(ended_before) is EndOfTerm.CANCEL  # ends before 2026-05-04


def test_renewal_names_the_day_and_the_seats_scheduled() -> None:
    facts = sub(quantity=12, has_scheduled_changes=True, scheduled_quantity=30)
    assert end_of_term(facts) is EndOfTerm.RENEW
    assert describe_end_of_term(facts).endswith("with 30 seats")


def test_est_price_is_the_monthly_term_price_plus_3_or_plus_23_without_one() -> None:
    annual = sub(unit_price="10.00", term_duration="P1Y")
    assert est_unit_price(annual) == Decimal("12.36")  # monthly term ~ +20 %, then +3 %
    known = sub(unit_price="10.00", monthly_term_price=Decimal("12.50"))
    assert est_unit_price(known) == Decimal("12.88")
    no_monthly = sub(unit_price="10.00", has_monthly_term=False)
    assert est_unit_price(no_monthly) == Decimal("12.30")


def test_choosing_cancel_or_est_warns_that_scheduled_changes_are_deleted() -> None:
    facts = sub(has_scheduled_changes=True, scheduled_quantity=5)
    for choice in (EndOfTerm.CANCEL, EndOfTerm.EST):
        decision = check_end_of_term(facts, choice, NOW)
        assert decision.allowed
        assert any("scheduled" in w.lower() for w in decision.warnings)
    assert "cannot be reactivated" in check_end_of_term(facts, EndOfTerm.CANCEL, NOW).reason


def test_est_is_refused_outside_its_scope_and_for_trials() -> None:
    old = sub(started_days_ago=700, commitment_end=date(2026, 12, 11))
    assert check_end_of_term(old, EndOfTerm.EST, NOW).code is Code.EST_NOT_IN_SCOPE
    trial = sub(is_trial=True)
    assert check_end_of_term(trial, EndOfTerm.EST, NOW).verdict is Verdict.REFUSED


def test_the_current_choice_is_no_change() -> None:
    assert check_end_of_term(sub(), EndOfTerm.RENEW, NOW).code is Code.NO_CHANGE


@given(
    price=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2),
    monthly=st.booleans(),
)
def test_est_never_costs_less_than_the_term_it_extends(price: Decimal, monthly: bool) -> None:
    facts = sub(unit_price=str(price), has_monthly_term=monthly)
    assert est_unit_price(facts) >= price


def test_a_refused_cancel_points_to_cancel_at_end_not_to_auto_renew_off_in_est_scope() -> None:
    from app.domain.nce import check_cancel

    renewing = sub(started_days_ago=40)
    assert "cancel at the end of the term" in check_cancel(renewing, NOW).reason
    heading_into_est = sub(started_days_ago=40, auto_renew=False)
    reason = check_cancel(heading_into_est, NOW).reason
    assert "extended service term" in reason and "cancel at the end of the term" in reason
    old = sub(started_days_ago=700, commitment_end=date(2026, 12, 11))
    assert "Turn auto-renew off and it ends on 11 Dec 2026" in check_cancel(old, NOW).reason
