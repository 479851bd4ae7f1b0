"""Upgrades against the emulator: partial upgrades into a new or an existing subscription,
and a job that runs again after its worker died mid-call transitions once."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, Subscription
from app.services import provisioning, upgrades
from app.services.microsoft import factory
from tests.support.processes import Emulator
from tests.support.storefront import BP, customer_with, load_customers, staff

BS = "CFQ7TTC0LDPB:0001"  # Microsoft 365 Business Standard: upgrades to Business Premium


def emulator_subs(emulator: Emulator) -> dict[str, dict[str, Any]]:
    found = next(c for c in emulator.state()["customers"] if c["id"] == "cust-up")
    return {s["id"]: s for s in found["subscriptions"]}


def setup(emulator: Emulator) -> Customer:
    load_customers(
        emulator, {"customers": [customer_with("cust-up", ("sub-bs", BS, 10), ("sub-bp", BP, 5))]}
    )
    customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-up"))
    assert customer is not None
    return customer


def ask(customer: Customer, quantity: int, into: str | None = None, key: str = "up-1") -> int:
    sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-bs"))
    assert sub is not None
    found = upgrades.options(customer, sub)
    premium = next(c for c in found.choices if c.offer_id == BP)
    if into is not None:
        assert into in {t.subscription_id for t in premium.targets}
    change = upgrades.request_upgrade(
        staff(),
        Role.ADMIN,
        customer,
        "sub-bs",
        found.choices,
        to_catalog_item_id=premium.catalog_item_id,
        quantity=quantity,
        to_subscription_id=into,
        idempotency_key=key,
    )
    return change.id


def test_a_partial_upgrade_moves_some_seats_into_a_new_co_terminous_subscription(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = setup(emulator)
        change = provisioning.apply(ask(customer, 4))
        assert change.state == "done", change.outcome
        assert "4 seats moved to Microsoft 365 Business Premium in subscription" in change.outcome
        assert "Reassign the licences" in change.outcome
        subs = emulator_subs(emulator)
        assert subs["sub-bs"]["quantity"] == 6 and subs["sub-bp"]["quantity"] == 5
        new = [s for k, s in subs.items() if k not in ("sub-bs", "sub-bp")]
        assert len(new) == 1 and new[0]["quantity"] == 4
        assert new[0]["offerId"].startswith(f"{BP}:")
        assert new[0]["commitmentEndDate"] == subs["sub-bs"]["commitmentEndDate"]
        ours = db.session.scalar(select(Subscription).where(Subscription.pc_id == new[0]["id"]))
        assert ours is not None and ours.quantity == 4  # synced in: on the license page


def test_a_partial_upgrade_into_an_existing_subscription_adds_its_seats_there(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = setup(emulator)
        change = provisioning.apply(ask(customer, 3, into="sub-bp"))
        assert change.state == "done", change.outcome
        subs = emulator_subs(emulator)
        assert set(subs) == {"sub-bs", "sub-bp"}
        assert subs["sub-bs"]["quantity"] == 7 and subs["sub-bp"]["quantity"] == 8


def test_more_seats_than_the_subscription_has_are_refused_and_nothing_is_written(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = setup(emulator)
        try:
            ask(customer, 11)
        except upgrades.UpgradeRefused as refused:
            assert "an upgrade moves at most that many" in str(refused)
        else:
            raise AssertionError("11 of 10 seats accepted")
        assert db.session.scalar(select(ChangeRequest)) is None


def test_a_job_run_again_after_its_worker_died_transitions_once(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = setup(emulator)
        change_id = ask(customer, 10)
        first = provisioning.apply(change_id)
        assert first.state == "done", first.outcome
        # The worker died after the call but before anything else was noted: the requeue
        # finds the change open (sent) and runs it again.
        first.state, first.outcome, first.finished_at = "pending", None, None
        db.session.commit()
        again = provisioning.apply(change_id)
        assert again.state == "done", again.outcome
        posts = [
            r
            for r in emulator.state()["requests"]
            if r["method"] == "POST" and r["path"].endswith("/sub-bs/transitions")
        ]
        assert len(posts) == 2 and posts[0]["request_id"] == posts[1]["request_id"]
        assert posts[1]["replayed"]
        client = factory.partner_center()
        try:
            assert len(client.transitions("cust-up", "sub-bs")) == 1
        finally:
            client.close()
        subs = emulator_subs(emulator)
        assert subs["sub-bs"]["quantity"] == 10 and subs["sub-bs"]["offerId"].startswith(BP)
