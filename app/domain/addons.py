"""Add-on limits (PRODUCT.md rule 8): Copilot, multi-geo, one subscription per customer.

Offer identities stay with the caller: it says which offers are base licenses of an add-on
and passes seat counts. "Base seats" are the seats of the customer's prerequisite base
licenses (active subscriptions) plus those in the same cart.
Source: Microsoft 365 Copilot and Multi-Geo prerequisites ("Manage customer subscriptions",
create-a-cart / checkout-a-cart errors).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from app.domain.decision import Code, Decision, allow, refuse
from app.domain.nce import seats

MULTI_GEO_PERCENT = 5


def copilot_maximum(base_seats: int) -> int:
    """The most Microsoft 365 Copilot seats allowed: one per base-license seat."""
    return max(0, base_seats)


def multi_geo_minimum(base_seats: int, percent: int = MULTI_GEO_PERCENT) -> int:
    """The fewest multi-geo seats allowed: `percent` % of the base seats, rounded up."""
    return -(-max(0, base_seats) * percent // 100)


def check_copilot_seats(copilot_seats: int, base_held: int, base_in_cart: int = 0) -> Decision:
    """May the customer have `copilot_seats` Copilot seats in total (held + this cart)?"""
    base = base_held + base_in_cart
    most = copilot_maximum(base)
    if copilot_seats <= most:
        return allow(
            f"{seats(copilot_seats)} of Microsoft 365 Copilot fit {seats(base)} of base licenses."
        )
    cart = f", {base_in_cart} of them in this cart" if base_in_cart else ""
    return refuse(
        Code.ADDON_LIMIT,
        f"Microsoft 365 Copilot needs a qualifying base license for each seat: at most "
        f"{seats(most)} (the customer has {seats(base)} of base licenses{cart}). Add base "
        "licenses first, or in the same cart.",
    )


def check_multi_geo_seats(multi_geo_seats: int, base_held: int, base_in_cart: int = 0) -> Decision:
    """May the customer have `multi_geo_seats` multi-geo seats in total (held + this cart)?"""
    base = base_held + base_in_cart
    least = multi_geo_minimum(base)
    if multi_geo_seats >= least:
        return allow(
            f"{seats(multi_geo_seats)} of multi-geo cover at least {MULTI_GEO_PERCENT} % "
            f"of {seats(base)}."
        )
    return refuse(
        Code.ADDON_MINIMUM,
        f"Multi-geo needs at least {MULTI_GEO_PERCENT} % of the base licenses: at least "
        f"{seats(least)} for {seats(base)}.",
    )


def check_one_per_customer(
    offer_id: str,
    *,
    one_per_customer: Collection[str],
    held_offer_ids: Collection[str],
    cart_offer_ids: Sequence[str] = (),
) -> Decision:
    """May the customer add a subscription of `offer_id` (some offers allow one per customer)?

    `held_offer_ids`: offers of the customer's live (non-cancelled, non-expired)
    subscriptions; `cart_offer_ids`: the offers of the other lines of the same cart.
    """
    if offer_id not in one_per_customer:
        return allow("This product can be bought more than once.")
    if offer_id in held_offer_ids:
        return refuse(
            Code.ONE_PER_CUSTOMER,
            "This product allows one subscription per customer and the customer already has "
            "it: change the seats of that subscription instead.",
        )
    if offer_id in cart_offer_ids:
        return refuse(
            Code.ONE_PER_CUSTOMER,
            "This product allows one subscription per customer and it is already in the cart: "
            "change the quantity of that line instead.",
        )
    return allow("The customer does not have this product yet.")
