"""Storefront orders against the emulator: the catalogue's prices, the rules before checkout,
and an order bought exactly once by the job, however often it runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import select

from app.domain import storefront as rules
from app.domain.roles import Role
from app.extensions import db
from app.models import AuditEvent, CatalogueItem, ChangeRequest, Customer, Subscription, User
from app.services import catalogue, licensing, orders, outbox, storefront
from tests.support.processes import Emulator, kill_worker, spawn_worker, worker_env
from tests.support.storefront import (
    BP,
    COPILOT,
    E3,
    MULTI_GEO,
    TEAMS_INTRO,
    customer_with,
    load_customers,
    open_store,
    staff,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def emulator_subs(emulator: Emulator, customer: str) -> list[dict[str, Any]]:
    found = next(c for c in emulator.state()["customers"] if c["id"] == customer)
    return list(found["subscriptions"])


def requests_to(emulator: Emulator, part: str) -> list[dict[str, Any]]:
    return [r for r in emulator.state()["requests"] if part in r["path"]]


def test_the_catalogue_is_cached_with_a_price_per_term_and_billing_frequency(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        report = catalogue.refresh()
        assert report.items >= 20 and report.added == report.items
        item = db.session.scalar(select(CatalogueItem).where(CatalogueItem.offer_id == BP))
        assert item is not None and item.title == "Microsoft 365 Business Premium"
        prices = {o.key: o.monthly for o in catalogue.options_of(item)}
        assert prices["P1Y/annual"] == rules.Money(Decimal("22.0"), "USD")
        assert prices["P1Y/monthly"] == rules.Money(Decimal("23.1"), "USD")  # +5 %
        assert prices["P3Y/monthly"] == rules.Money(Decimal("23.1"), "USD")
        assert prices["P1M/monthly"] == rules.Money(Decimal("26.4"), "USD")  # monthly term
        assert "P1M/annual" not in prices
        copilot = db.session.scalar(select(CatalogueItem).where(CatalogueItem.offer_id == COPILOT))
        assert copilot is not None and copilot.addon == "copilot"
        again = catalogue.refresh()
        assert again.added == 0 and again.removed == 0


@pytest.fixture
def big_customers(app: Flask, emulator: Emulator) -> None:
    """Three customers holding Microsoft 365 E3 (a base of Copilot and multi-geo)."""
    with app.app_context():
        load_customers(
            emulator,
            {
                "customers": [
                    customer_with("cust-e3-250", ("sub-250", E3, 250)),
                    customer_with("cust-e3-400", ("sub-400", E3, 400)),
                    customer_with("cust-e3-50", ("sub-50", E3, 50)),
                ]
            },
        )
        for pc_id in ("cust-e3-250", "cust-e3-400", "cust-e3-50"):
            open_store(pc_id, {E3: {}, COPILOT: {}, MULTI_GEO: {}, TEAMS_INTRO: {}})


def check(pc_id: str, *lines: tuple[str, int]) -> rules.Decision:
    customer = db.session.scalar(select(Customer).where(Customer.pc_id == pc_id))
    assert customer is not None
    term = {TEAMS_INTRO: "P1Y"}
    return storefront.check(
        customer, [rules.Line(o, q, term.get(o, "P1Y"), "monthly") for o, q in lines]
    )


def test_copilot_seats_are_limited_by_the_base_seats_held_and_in_the_same_cart(
    app: Flask, big_customers: None
) -> None:
    with app.app_context():
        refused = check("cust-e3-250", (COPILOT, 251))
        assert not refused.allowed
        assert "at most 250 seats" in refused.reason
        assert check("cust-e3-250", (COPILOT, 250)).allowed
        # 50 held + 200 in the same cart = 250 base seats.
        assert check("cust-e3-50", (E3, 200), (COPILOT, 250)).allowed
        over = check("cust-e3-50", (E3, 200), (COPILOT, 251))
        assert not over.allowed and "200 of them in this cart" in over.reason


def test_multi_geo_needs_five_percent_of_the_base_seats_rounded_up(
    app: Flask, big_customers: None
) -> None:
    with app.app_context():
        refused = check("cust-e3-400", (MULTI_GEO, 19))
        assert not refused.allowed and "at least 20 seats for 400 seats" in refused.reason
        assert check("cust-e3-400", (MULTI_GEO, 20)).allowed


def test_a_second_subscription_of_a_one_per_customer_offer_is_refused(
    app: Flask, big_customers: None, work: Callable[[], None], emulator: Emulator
) -> None:
    with app.app_context():
        assert not check("cust-e3-250", (TEAMS_INTRO, 5), (TEAMS_INTRO, 3)).allowed
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-e3-250"))
        assert customer is not None
        line = rules.Line(TEAMS_INTRO, 5, "P1Y", "monthly")
        first = orders.request_order(
            staff(), Role.ADMIN, customer, [line], idempotency_key=uuid.uuid4().hex
        )
        first_id = first.id
    work()
    with app.app_context():
        first = db.session.get(ChangeRequest, first_id)
        assert first is not None and first.state == "done", first.outcome
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-e3-250"))
        assert customer is not None
        with pytest.raises(orders.OrderRefused, match="one subscription per customer"):
            orders.request_order(
                staff(), Role.ADMIN, customer, [line], idempotency_key=uuid.uuid4().hex
            )
    held = [
        s for s in emulator_subs(emulator, "cust-e3-250") if s["offerId"].startswith(TEAMS_INTRO)
    ]
    assert len(held) == 1


def test_an_order_outside_the_profile_or_above_its_maximum_is_refused_before_any_request(
    app: Flask, big_customers: None, emulator: Emulator
) -> None:
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-e3-250"))
        assert customer is not None
        with pytest.raises(orders.OrderRefused, match="not offered to your company"):
            orders.request_order(
                staff(),
                Role.ADMIN,
                customer,
                [rules.Line(BP, 5, "P1Y", "monthly")],
                idempotency_key=uuid.uuid4().hex,
            )
        assert db.session.scalar(select(ChangeRequest)) is None
    assert requests_to(emulator, "/carts") == []


def _demo_order(app: Flask, quantity: int = 5) -> int:
    """Contoso's Admin orders Business Premium, annual term billed monthly."""
    with app.app_context():
        customer = open_store("cust-contoso", {BP: {"amount": "10"}})
        change = orders.request_order(
            staff(),
            Role.ADMIN,
            customer,
            [rules.Line(BP, quantity, "P1Y", "monthly")],
            idempotency_key=uuid.uuid4().hex,
        )
        assert change.state == "pending" and change.subscription_id is None
        assert change.params["lines"][0]["monthly"] == "25.41"  # 23.10 + 10 %
        return int(change.id)


