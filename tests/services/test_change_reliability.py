"""Nothing lost, nothing bought twice (issue 16, items 1-5 and 13): ambiguous answers from
Partner Center, stale rows, jobs that stop, a busy customer, a queue that is down and two
changes of one subscription at once. Partner Center is the emulator over HTTP; jobs run in
a real RQ worker on real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from redis import Redis
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import (
    AuditEvent,
    ChangeRequest,
    Customer,
    DirectoryUser,
    Subscription,
    Tranche,
    User,
)
from app.models._types import utcnow
from app.queue import get_queue
from app.services import licensing, locks, outbox, people
from app.services.microsoft import factory
from tests.support.processes import Emulator, OidcProvider
from tests.web.test_licenses import NW, form_values, signed_in

SUB = "sub-nw-exo1"  # Exchange Online (Plan 1), monthly term, 20 seats, 12 assigned


def pat_and_northwind() -> tuple[User, Customer]:
    pat = db.session.scalar(select(User).where(User.email == "pat@partner.example"))
    customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
    assert pat is not None and customer is not None
    return pat, customer


def ask(app: Flask, kind: str = "quantity", **params: Any) -> int:
    with app.app_context():
        pat, customer = pat_and_northwind()
        change = licensing.request_change(
            pat, Role.ADMIN, customer, SUB, kind, params,
            idempotency_key=uuid.uuid4().hex, version=None,
        )  # fmt: skip
        return int(change.id)


def change_of(app: Flask, change_id: int) -> ChangeRequest:
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None
        db.session.expunge(change)
        return change


def retry(app: Flask, change_id: int) -> None:
    with app.app_context():
        pat, customer = pat_and_northwind()
        licensing.retry_change(pat, Role.ADMIN, customer, change_id)


def pc_quantity(emulator: Emulator, sub: str = SUB) -> int:
    for customer in emulator.state()["customers"]:
        for item in customer["subscriptions"]:
            if item["id"] == sub:
                return int(item["quantity"])
    raise AssertionError(sub)


def patches(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]


@pytest.fixture
def short_budget(app: Flask) -> Iterator[None]:
    """Partner Center's 5xx are retried for two seconds, not thirty."""
    app.config["MICROSOFT_RETRY_SECONDS"] = 2.0
    yield
    app.config["MICROSOFT_RETRY_SECONDS"] = 30.0


# 1. An ambiguous answer (applied, but answered 500) never buys or changes twice ----------


def test_a_seat_purchase_answered_500_after_it_was_made_buys_one_seat_only(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None],
    short_budget: None,
) -> None:  # fmt: skip
    emulator.faults({"method": "PATCH", "path": SUB, "status": 500, "applied": True})
    with app.app_context():
        pat, customer = pat_and_northwind()
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == SUB))
        ann = db.session.scalar(select(DirectoryUser).where(DirectoryUser.name == "Ann Lee"))
        assert sub is not None and ann is not None and sub.sku_id
        sku = sub.sku_id
        change_id = people.request_assignment(
            pat, Role.ADMIN, customer, ann.id, sku, buy=True, idempotency_key=uuid.uuid4().hex
        ).id
    work()
    change = change_of(app, change_id)
    if change.state == "failed":  # whatever it says, it must not claim nothing happened
        assert "Nothing was changed" not in (change.outcome or "")
        emulator.faults([])
        retry(app, change_id)
        work()
        change = change_of(app, change_id)
    assert change.state == "done", change.outcome
    assert "one seat bought" in (change.outcome or "")
    assert pc_quantity(emulator) == 21  # one seat, not two
    ann_licences = next(
        u["licenses"]
        for c in emulator.state()["customers"]
        for u in c["users"]
        if u["name"] == "Ann Lee"
    )
    assert sku in ann_licences


def test_a_quantity_change_answered_500_after_it_was_made_is_recorded_as_done(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None],
    short_budget: None,
) -> None:  # fmt: skip
    emulator.faults({"method": "PATCH", "path": SUB, "status": 500, "applied": True})
    change_id = ask(app, quantity=22)
    work()
    change = change_of(app, change_id)
    assert (change.state, change.outcome) == ("done", "Done: 22 seats.")
    assert pc_quantity(emulator) == 22
    with app.app_context():
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == SUB))
        assert sub is not None and sub.quantity == 22  # the row shows what Microsoft has


def test_retrying_an_unclear_failure_keeps_its_request_id_and_a_clear_one_gets_a_new_one(
    app: Flask, demo: dict[str, int], emulator: Emulator,
) -> None:  # fmt: skip
    change_id = ask(app, quantity=23)
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None
        outbox.finish_unknown(change, "the change")
        db.session.commit()
        first_id = change.request_id
    retry(app, change_id)
    assert change_of(app, change_id).request_id == first_id  # may have been carried out
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None
        outbox.clear_sent(change)  # Partner Center then refused it clearly
        outbox.finish(change, "failed", "Microsoft refused the change: HTTP 400")
        db.session.commit()
    retry(app, change_id)
    assert change_of(app, change_id).request_id != first_id


