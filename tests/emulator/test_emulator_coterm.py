"""Custom term end dates (custom-term-end-dates.md; create-a-cart.md's customTermEndDate):
the allowed dates of a new subscription, and a cart line that co-terms with one of them.
The clock is frozen at 2025-03-10; the scenario's sub-1 (annual) ends on 2026-01-28."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulator import catalogue
from tests.emulator.helpers import BP, Api, northwind

Load = Callable[[dict[str, Any]], dict[str, Any]]
CUSTOMER = "/v1/customers/cust-1"
DATES = f"{CUSTOMER}/subscriptions/customTermEndDates"


def item(key: str) -> str:
    offer = catalogue.offer(key)
    assert offer is not None
    return offer.catalog_item_id


def allowed(pc: Api, query: str) -> list[tuple[str, str, list[str]]]:
    """(date, type, subscription ids) of each item, in the shape of the page's example."""
    answer = pc.get(f"{DATES}?{query}")
    assert answer.status_code == 200, answer.get_json()
    items = answer.get_json()["items"]
    for i in items:
        expected = {"allowedCustomTermEndDate", "allowedCustomTermEndDateType"}
        if i["allowedCustomTermEndDateType"] == "subscriptionAligned":
            expected.add("cotermSubscriptionIds")
        assert set(i) == expected, i
    return [
        (
            i["allowedCustomTermEndDate"],
            i["allowedCustomTermEndDateType"],
            i.get("cotermSubscriptionIds", []),
        )
        for i in items
    ]


def test_the_allowed_end_dates_are_the_month_end_and_subscriptions_ending_within_the_term(
    load: Load, pc: Api
) -> None:
    load(northwind())
    assert allowed(pc, "term_duration=P1Y") == [
        ("2026-02-28T00:00:00Z", "calendarMonthAligned", []),
        ("2026-01-28T00:00:00Z", "subscriptionAligned", ["sub-1"]),
    ]
    assert allowed(pc, "term_duration=P1Y&target_coterm_subscription_id=sub-1") == [
        ("2026-01-28T00:00:00Z", "subscriptionAligned", ["sub-1"])
    ]
    assert allowed(pc, "term_duration=P1M") == [
        ("2025-03-31T00:00:00Z", "calendarMonthAligned", [])
    ]
    assert pc.get(f"{DATES}?term_duration=P2Y").status_code == 400
    assert pc.get(f"{DATES}?term_duration=P1Y&term_start_date=2025-03-01").status_code == 400


def cart(pc: Api, **line: Any) -> Any:
    body = {"lineItems": [{"catalogItemId": item(catalogue.E3), "quantity": 3, **line}]}
    return pc.post(f"{CUSTOMER}/carts", body)


def test_a_cart_line_co_terms_with_an_allowed_date_only(load: Load, pc: Api) -> None:
    load(northwind())
    refused = cart(pc, termDuration="P1Y", customTermEndDate="2026-01-27T00:00:00Z")
    assert refused.status_code == 400
    assert "not an allowed custom term end date" in refused.get_json()["description"]
    created = cart(pc, termDuration="P1Y", customTermEndDate="2026-01-28T00:00:00Z")
    assert created.status_code == 201
    order = pc.post(f"{CUSTOMER}/carts/{created.get_json()['id']}/checkout").get_json()
    new_id = order["orders"][0]["lineItems"][0]["subscriptionId"]
    sub = pc.get(f"{CUSTOMER}/subscriptions/{new_id}").get_json()
    assert sub["commitmentEndDate"] == "2026-01-28T00:00:00Z"
    assert sub["offerId"] != BP and sub["termDuration"] == "P1Y"