def _bought(emulator: Emulator) -> list[dict[str, Any]]:
    return [
        s
        for s in emulator_subs(emulator, "cust-contoso")
        if s["offerId"].startswith(BP) and s["quantity"] == 5
    ]


def test_the_order_job_run_twice_buys_once_and_the_subscription_is_synced_in(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    change_id = _demo_order(app)
    work()
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "done", change.outcome
        assert change.outcome == (
            "Done: Bought 5 seats of Microsoft 365 Business Premium. It is on the license page."
        )
        sub = db.session.get(Subscription, change.subscription_id)
        assert sub is not None and sub.quantity == 5 and sub.billing_cycle == "monthly"
        # As if the first run had died before recording its outcome: run it again.
        change.state = "running"
        db.session.commit()
        outbox.enqueue(change)
    work()
    bought = _bought(emulator)
    assert len(bought) == 1
    assert bought[0]["termDuration"] == "P1Y" and bought[0]["billingCycle"] == "monthly"
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "done"
        kinds = [
            (e.kind, e.outcome)
            for e in db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "order"))
        ]
        assert ("order.requested", "requested") in kinds and ("order.bought", "done") in kinds


def test_a_worker_killed_mid_checkout_and_run_again_buys_once(
    app: Flask,
    demo: dict[str, int],
    emulator: Emulator,
    repo_root: Path,
    work: Callable[[], None],
) -> None:
    # The checkout is carried out at Partner Center but its answer never comes back in time.
    emulator.faults(
        {"method": "POST", "path": "/checkout", "status": "timeout", "times": 1, "delay": 30}
    )
    env = worker_env(app.config, emulator.url, MICROSOFT_TIMEOUT="60")
    change_id = _demo_order(app)
    worker = spawn_worker(repo_root, env)
    try:
        deadline = time.monotonic() + 30
        while not _bought(emulator) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        kill_worker(worker)  # the worker and its work horse, mid-checkout
    assert len(_bought(emulator)) == 1
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "running"  # left open by the dead worker
        outbox.enqueue(change)
    work()
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "done", change.outcome
    assert len(_bought(emulator)) == 1