# 2. A new seat count is applied only against the count the person saw -------------------


def test_plus_one_on_a_stale_row_does_not_undo_seats_bought_elsewhere(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    with app.app_context():  # another tool of the partner buys 15 seats in Partner Center
        client = factory.partner_center()
        client.update_subscription(
            "cust-northwind", SUB, {"quantity": 35}, request_id=str(uuid.uuid4())
        )
        client.close()
    change_id = ask(app, quantity=21)  # "+1" on the row that still shows 20
    work()
    change = change_of(app, change_id)
    assert change.state == "failed"
    assert "Partner Center has 35 seats now, not the 20 shown" in (change.outcome or "")
    assert pc_quantity(emulator) == 35
    with app.app_context():
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == SUB))
        assert sub is not None and sub.quantity == 35


# 3. Jobs outlive the retry budget, end on any error, give up, and hold the customer ---------


def test_a_change_job_may_run_longer_than_the_microsoft_retry_budget(
    app: Flask, demo: dict[str, int], emulator: Emulator
) -> None:
    change_id = ask(app, quantity=21)
    with app.app_context():
        [job] = get_queue().jobs
        assert job.args == (change_id,)
        budget = app.config["MICROSOFT_RETRY_SECONDS"]
        assert job.timeout is not None and job.timeout > 2 * budget + 120


def test_an_unexpected_error_ends_the_change_failed_with_its_reason_and_audit(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    with app.app_context():  # a row this version of Seatwise cannot read (params lost)
        pat, customer = pat_and_northwind()
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == SUB))
        assert sub is not None
        change = outbox.create(
            customer=customer, sub=sub, actor=pat, kind="quantity", params={},
            key=uuid.uuid4().hex, summary="Change seats", audit_event={"kind": "change.quantity"},
        )  # fmt: skip
        change_id = change.id
    work()
    change = change_of(app, change_id)
    assert change.state == "failed"
    assert f"unexpected error while applying this (change {change_id})" in (change.outcome or "")
    assert pc_quantity(emulator) == 20
    with app.app_context():
        outcomes = db.session.scalars(
            select(AuditEvent.outcome).where(AuditEvent.object_id == SUB)
        ).all()
        assert "failed" in outcomes


def test_a_change_that_used_all_its_attempts_fails_instead_of_going_round_again(
    app: Flask, demo: dict[str, int], emulator: Emulator
) -> None:
    change_id = ask(app, quantity=21)
    get_queue_jobs_cleared(app)
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None
        change.state, change.attempts = "running", 5
        change.queued_at = utcnow() - timedelta(hours=1)
        db.session.commit()
        assert licensing.requeue_stuck_changes() == []
        assert get_queue().count == 0
    change = change_of(app, change_id)
    assert change.state == "failed"
    assert "Stopped after 5 attempts" in (change.outcome or "")


def get_queue_jobs_cleared(app: Flask) -> None:
    with app.app_context():
        get_queue().empty()


def test_a_change_waits_while_its_customer_is_being_synced_then_applies(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    app.config["CHANGE_LOCK_WAIT"] = 0.2
    try:
        change_id = ask(app, quantity=21)
        with app.app_context(), locks.customer_lock("cust-northwind", holder="sync"):
            work()  # the job finds the customer busy: it does nothing and comes back later
            assert change_of(app, change_id).state == "pending"
            assert pc_quantity(emulator) == 20
        with app.app_context():
            assert licensing.requeue_stuck_changes(timedelta(0)) == [change_id]
        work()
    finally:
        app.config["CHANGE_LOCK_WAIT"] = 30.0
    assert change_of(app, change_id).state == "done"
    assert pc_quantity(emulator) == 21


# 4. The requeue goes by when a change was handed over, not by when it was made --------------


def test_a_change_retried_by_a_person_is_not_queued_a_second_time_by_the_requeue(
    app: Flask, demo: dict[str, int], emulator: Emulator
) -> None:
    change_id = ask(app, quantity=21)
    with app.app_context():
        get_queue().empty()
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None
        change.created_at = utcnow() - timedelta(hours=2)
        outbox.finish(change, "failed", "Microsoft refused the change: HTTP 400")
        db.session.commit()
    retry(app, change_id)
    with app.app_context():
        assert licensing.requeue_stuck_changes() == []
        assert [job.args for job in get_queue().jobs] == [(change_id,)]


# 5. With the queue down a change waits, says so, and is applied when the queue is back -----


def test_with_the_queue_down_a_change_is_kept_and_applied_when_it_is_back(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    with app.app_context():
        working = app.extensions["seatwise.redis"]
        app.extensions["seatwise.redis"] = Redis(port=1, socket_connect_timeout=0.2)
        try:
            pat, customer = pat_and_northwind()
            change = licensing.request_change(
                pat, Role.MODIFY, customer, SUB, "quantity", {"quantity": 21},
                idempotency_key=uuid.uuid4().hex, version=None,
            )  # fmt: skip
            assert change.state == "pending"
            assert change.outcome == outbox.QUEUE_DOWN
            change_id = change.id
        finally:
            app.extensions["seatwise.redis"] = working
        assert licensing.requeue_stuck_changes() == [change_id]  # the cron, once it runs again
    work()
    assert change_of(app, change_id).state == "done"
    assert change_of(app, change_id).outcome == "Done: 21 seats."
    assert pc_quantity(emulator) == 21


# 13. One open change per subscription, even when two requests race past the check ----------


def test_two_changes_of_one_subscription_cannot_both_be_open(
    app: Flask, demo: dict[str, int], emulator: Emulator
) -> None:
    with app.app_context():
        pat, customer = pat_and_northwind()
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == SUB))
        assert sub is not None

        def write(quantity: int) -> ChangeRequest:  # as request_change does, after its check
            return outbox.create(
                customer=customer, sub=sub, actor=pat, kind="quantity",
                params={"quantity": quantity}, key=uuid.uuid4().hex,
                summary=f"Change seats to {quantity}",
                audit_event={"kind": "change.quantity"}, enqueue_now=False,
            )  # fmt: skip

        first = write(21)
        with pytest.raises(outbox.ChangeBusy):
            write(25)
        open_ones = db.session.scalars(
            select(ChangeRequest).where(ChangeRequest.state.in_(("pending", "running")))
        ).all()
        assert [c.id for c in open_ones] == [first.id]


