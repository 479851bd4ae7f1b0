"""Setting up a storefront for tests: the catalogue read from the emulator, a profile given
to a customer, and the people who buy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Customer, Partner, StaffRole, User
from app.services import catalogue, profiles, sync
from app.services.demo import PARTNER

BP = "CFQ7TTC0LCHC:0002"  # Microsoft 365 Business Premium: $22.00, $23.10 billed monthly
BP_TRIAL = "CFQ7TTC0LCHC:0001"  # its trial: 25 seats, one month, one per customer
E3 = "CFQ7TTC0LFLX:0001"
COPILOT = "CFQ7TTC0MM8R:0001"
MULTI_GEO = "CFQ7TTC0LH3J:0001"
TEAMS_INTRO = "CFQ7TTC0RM8K:0002"  # one subscription per customer, annual term only
VISIO = "CFQ7TTC0HD32:0002"
E3_SKU = "05e9a617-0261-4cee-bb44-138d3ef5d965"


def staff() -> User:
    """The partner admin who sets the profiles up (made once)."""
    user = db.session.scalar(select(User).where(User.email == "pat@partner.example"))
    if user is None:
        user = User(
            tid="00000000-0000-4000-8000-0000000000aa",
            oid="a0000000-0000-4000-8000-000000000001",
            email="pat@partner.example",
            name="Pat Partner",
            staff_role=StaffRole.PARTNER_ADMIN,
        )
        db.session.add(user)
        db.session.commit()
    return user


def open_store(customer_pc_id: str, offers: Mapping[str, Mapping[str, str]]) -> Customer:
    """Refresh the catalogue and give the customer a profile with these offers (offer id ->
    price_kind, amount, min_quantity, max_quantity)."""
    catalogue.refresh()
    admin = staff()
    profile = profiles.create_profile(admin, f"Profile of {customer_pc_id}")
    for offer_id, terms in offers.items():
        profiles.set_offer(
            admin,
            profile,
            profiles.OfferTerms(
                offer_id,
                terms.get("price_kind", "margin"),
                terms.get("amount", "0"),
                terms.get("min_quantity", ""),
                terms.get("max_quantity", ""),
            ),
        )
    customer = db.session.scalar(select(Customer).where(Customer.pc_id == customer_pc_id))
    assert customer is not None
    profiles.assign(admin, customer, profile.id)
    return customer


def load_customers(emulator: Any, scenario: dict[str, Any]) -> None:
    """Load a scenario into the emulator and sync it in (with the partner row)."""
    emulator.load(scenario)
    if db.session.scalar(select(Partner)) is None:
        db.session.add(Partner(**PARTNER))
        db.session.commit()
    report = sync.sync_all()
    assert not report.failed, report.failed


def customer_with(pc_id: str, *subscriptions: tuple[str, str, int], **extra: Any) -> dict:
    """A scenario customer holding (subscription id, offer id, seats) subscriptions."""
    number = sum(ord(c) for c in pc_id) % 10**12
    return {
        "id": pc_id,
        "name": pc_id.replace("-", " ").title(),
        "domain": f"{pc_id}.example",
        "tenant_id": f"00000000-0000-4000-8000-{number:012d}",
        "subscriptions": [
            {
                "id": sub_id,
                "offer_id": offer,
                "offer_name": offer,
                "term": "P1Y",
                "billing_cycle": "monthly",
                "created": "-30d",
                "term_start": "-30d",
                "quantity": seats,
            }
            for sub_id, offer, seats in subscriptions
        ],
        **extra,
    }