def test_nothing_is_bought_for_a_customer_of_a_reseller_that_is_not_authorised(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        load_customers(
            emulator,
            {
                "resellers": [
                    {"id": "res-gone", "name": "Gone Reseller", "relationship": "inactive"}
                ],
                "customers": [customer_with("cust-of-gone", reseller_id="res-gone")],
            },
        )
        customer = open_store("cust-of-gone", {BP: {}})
        with pytest.raises(orders.OrderRefused, match="Buying and changes are paused"):
            orders.request_order(
                staff(),
                Role.ADMIN,
                customer,
                [rules.Line(BP, 5, "P1Y", "monthly")],
                idempotency_key=uuid.uuid4().hex,
            )
        assert db.session.scalar(select(ChangeRequest)) is None
    assert requests_to(emulator, "/carts") == []


def test_the_job_checks_the_rules_again_against_partner_center_and_buys_nothing_when_broken(
    app: Flask, big_customers: None, work: Callable[[], None], emulator: Emulator
) -> None:
    from app.services.microsoft import factory
    from app.services.microsoft.partner_center import CartLine

    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-e3-250"))
        assert customer is not None
        change = orders.request_order(
            staff(),
            Role.ADMIN,
            customer,
            [rules.Line(TEAMS_INTRO, 5, "P1Y", "monthly")],
            idempotency_key=uuid.uuid4().hex,
        )
        change_id = change.id
        item = catalogue.by_offer([TEAMS_INTRO])[TEAMS_INTRO]
        # Meanwhile someone buys the same one-per-customer offer elsewhere (not in our database).
        client = factory.partner_center()
        try:
            client.buy(
                "cust-e3-250",
                [CartLine(item.catalog_item_id, 3, "P1Y", "monthly")],
                request_id=str(uuid.uuid4()),
            )
        finally:
            client.close()
    carts_before = len(requests_to(emulator, "/carts"))
    work()
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "failed"
        assert change.outcome is not None
        assert "one subscription per customer" in change.outcome
        assert change.outcome.endswith("Nothing was bought.")
    assert len(requests_to(emulator, "/carts")) == carts_before  # refused before any cart
    held = [
        s for s in emulator_subs(emulator, "cust-e3-250") if s["offerId"].startswith(TEAMS_INTRO)
    ]
    assert [s["quantity"] for s in held] == [3]


def test_an_order_above_the_approval_threshold_waits_and_is_bought_only_once_approved(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    from app.services import profiles

    with app.app_context():
        customer = open_store("cust-contoso", {BP: {}})
        profile = profiles.profile_of(customer)
        assert profile is not None
        profiles.set_approvals(staff(), profile, "100", every_order=False)
        small = orders.request_order(
            staff(),
            Role.ADMIN,
            customer,
            [rules.Line(BP, 4, "P1Y", "monthly")],  # 4 x 23.10 = 92.40 a month
            idempotency_key=uuid.uuid4().hex,
        )
        big = orders.request_order(
            staff(),
            Role.ADMIN,
            customer,
            [rules.Line(BP, 5, "P1Y", "monthly")],  # 115.50 a month
            idempotency_key=uuid.uuid4().hex,
        )
        assert small.state == "pending"
        assert big.state == "to_approve"
        assert big.params["approval"] == (
            "Orders above 100.00 USD a month need the partner's approval."
        )
        assert [c.id for c in orders.awaiting_approval(staff())] == [big.id]
        big_id = big.id
    work()
    assert [s["quantity"] for s in _bought_any(emulator)] == [4]  # the big one waits
    with app.app_context():
        with pytest.raises(orders.OrderRefused, match="Say why"):
            orders.decide(staff(), big_id, approve=False, reason="  ")
        orders.decide(staff(), big_id, approve=True, reason="fine")
    work()
    with app.app_context():
        change = db.session.get(ChangeRequest, big_id)
        assert change is not None and change.state == "done", change.outcome
        events = [
            (e.kind, e.message)
            for e in db.session.scalars(select(AuditEvent).where(AuditEvent.kind.like("order.%")))
        ]
        assert ("order.approved", "Approved by Pat Partner: fine") in events
    assert sorted(s["quantity"] for s in _bought_any(emulator)) == [4, 5]


def test_a_rejected_order_says_why_and_never_reaches_partner_center(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    from app.services import profiles

    with app.app_context():
        customer = open_store("cust-contoso", {BP: {}})
        profile = profiles.profile_of(customer)
        assert profile is not None
        profiles.set_approvals(staff(), profile, "", every_order=True)
        change = orders.request_order(
            staff(),
            Role.ADMIN,
            customer,
            [rules.Line(BP, 1, "P1Y", "annual")],
            idempotency_key=uuid.uuid4().hex,
        )
        assert change.state == "to_approve"
        orders.decide(staff(), change.id, approve=False, reason="Use the existing E3 seats.")
        assert change.state == "rejected"
        assert change.outcome == (
            "Rejected by Pat Partner: Use the existing E3 seats. Nothing was bought."
        )
        with pytest.raises(orders.OrderRefused, match="no longer waiting"):
            orders.decide(staff(), change.id, approve=True)
    work()
    assert requests_to(emulator, "/carts") == []


def _bought_any(emulator: Emulator) -> list[dict[str, Any]]:
    known = {"sub-co-bs", "sub-co-bb", "sub-co-visio", "sub-co-mde1", "sub-co-project3"}
    return [s for s in emulator_subs(emulator, "cust-contoso") if s["id"] not in known]


def test_a_trial_starts_free_with_25_seats_once_and_its_quantity_cannot_change(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    from app.services import licensing
    from tests.support.storefront import BP_TRIAL

    with app.app_context():
        customer = open_store("cust-contoso", {BP_TRIAL: {}})
        assert not check("cust-contoso", (BP_TRIAL, 10)).allowed  # a trial is 25 seats
        quote = storefront.quote(customer, [rules.Line(BP_TRIAL, 25, "P1M", "monthly")], NOW)
        assert quote.per_month == rules.Money(Decimal(0), "USD")
        assert quote.lines[0].commitment.startswith("Free trial of one month, until ")
        change = orders.request_order(
            staff(),
            Role.ADMIN,
            customer,
            [rules.Line(BP_TRIAL, 25, "P1M", "monthly")],
            idempotency_key=uuid.uuid4().hex,
        )
        assert change.summary == (
            "Buy 25 seats of Microsoft 365 Business Premium Trial "
            "(free trial: one month, nothing to pay)"
        )
        change_id = change.id
    work()
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "done", change.outcome
        trial = db.session.get(Subscription, change.subscription_id)
        assert trial is not None and trial.is_trial and trial.quantity == 25
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None
        with pytest.raises(orders.OrderRefused, match="one subscription per customer"):
            orders.request_order(
                staff(),
                Role.ADMIN,
                customer,
                [rules.Line(BP_TRIAL, 25, "P1M", "monthly")],
                idempotency_key=uuid.uuid4().hex,
            )
        with pytest.raises(licensing.ChangeRefused, match="trial"):
            licensing.request_change(
                staff(),
                Role.ADMIN,
                customer,
                trial.pc_id,
                "quantity",
                {"quantity": 30},
                idempotency_key=uuid.uuid4().hex,
                version=None,
            )
    trials = [s for s in emulator_subs(emulator, "cust-contoso") if s["isTrial"]]
    assert [(s["quantity"], s["termDuration"]) for s in trials] == [(25, "P1M")]


def test_an_order_partner_center_refuses_fails_with_the_reason_and_is_checked_again_next_time(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    emulator.faults({"method": "POST", "path": "/carts$", "status": 400, "times": 1})
    change_id = _demo_order(app)
    work()
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "failed"
        assert change.outcome is not None
        assert change.outcome.startswith("Microsoft refused the order")
        assert change.outcome.endswith("Nothing was bought.")
        assert "checked_at" not in change.params  # a new attempt checks the rules again
    assert _bought(emulator) == []


def test_a_failed_order_retried_keeps_its_request_id_and_buys_once(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    # The checkout is carried out, but its answer is lost (a 500 after the work).
    emulator.faults({"method": "POST", "path": "/checkout$", "status": 500, "applied": True})
    app.config["MICROSOFT_RETRY_SECONDS"] = 2.0
    try:
        change_id = _demo_order(app)
        work()
    finally:
        app.config["MICROSOFT_RETRY_SECONDS"] = 30.0
    httpx.delete(f"{emulator.url}/_emulator/faults", timeout=10).raise_for_status()
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "failed", change.outcome
        first_id = change.request_id
        pat = db.session.scalar(select(User).where(User.email == "pat@partner.example"))
        assert pat is not None
        customer = db.session.get(Customer, change.customer_id)
        assert customer is not None
        licensing.retry_change(pat, Role.ADMIN, customer, change_id)  # as the jobs page does
        assert change.request_id == first_id
    work()
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None and change.state == "done", change.outcome
    assert len(_bought(emulator)) == 1