def test_a_renewed_customer_lock_outlives_its_time_to_live_and_frees_when_left(
    app: Flask,
) -> None:
    with app.app_context():
        with locks.customer_lock("cust-lock", timeout=0.6, holder="change-1", renew=True):
            time.sleep(1.5)  # more than twice its time to live: still held
            with pytest.raises(locks.Busy), locks.customer_lock("cust-lock", wait=0):
                pass
        with locks.customer_lock("cust-lock", wait=0):  # left: free at once
            pass
        with locks.customer_lock("cust-lock", timeout=0.6, holder="change-2", wait=0):
            assert locks.break_lock("cust-lock", "change-1") is False  # not its holder
            assert locks.break_lock("cust-lock", "change-2") is True
        with locks.customer_lock("cust-lock", wait=0):
            pass


def test_with_the_queue_down_the_row_sent_back_says_the_change_waits(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    data = {**form_values(page, SUB), "quantity": "21"}
    with app.app_context():
        working = app.extensions["seatwise.redis"]
    app.extensions["seatwise.redis"] = Redis(port=1, socket_connect_timeout=0.2)
    try:
        answer = ann.post(
            f"{NW}/subscriptions/{SUB}/quantity", data=data, headers={"HX-Request": "true"}
        )
    finally:
        app.extensions["seatwise.redis"] = working
    row = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "Updating: Change seats from 20 to 21" in row
    assert "cannot be reached just now; the change is kept" in row
    assert 'hx-trigger="every 1s"' in row  # it keeps asking, and shows the outcome later
    with app.app_context():
        assert len(licensing.requeue_stuck_changes()) == 1
    work()
    assert pc_quantity(emulator) == 21


def test_rules_read_a_row_whose_tranches_were_rewritten_just_after_it_without_failing() -> None:
    """A page read the row (30 seats), then a job raised it to 31 and rewrote its tranches
    before the page read them (each read sees the latest commit)."""
    now = utcnow()
    sub = Subscription(
        pc_id="s", offer_id="o", offer_name="Exchange", quantity=30, assigned=10,
        status="active", is_nce=True, is_trial=False, auto_renew=True, term_duration="P1M",
        billing_cycle="monthly", creation_date=now - timedelta(days=3),
        term_start=now - timedelta(days=3), commitment_end=(now + timedelta(days=27)).date(),
        update_count=0, cancel_at_end=False,
        tranches=[
            Tranche(quantity=30, added_at=now - timedelta(days=3), allowed_until=now),
            Tranche(quantity=1, added_at=now, allowed_until=now + timedelta(days=7)),
        ],
    )  # fmt: skip
    facts = licensing.facts_of(sub)
    assert sum(t.quantity for t in facts.tranches) == 30
    assert licensing.nce.quantity_limits(facts, now).reducible.total == 30  # not 31


def test_a_change_accepted_before_the_resellers_relationship_lapsed_is_not_sent(
    app: Flask, demo: dict[str, int], emulator: Emulator, work: Callable[[], None]
) -> None:
    change_id = ask(app, quantity=21)  # Northwind buys through Fabrikam IT, authorised
    with app.app_context():  # then the next sync finds the relationship inactive
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert customer is not None and customer.reseller is not None
        customer.reseller.relationship_status = "Inactive"
        db.session.commit()
    work()
    change = change_of(app, change_id)
    assert change.state == "failed"
    assert (change.outcome or "").startswith("Buying and changes are paused")
    assert patches(emulator) == []
    assert pc_quantity(emulator) == 20
