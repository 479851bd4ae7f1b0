"""The storefront's pure rules: what a price is for, the customer's price, totals, the
commitment in words, and the checks before checkout."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain import storefront as rules
from app.domain.decision import Code

USD = "USD"


def option(term: str, billing: str, amount: str) -> rules.PriceOption:
    return rules.PriceOption(term, billing, rules.Money(Decimal(amount), USD))


BP_OPTIONS = (
    option("P1M", "monthly", "26.40"),
    option("P1Y", "monthly", "23.10"),
    option("P1Y", "annual", "22.00"),
    option("P3Y", "monthly", "23.10"),
    option("P3Y", "annual", "22.00"),
)


def test_a_price_names_its_term_billing_and_the_monthly_billing_uplift() -> None:
    assert rules.describe_option("P1Y", "monthly") == "annual term, billed monthly (+5 %)"
    assert rules.describe_option("P3Y", "monthly") == "three-year term, billed monthly (+5 %)"
    assert rules.describe_option("P1Y", "annual") == "annual term, paid upfront yearly"
    assert rules.describe_option("P1M", "monthly").startswith("monthly term, billed monthly")
    assert rules.billing_uplift_percent("P1Y", "monthly", on=date(2025, 3, 31)) == 0
    assert rules.billing_uplift_percent("P1Y", "monthly", on=date(2025, 4, 1)) == 5


def test_margin_and_fixed_prices_keep_microsofts_proportions() -> None:
    marked = rules.customer_options(BP_OPTIONS, rules.Pricing(margin_percent=Decimal(10)))
    assert [o.monthly.amount for o in marked] == [
        Decimal("29.04"),
        Decimal("25.41"),
        Decimal("24.20"),
        Decimal("25.41"),
        Decimal("24.20"),
    ]
    fixed = rules.customer_options(BP_OPTIONS, rules.Pricing(fixed_monthly=Decimal(20)))
    by_key = {o.key: o.monthly.amount for o in fixed}
    assert by_key["P1Y/annual"] == Decimal("20.00")
    assert by_key["P1Y/monthly"] == Decimal("21.00")  # the +5 % stays
    assert all(o.monthly.currency == USD for o in fixed)


@given(
    st.integers(min_value=1, max_value=100_000),
    st.sampled_from(BP_OPTIONS),
)
def test_totals_are_seats_times_price_per_month_and_times_the_months_of_the_term(
    quantity: int, chosen: rules.PriceOption
) -> None:
    totals = rules.line_totals(chosen, quantity)
    assert totals.per_month.amount == chosen.monthly.amount * quantity
    assert (
        totals.per_term.amount
        == totals.per_month.amount * {"P1M": 1, "P1Y": 12, "P3Y": 36}[chosen.term]
    )
    assert totals.per_month.currency == USD


def test_the_commitment_says_the_window_the_cancellation_and_the_end_of_the_term() -> None:
    now = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    text = rules.commitment_text("P1Y", "monthly", now)
    assert text.startswith(
        "Annual term: seats can be reduced only within 7 days of purchase "
        "(until 3 Dec 2026 14:00 UTC); cancellable until 3 Dec 2026 14:00 UTC."
    )
    assert "The term ends on 25 Nov 2027" in text
    assert "ends on 25 Dec 2026" in rules.commitment_text("P1M", "monthly", now)


def facts(offer_id: str, **extra: object) -> rules.OfferFacts:
    return rules.OfferFacts(offer_id, offer_id.title(), BP_OPTIONS, **extra)  # type: ignore[arg-type]


OFFERS = {
    "base": facts("base"),
    "copilot": facts("copilot", addon="copilot"),
    "geo": facts("geo", addon="multigeo", prerequisites=frozenset({"base"})),
    "once": facts("once", one_per_customer=True),
    "small": facts("small", min_quantity=5, max_quantity=10),
}


def line(offer: str, quantity: int, term: str = "P1Y", billing: str = "monthly") -> rules.Line:
    return rules.Line(offer, quantity, term, billing)


def holding(base: int, copilot: int = 0, *held: str) -> rules.Holdings:
    return rules.Holdings(
        subscriptions=(rules.Held("base", base), *(rules.Held(h, 1) for h in held)),
        copilot=(copilot, base),
        copilot_base_offers=frozenset({"base"}),
    )


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=5000))
def test_copilot_fits_exactly_the_base_seats_held_and_in_the_cart(held: int, in_cart: int) -> None:
    others = [line("base", in_cart)] if in_cart else []
    most = held + in_cart
    if most:
        assert rules.check_line(line("copilot", most), OFFERS, holding(held), others).allowed
    over = rules.check_line(line("copilot", most + 1), OFFERS, holding(held), others)
    assert over.code is Code.ADDON_LIMIT


@given(st.integers(min_value=1, max_value=100_000))
def test_multi_geo_needs_five_percent_of_the_base_rounded_up(base: int) -> None:
    least = -(-base * 5 // 100)
    assert rules.check_line(line("geo", least), OFFERS, holding(base)).allowed
    if least > 1:
        refused = rules.check_line(line("geo", least - 1), OFFERS, holding(base))
        assert refused.code is Code.ADDON_MINIMUM


def test_one_per_customer_offers_profile_limits_and_unknown_offers_are_refused() -> None:
    assert rules.check_line(line("once", 1), OFFERS, holding(1)).allowed
    assert not rules.check_line(line("once", 1), OFFERS, holding(1, 0, "once")).allowed
    assert not rules.check_cart([line("once", 1), line("once", 2)], OFFERS, holding(1)).allowed
    assert rules.check_line(line("small", 4), OFFERS, holding(1)).code is Code.BELOW_MINIMUM
    assert "up to 10 seats" in rules.check_line(line("small", 11), OFFERS, holding(1)).reason
    assert rules.check_line(line("small", 5), OFFERS, holding(1)).allowed
    assert not rules.check_line(line("nope", 1), OFFERS, holding(1)).allowed
    assert not rules.check_line(line("base", 1, "P1M", "annual"), OFFERS, holding(1)).allowed
    assert not rules.check_cart([], OFFERS, holding(1)).allowed


def test_a_copilot_refusal_says_how_many_more_seats_fit_when_some_are_held() -> None:
    refused = rules.check_line(line("copilot", 30), OFFERS, holding(22, 5))
    assert not refused.allowed
    assert refused.reason.endswith(
        "The company already has 5 seats of Microsoft 365 Copilot: at most 17 more."
    )
    assert rules.check_line(line("copilot", 17), OFFERS, holding(22, 5)).allowed


def test_a_co_termed_first_term_costs_its_days_of_the_whole_term() -> None:
    option = rules.PriceOption("P1Y", "monthly", rules.Money(Decimal("23.10"), "USD"))
    totals = rules.line_totals(option, 5)  # 115.50 a month, 1,386.00 a year
    # 26 Nov 2026 to 31 Mar 2027 inclusive: 5 + 31 + 31 + 28 + 31 = 126 of 365 days.
    days, cost = rules.first_term_cost(totals, date(2026, 11, 26), date(2027, 3, 31), "P1Y")
    assert (days, cost) == (126, rules.Money(Decimal("478.45"), "USD"))
    whole = rules.first_term_cost(totals, date(2026, 11, 26), date(2027, 11, 25), "P1Y")
    assert whole == (365, totals.per_term)
