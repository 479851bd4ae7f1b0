"""Which offers are add-ons and which are their qualifying base licenses (PRODUCT.md rule 8).

The domain (app.domain.addons) decides with seat counts; the identities of the offers live
here. Product ids are the first part of Partner Center's offer id (`CFQ7TTC0MM8R:0001`).
Source: Microsoft 365 Copilot prerequisites (Microsoft Learn, "Microsoft 365 Copilot
requirements": Microsoft 365 E3/E5/F1/F3, Office 365 E1/E3/E5, Business Basic/Standard/
Premium) — the list is kept to the catalogue Seatwise sells.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import select

from app.extensions import db
from app.models import Subscription

COPILOT_PRODUCTS = frozenset({"CFQ7TTC0MM8R"})
COPILOT_BASE_PRODUCTS = frozenset(
    {
        "CFQ7TTC0LH18",  # Microsoft 365 Business Basic
        "CFQ7TTC0LDPB",  # Microsoft 365 Business Standard
        "CFQ7TTC0LCHC",  # Microsoft 365 Business Premium
        "CFQ7TTC0LFLX",  # Microsoft 365 E3
        "CFQ7TTC0LFLZ",  # Microsoft 365 E5
        "CFQ7TTC0LH05",  # Microsoft 365 F3
    }
)


class Held(Protocol):
    """What the counts need of a subscription."""

    @property
    def offer_id(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def quantity(self) -> int: ...


def product_of(offer_id: str) -> str:
    """The product id of an offer id (`CFQ7TTC0MM8R:0001` -> `CFQ7TTC0MM8R`)."""
    return offer_id.split(":", 1)[0].upper()


def is_copilot(offer_id: str) -> bool:
    return product_of(offer_id) in COPILOT_PRODUCTS


def is_copilot_base(offer_id: str) -> bool:
    return product_of(offer_id) in COPILOT_BASE_PRODUCTS


def customer_copilot_seats(customer_id: int) -> tuple[int, int]:
    """(Copilot seats, qualifying base seats) of the customer's active subscriptions."""
    rows = db.session.execute(
        select(Subscription.offer_id, Subscription.status, Subscription.quantity).where(
            Subscription.customer_id == customer_id, Subscription.status == "active"
        )
    ).all()
    return copilot_seats(rows)


def copilot_seats(subscriptions: Iterable[Held]) -> tuple[int, int]:
    """(Copilot seats, qualifying base seats) of the active subscriptions."""
    copilot = base = 0
    for sub in subscriptions:
        if sub.status != "active":
            continue
        if is_copilot(sub.offer_id):
            copilot += sub.quantity
        elif is_copilot_base(sub.offer_id):
            base += sub.quantity
    return copilot, base
