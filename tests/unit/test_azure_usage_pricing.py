"""Azure usage at the customer's price: cost x (1 + mark-up %), rounded to cents once."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from app.domain.reports import UsageItem, group_usage, price_usage


def _item(cost: str, group: str = "rg-web", meter: str = "D2 v3") -> UsageItem:
    return UsageItem(
        "Production", group, "Virtual Machines", meter, "1 Hour", Decimal(48), Decimal(cost)
    )


def test_a_mark_up_of_17_65_percent_on_a_cost_of_100_shows_117_65() -> None:
    priced = price_usage(_item("100.00"), Decimal("17.65"))
    assert (priced.cost, priced.price, priced.margin) == (
        Decimal("100.00"),
        Decimal("117.65"),
        Decimal("17.65"),
    )


def test_the_price_is_rounded_once_from_the_exact_cost() -> None:
    # the exact cost 0.008 is rounded once, to 0.01
    priced = price_usage(_item("0.008"), Decimal(0))
    assert priced.price == Decimal("0.01")


def test_groups_by_resource_group_and_by_meter_add_up_to_the_same_total() -> None:
    items = [
        _item("10.333333", "rg-web", "D2 v3"),
        _item("5.555555", "rg-web", "Hot LRS"),
        _item("7.777777", "rg-data", "D2 v3"),
    ]
    by_group = group_usage(items, Decimal("12.5"), "resource_group")
    by_meter = group_usage(items, Decimal("12.5"), "meter")
    assert [g.label for g in by_group] == ["rg-web", "rg-data"]  # most expensive first
    assert sum(g.price for g in by_group) == sum(g.price for g in by_meter)
    assert sum(g.cost for g in by_group) == sum(g.cost for g in by_meter)
    web = by_group[0]
    assert (
        web.price
        == price_usage(items[0], Decimal("12.5")).price
        + price_usage(items[1], Decimal("12.5")).price
    )


@given(
    st.lists(st.decimals(min_value=0, max_value=10_000, places=6), min_size=1, max_size=8),
    st.decimals(min_value=0, max_value=100, places=2),
)
def test_every_grouping_adds_up_and_never_prices_below_cost(
    costs: list[Decimal], percent: Decimal
) -> None:
    items = [_item(str(c), f"rg-{i % 3}", f"meter-{i % 2}") for i, c in enumerate(costs)]
    by_group = group_usage(items, percent, "resource_group")
    by_meter = group_usage(items, percent, "meter")
    assert sum(g.price for g in by_group) == sum(g.price for g in by_meter)
    assert all(g.margin >= 0 for g in by_group)
