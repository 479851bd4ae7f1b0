"""Partner Center sync against the emulator over HTTP: import, idempotence, changes, faults."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Customer, DirectoryUser, Subscription, SyncRun
from app.services import catalogue, sync
from app.services.demo import BP_SKU, SCENARIO
from app.services.microsoft import factory
from tests.support.processes import Emulator


def subs(app: Flask, customer: str) -> dict[str, Subscription]:
    with app.app_context():
        rows = db.session.scalars(
            select(Subscription).join(Customer).where(Customer.pc_id == customer)
        ).all()
        for row in rows:
            _ = row.tranches  # load while the session is open
        return {row.pc_id: row for row in rows}


def test_sync_imports_customers_resellers_subscriptions_seats_and_users(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(SCENARIO)
    with app.app_context():
        report = sync.sync_all()
        assert report.failed == {}
        assert report.customers == 2 and report.customers_created == 2
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert northwind is not None
        assert northwind.tenant_id == "11111111-2222-3333-4444-555555555555"
        assert northwind.reseller is not None and northwind.reseller.name == "Fabrikam IT"
        assert northwind.last_synced_at is not None
        users = db.session.scalar(
            select(func.count())
            .select_from(DirectoryUser)
            .where(DirectoryUser.customer_id == northwind.id)
        )
        assert users == 3 + sum(SCENARIO["customers"][0]["assigned"].values())
    nw = subs(app, "cust-northwind")
    bp = nw["sub-nw-bp"]
    assert (bp.quantity, bp.assigned, bp.is_nce, bp.sku_id) == (12, 9, True, BP_SKU)
    open_tranches = [t for t in bp.tranches if t.allowed_until > datetime.now(UTC)]
    assert [t.quantity for t in open_tranches] == [2]  # added 3 days ago: reducible 4 more days
    assert abs(open_tranches[0].allowed_until - (datetime.now(UTC) + timedelta(days=4))) < (
        timedelta(minutes=5)
    )
    # Two E3 subscriptions share 8 assigned seats: the oldest is filled first.
    assert (nw["sub-nw-e3-a"].assigned, nw["sub-nw-e3-b"].assigned) == (5, 3)
    assert nw["sub-nw-o365e1"].is_nce is False and nw["sub-nw-o365e1"].assigned == 15
    assert nw["sub-nw-teams-trial"].is_trial is True
    assert subs(app, "cust-contoso")["sub-co-visio"].status == "suspended"


def test_a_second_sync_changes_nothing(app: Flask, emulator: Emulator) -> None:
    emulator.load(SCENARIO)
    with app.app_context():
        sync.sync_all()
        events = db.session.scalar(select(func.count()).select_from(AuditEvent))
        again = sync.sync_all()
        assert (
            again.customers_created,
            again.subscriptions_created,
            again.subscriptions_changed,
        ) == (0, 0, 0)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_change_in_partner_center_is_synced_and_audited(app: Flask, emulator: Emulator) -> None:
    emulator.load(SCENARIO)
    with app.app_context():
        sync.sync_all()
        pc = factory.partner_center()
        pc.update_subscription("cust-contoso", "sub-co-bs", {"quantity": 33}, request_id="r-1")
        pc.close()
        report = sync.sync_customer("cust-contoso")
        assert report.subscriptions_changed == 1
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.kind == "sync.subscription_changed")
        )
        assert event is not None and event.object_id == "sub-co-bs"
        assert event.before == {"quantity": 30, "etag": event.before["etag"]}
        assert event.after["quantity"] == 33
    assert subs(app, "cust-contoso")["sub-co-bs"].quantity == 33


def test_customers_with_partner_center_sync_off_are_skipped(
    app: Flask, emulator: Emulator, runner: Any
) -> None:
    emulator.load(SCENARIO)
    with app.app_context():
        sync.sync_all()
    assert (
        runner.invoke(args=["settings", "cust-contoso", "partner_center_sync=off"]).exit_code == 0
    )
    with app.app_context():
        report = sync.sync_all()
        assert report.skipped == ["cust-contoso"]


def test_sync_command_prints_a_summary_and_json(
    app: Flask, emulator: Emulator, runner: Any
) -> None:
    emulator.load(SCENARIO)
    text = runner.invoke(args=["sync"])
    assert text.exit_code == 0, text.output
    assert "Synced 2 customers (2 new): 12 subscriptions added" in text.output
    as_json = runner.invoke(args=["sync", "--customer", "cust-contoso", "--json"])
    assert as_json.exit_code == 0
    assert '"subscriptions_changed": 0' in as_json.output


def many_customers(count: int) -> dict[str, Any]:
    """`count` customers, each with three subscriptions and some assigned seats."""
    customers = []
    for i in range(count):
        customers.append(
            {
                "id": f"cust-{i:03d}",
                "name": f"Customer {i:03d}",
                "tenant_id": f"00000000-0000-4000-8000-{i:012d}",
                "assigned": {BP_SKU: i % 7},
                "subscriptions": [
                    {
                        "id": f"sub-{i:03d}-a",
                        "offer_id": "CFQ7TTC0LCHC:0002",
                        "sku_id": BP_SKU,
                        "offer_name": "Microsoft 365 Business Premium",
                        "term": "P1Y",
                        "billing_cycle": "monthly",
                        "created": "-30d",
                        "term_start": "-30d",
                        "tranches": [
                            {"quantity": 5, "added": "-30d"},
                            {"quantity": i % 3 + 1, "added": "-2d"},
                        ],
                    },
                    {
                        "id": f"sub-{i:03d}-b",
                        "offer_id": "CFQ7TTC0LFLX:0001",
                        "sku_id": "05e9a617-0261-4cee-bb44-138d3ef5d965",
                        "offer_name": "Microsoft 365 E3",
                        "term": "P1M",
                        "billing_cycle": "monthly",
                        "created": "-10d",
                        "term_start": "-10d",
                        "quantity": 3,
                    },
                    {
                        "id": f"sub-{i:03d}-c",
                        "offer_id": "CFQ7TTC0LH16:0001",
                        "sku_id": "4b9405b0-7788-4568-add1-99614e613b69",
                        "offer_name": "Exchange Online (Plan 1)",
                        "term": "P1Y",
                        "billing_cycle": "annual",
                        "created": "-100d",
                        "term_start": "-100d",
                        "quantity": 2 + i,
                    },
                ],
            }
        )
    return {"customers": customers}


def snapshot(app: Flask) -> dict[str, tuple[int, int, str, int]]:
    with app.app_context():
        return {
            s.pc_id: (s.quantity, s.assigned, s.status, len(s.tranches))
            for s in db.session.scalars(select(Subscription))
        }


def test_sync_of_50_customers_survives_429_409_500_and_timeouts_with_the_right_result(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(many_customers(50))
    with app.app_context():
        clean = sync.sync_all(with_users=False)
    expected = snapshot(app)
    assert clean.failed == {} and len(expected) == 150
    with app.app_context():  # start again from an empty database
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    emulator.faults(
        [
            {
                "method": "GET",
                "path": r"/subscriptions/sub-00[0-9]-a$",
                "status": 429,
                "times": 4,
                "retry_after": 1,
            },
            {
                "method": "GET",
                "path": r"/customers/cust-01[0-9]/subscriptions$",
                "status": 500,
                "times": 5,
            },
            {
                "method": "GET",
                "path": r"/customers/cust-02[0-4]/subscribedskus",
                "status": 409,
                "times": 3,
            },
            {
                "method": "GET",
                "path": r"/subscriptions/sub-03[0-2]-b$",
                "status": "timeout",
                "times": 2,
            },
            {"method": "GET", "path": r"^/v1/customers$", "status": 500, "times": 1},
        ]
    )
    with app.app_context():
        faulty = sync.sync_all(with_users=False)
    assert faulty.failed == {}
    assert snapshot(app) == expected
    log = emulator.state()["requests"]
    statuses = Counter(entry["status"] for entry in log)
    assert statuses[429] == 4 and statuses[409] == 3
    writes = [e for e in log if e["path"].startswith("/v1/") and e["method"] != "GET"]
    assert writes == []  # a sync only reads


def test_a_customer_whose_calls_keep_failing_is_reported_and_the_others_still_sync(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(many_customers(3))
    emulator.faults({"method": "GET", "path": r"/customers/cust-001/subscriptions$", "status": 500})
    app.config["MICROSOFT_RETRY_SECONDS"] = 3.0
    try:
        with app.app_context():
            report = sync.sync_all(with_users=False)
            failed = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-001"))
            assert failed is not None and "HTTP 500" in (failed.last_sync_error or "")
            assert (
                db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "sync.failed"))
                is not None
            )
    finally:
        app.config["MICROSOFT_RETRY_SECONDS"] = 30.0
    assert list(report.failed) == ["cust-001"]
    assert len(snapshot(app)) == 6


def test_a_throttled_sync_waits_as_told_never_fails_and_stays_under_the_limit(
    app: Flask, emulator: Emulator
) -> None:
    many = many_customers(1)
    many["customers"][0]["subscriptions"] = [
        {**many["customers"][0]["subscriptions"][0], "id": f"sub-t-{i:02d}"} for i in range(12)
    ]
    emulator.load(many)
    emulator.throttle(10)
    waits: list[float] = []

    def wait_on_the_emulator_clock(seconds: float) -> None:
        """The client's injectable sleep: move the emulator's clock instead of waiting."""
        waits.append(seconds)
        emulator.clock(advance=f"PT{math.ceil(seconds)}S")

    app.config["MICROSOFT_RETRY_SECONDS"] = 120.0  # room for a whole minute's Retry-After
    try:
        with app.app_context():
            client = factory.partner_center()
            client.caller.sleep = wait_on_the_emulator_clock
            try:
                report = sync.sync_all(pc=client, with_users=False)
            finally:
                client.close()
    finally:
        emulator.throttle(None)
        app.config["MICROSOFT_RETRY_SECONDS"] = 30.0
    assert waits and max(waits) <= 60  # waited as Retry-After said, never a whole run
    assert report.failed == {}
    assert len(snapshot(app)) == 12
    log = [r for r in emulator.state()["requests"] if "/customers/cust-000/" in r["path"]]
    admitted = sorted(datetime.fromisoformat(r["at"]) for r in log if r["status"] != 429)
    assert any(r["status"] == 429 for r in log)  # the limit was reached, and honoured
    for i, start in enumerate(admitted):  # no sliding minute holds more than 10
        in_window = [t for t in admitted[i:] if t - start < timedelta(seconds=60)]
        assert len(in_window) <= 10


def test_a_throttled_customer_waits_alone_while_the_others_sync(
    app: Flask, emulator: Emulator
) -> None:
    """Partner Center limits each customer tenant: a 429 for one must not stop the rest."""
    emulator.load(many_customers(3))
    emulator.faults(
        {
            "method": "GET",
            "path": r"/customers/cust-000/subscriptions$",
            "status": 429,
            "times": 1,
            "retry_after": 2,
        }
    )
    with app.app_context():
        report = sync.sync_all(with_users=False, concurrency=3)
    assert report.failed == {} and report.subscriptions_created == 9
    log = [(e["path"], e["status"]) for e in emulator.state()["requests"]]
    throttled = log.index(("/v1/customers/cust-000/subscriptions", 429))
    retried = log.index(("/v1/customers/cust-000/subscriptions", 200))
    others = [path for path, _ in log[throttled + 1 : retried] if "/cust-00" in path]
    assert others and not any("cust-000" in path for path in others)  # they went on meanwhile
    assert report.requests == len(log)


def test_old_finished_sync_runs_are_pruned_and_recent_or_running_ones_kept(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(many_customers(1))
    with app.app_context():
        sync.sync_all(with_users=False)
        customer = db.session.scalar(select(Customer))
        assert customer is not None
        now = datetime.now(UTC)
        for days, state in ((31, "done"), (40, "failed"), (31, "running"), (29, "done")):
            db.session.add(
                SyncRun(customer_id=customer.id, state=state, started_at=now - timedelta(days))
            )
        db.session.commit()
        assert sync.prune_runs() == 2
        left = sorted(
            (r.state, (now - r.started_at).days) for r in db.session.scalars(select(SyncRun))
        )
        assert left == [("done", 0), ("done", 29), ("running", 31)]


def test_a_new_subscription_takes_the_price_of_its_own_term_and_billing_frequency(
    app: Flask, emulator: Emulator
) -> None:
    premium = "CFQ7TTC0LCHC:0002"  # Microsoft 365 Business Premium: $22.00 annual, upfront
    options = (("P1Y", "annual"), ("P1Y", "monthly"), ("P1M", "monthly"))

    def customer(pc_id: str) -> dict[str, Any]:
        subscriptions = [
            {
                "id": f"{pc_id}-{term}-{cycle}",
                "offer_id": premium,
                "sku_id": BP_SKU,
                "offer_name": "Microsoft 365 Business Premium",
                "term": term,
                "billing_cycle": cycle,
                "quantity": 1,
            }
            for term, cycle in options
        ]
        return {"id": pc_id, "name": pc_id, "subscriptions": subscriptions}

    def prices(pc_id: str) -> dict[str, Decimal]:
        return {key: row.unit_price for key, row in subs(app, pc_id).items()}

    emulator.load({"customers": [customer("cust-p")]})
    with app.app_context():  # no cached catalogue: the list price, and rule 15's +5 %
        assert sync.sync_all(with_users=False).failed == {}
    assert prices("cust-p")["cust-p-P1Y-annual"] == Decimal("22.00")
    assert prices("cust-p")["cust-p-P1Y-monthly"] == Decimal("23.10")

    emulator.load({"customers": [customer("cust-q")]})
    with app.app_context():  # the catalogue cached: each option's own price
        catalogue.refresh()
        assert sync.sync_all(with_users=False).failed == {}
    assert prices("cust-q") == {
        "cust-q-P1Y-annual": Decimal("22.00"),
        "cust-q-P1Y-monthly": Decimal("23.10"),
        "cust-q-P1M-monthly": Decimal("26.40"),  # a monthly term: 20 % dearer than annual
    }
