"""Auto license adjustment through the emulator: PRODUCT.md's examples, once a day, faults."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import AdjustmentRun, Customer
from app.models._types import utcnow
from app.services import adjustment, sync
from app.services.settings import change_settings
from tests.support.processes import Emulator

BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
E3, E3_SKU = "CFQ7TTC0LFLX:0001", "05e9a617-0261-4cee-bb44-138d3ef5d965"
BB, BB_SKU = "CFQ7TTC0LH18:0001", "3b555118-da6a-4418-894f-7df1e2096870"


def sub(sub_id: str, offer: str, sku: str, created: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": sub_id,
        "offer_id": offer,
        "sku_id": sku,
        "offer_name": sub_id,
        "term": "P1Y",
        "billing_cycle": "monthly",
        "created": created,
        "term_start": created,
        "unit_price": 20.0,
        **extra,
    }


def customer(cid: str, subs: list[dict[str, Any]], assigned: dict[str, int]) -> dict[str, Any]:
    return {
        "id": cid,
        "name": cid,
        "tenant_id": f"tenant-{cid}",
        "subscriptions": subs,
        "assigned": assigned,
    }


def prepare(app: Flask, emulator: Emulator, customers: list[dict[str, Any]]) -> None:
    emulator.load({"customers": customers})
    with app.app_context():
        report = sync.sync_all(with_users=False)
        assert report.failed == {}
        for c in customers:
            change_settings(
                c["id"], {"auto_increment": "on", "auto_license_adjustment": "on"}, actor="test"
            )


def pc(emulator: Emulator) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for c in emulator.state()["customers"] for s in c["subscriptions"]}


def run(app: Flask, cid: str) -> adjustment.Outcome:
    with app.app_context():
        return adjustment.run(cid)


def test_excess_seats_inside_the_window_are_returned(app: Flask, emulator: Emulator) -> None:
    prepare(
        app,
        emulator,
        [
            customer(
                "c1",
                [
                    sub(
                        "s-bp",
                        BP,
                        BP_SKU,
                        "-40d",
                        tranches=[
                            {"quantity": 10, "added": "-40d"},
                            {"quantity": 2, "added": "-3d"},
                        ],
                    )
                ],
                {BP_SKU: 10},
            )
        ],
    )
    outcome = run(app, "c1")
    assert outcome.state == "done"
    assert pc(emulator)["s-bp"]["quantity"] == 10
    # two seats at 23.10 a month: the catalogue price of 22 for an annual term, +5 % billed monthly
    assert outcome.saving_now == Decimal("46.20")


def test_duplicates_merge_onto_the_oldest_and_the_newer_is_set_to_one_and_suspended(
    app: Flask, emulator: Emulator
) -> None:
    prepare(
        app,
        emulator,
        [
            customer(
                "c2",
                [
                    sub("e3-old", E3, E3_SKU, "-100d", quantity=5),
                    sub("e3-new", E3, E3_SKU, "-2d", quantity=5),
                ],
                {E3_SKU: 10},
            )
        ],
    )
    outcome = run(app, "c2")
    state = pc(emulator)
    assert (state["e3-old"]["quantity"], state["e3-new"]["quantity"]) == (10, 1)
    assert state["e3-new"]["status"] == "suspended"
    assert [a["kind"] for a in outcome.actions] == ["merge_increase", "reduce_now", "suspend"]


def test_a_subscription_nobody_uses_is_suspended(app: Flask, emulator: Emulator) -> None:
    prepare(
        app, emulator, [customer("c3", [sub("bb", BB, BB_SKU, "-40d", quantity=10)], {BB_SKU: 0})]
    )
    outcome = run(app, "c3")
    held = pc(emulator)["bb"]
    assert held["status"] == "suspended"
    # ... and set to cancel at the end of its term, so it does not go on in the paid EST.
    assert [a["actionType"] for a in held["scheduledActions"]] == ["Cancel"]
    assert outcome.state == "done"


def run_case(
    app: Flask, emulator: Emulator, cid: str, subs: list[dict[str, Any]], assigned: dict[str, int]
) -> tuple[adjustment.Outcome, dict[str, dict[str, Any]]]:
    prepare(app, emulator, [customer(cid, subs, assigned)])
    outcome = run(app, cid)
    assert outcome.state == "done", outcome.message
    again = run(app, cid)  # the day's run happens once
    assert again.run_id == outcome.run_id
    with app.app_context():  # and the next night, from fresh data, has nothing left to do
        sync.sync_customer(cid)
        row = db.session.scalar(select(Customer).where(Customer.pc_id == cid))
        assert row is not None
        assert adjustment.plan_for(row, utcnow()).is_empty
    return outcome, pc(emulator)


def test_an_unused_subscription_bought_two_days_ago_is_cancelled_for_a_refund(
    app: Flask, emulator: Emulator
) -> None:
    outcome, state = run_case(
        app, emulator, "c-young", [sub("young", BB, BB_SKU, "-2d", quantity=6)], {BB_SKU: 0}
    )
    assert state["young"]["status"] == "deleted"
    assert [a["kind"] for a in outcome.actions] == ["cancel"]


def test_duplicates_are_not_merged_onto_an_oldest_that_does_not_renew(
    app: Flask, emulator: Emulator
) -> None:
    outcome, state = run_case(
        app,
        emulator,
        "c-ending",
        [
            sub("e3-ending", E3, E3_SKU, "-100d", quantity=5, auto_renew=False),
            sub("e3-renewing", E3, E3_SKU, "-2d", quantity=5),
        ],
        {E3_SKU: 10},
    )
    assert state["e3-ending"]["quantity"] == 5 and state["e3-renewing"]["quantity"] == 5
    assert state["e3-renewing"]["status"] == "active"
    assert "merge_increase" not in [a["kind"] for a in outcome.actions]


def test_monthly_term_seats_are_not_folded_into_an_annual_subscription(
    app: Flask, emulator: Emulator
) -> None:
    outcome, state = run_case(
        app,
        emulator,
        "c-terms",
        [
            sub("e3-annual", E3, E3_SKU, "-100d", quantity=5),
            sub("e3-monthly", E3, E3_SKU, "-2d", quantity=5, term="P1M"),
        ],
        {E3_SKU: 10},
    )
    assert (state["e3-annual"]["quantity"], state["e3-monthly"]["quantity"]) == (5, 5)
    assert not [a for a in outcome.actions if a["kind"] != "left_alone"]


def test_an_older_trial_of_the_product_leaves_the_paid_subscription_alone(
    app: Flask, emulator: Emulator
) -> None:
    outcome, state = run_case(
        app,
        emulator,
        "c-trial",
        [
            sub("bp-trial", "CFQ7TTC0LCHC:0001", BP_SKU, "-20d", quantity=25, trial=True),
            sub("bp-paid", BP, BP_SKU, "-10d", quantity=10),
        ],
        {BP_SKU: 10},
    )
    assert state["bp-paid"]["quantity"] == 10 and state["bp-paid"]["status"] == "active"
    assert not [a for a in outcome.actions if a["subscription"] == "bp-paid"]


def test_excess_outside_the_window_becomes_a_reduction_scheduled_at_renewal(
    app: Flask, emulator: Emulator
) -> None:
    prepare(
        app, emulator, [customer("c4", [sub("s", BP, BP_SKU, "-40d", quantity=12)], {BP_SKU: 10})]
    )
    outcome = run(app, "c4")
    held = pc(emulator)["s"]
    assert held["quantity"] == 12
    assert held["scheduledNextTermInstructions"]["quantity"] == 10
    assert outcome.saving_now == 0 and outcome.saving_at_renewal == Decimal("46.20")


def test_mixed_tranches_return_part_now_and_schedule_the_rest(
    app: Flask, emulator: Emulator
) -> None:
    prepare(
        app,
        emulator,
        [
            customer(
                "c5",
                [
                    sub(
                        "s",
                        BP,
                        BP_SKU,
                        "-40d",
                        tranches=[
                            {"quantity": 10, "added": "-40d"},
                            {"quantity": 2, "added": "-1d"},
                        ],
                    )
                ],
                {BP_SKU: 7},
            )
        ],
    )
    outcome = run(app, "c5")
    held = pc(emulator)["s"]
    assert held["quantity"] == 10
    assert held["scheduledNextTermInstructions"]["quantity"] == 7
    assert [a["kind"] for a in outcome.actions] == ["reduce_now", "schedule_reduction"]


def test_a_second_run_the_same_day_changes_nothing(app: Flask, emulator: Emulator) -> None:
    prepare(
        app,
        emulator,
        [
            customer(
                "c6",
                [
                    sub(
                        "s",
                        BP,
                        BP_SKU,
                        "-40d",
                        tranches=[
                            {"quantity": 10, "added": "-40d"},
                            {"quantity": 2, "added": "-3d"},
                        ],
                    )
                ],
                {BP_SKU: 10},
            )
        ],
    )
    first = run(app, "c6")
    writes = [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]
    second = run(app, "c6")
    assert second.run_id == first.run_id
    assert [r for r in emulator.state()["requests"] if r["method"] == "PATCH"] == writes
    with app.app_context():  # and a fresh plan has nothing left to do
        c = db.session.scalar(select(Customer).where(Customer.pc_id == "c6"))
        assert c is not None
        assert adjustment.plan_for(
            c, __import__("datetime").datetime.now(__import__("datetime").UTC)
        ).is_empty


def test_a_preview_changes_nothing_and_shows_the_saving(
    app: Flask, emulator: Emulator, runner: Any
) -> None:
    prepare(
        app,
        emulator,
        [
            customer(
                "c7",
                [
                    sub(
                        "s",
                        BP,
                        BP_SKU,
                        "-40d",
                        tranches=[
                            {"quantity": 10, "added": "-40d"},
                            {"quantity": 2, "added": "-3d"},
                        ],
                    )
                ],
                {BP_SKU: 10},
            )
        ],
    )
    result = runner.invoke(args=["reconcile", "--customer", "c7", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    assert '"kind": "reduce_now"' in result.output and '"saving_now": "46.20"' in result.output
    assert pc(emulator)["s"]["quantity"] == 12
    assert not [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]


def test_enabling_is_refused_without_auto_increment(
    app: Flask, emulator: Emulator, runner: Any
) -> None:
    prepare(
        app, emulator, [customer("c8", [sub("s", BP, BP_SKU, "-40d", quantity=3)], {BP_SKU: 3})]
    )
    result = runner.invoke(args=["settings", "c8", "auto_increment=off"])
    assert result.exit_code != 0 and "needs Auto increment on" in result.output


@pytest.mark.slow
def test_with_faults_over_200_customers_every_plan_is_applied_once_or_reported_failed(
    app: Flask, emulator: Emulator
) -> None:
    customers = [
        customer(
            f"f{i:03d}",
            [
                sub(
                    f"f{i:03d}-s",
                    BP,
                    BP_SKU,
                    "-40d",
                    tranches=[{"quantity": 10, "added": "-40d"}, {"quantity": 2, "added": "-2d"}],
                )
            ],
            {BP_SKU: 10},
        )
        for i in range(200)
    ]
    prepare(app, emulator, customers)
    emulator.faults(
        [
            {"method": "PATCH", "path": r"f0[0-4]\d-s$", "status": 409, "times": 5},
            {
                "method": "PATCH",
                "path": r"f1[0-4]\d-s$",
                "status": 429,
                "times": 3,
                "retry_after": 1,
            },
            {"method": "PATCH", "path": r"f19[7-9]-s$", "status": 500},  # never recovers
            {"method": "GET", "path": r"f05\d-s$", "status": 500, "times": 2},
        ]
    )
    app.config["MICROSOFT_RETRY_SECONDS"] = 5.0
    try:
        outcomes = [run(app, c["id"]) for c in customers]
    finally:
        app.config["MICROSOFT_RETRY_SECONDS"] = 30.0
    states = Counter(o.state for o in outcomes)
    failed = {o.customer: o.actions[0].get("outcome") for o in outcomes if o.state != "done"}
    assert states == {"done": 197, "failed": 3}, failed
    for o in outcomes:
        if o.state == "failed":
            outcome = o.actions[0]["outcome"]
            assert "HTTP 500" in outcome and "does not show the change, so it was not made" in (
                outcome
            )
    held = pc(emulator)
    quantities = Counter(held[f"{c['id']}-s"]["quantity"] for c in customers)
    assert quantities == {10: 197, 12: 3}
    applied = Counter(
        r["path"]
        for r in emulator.state()["requests"]
        if r["method"] == "PATCH" and r["status"] == 200
    )
    assert all(count == 1 for count in applied.values()) and len(applied) == 197
    with app.app_context():
        assert db.session.query(AdjustmentRun).count() == 200


def test_partner_centers_word_on_refunds_and_cancellation_wins_over_the_computed_rules(
    app: Flask, emulator: Emulator
) -> None:
    """A young subscription whose seats Partner Center marks non-refundable, and one made by
    a partial upgrade (no cancellation allowed): neither is reduced nor cancelled."""
    from app.domain.roles import Role
    from app.models import Subscription as Row
    from app.services import license_rows

    prepare(
        app,
        emulator,
        [
            customer(
                "c-pc-word",
                [
                    sub(
                        "young-fixed",
                        E3,
                        E3_SKU,
                        "-2d",
                        tranches=[{"quantity": 8, "added": "-2d", "refundable": False}],
                    ),
                    sub("upgraded", BB, BB_SKU, "-1d", quantity=4, cancellable_until=None),
                ],
                {E3_SKU: 5, BB_SKU: 0},
            )
        ],
    )
    with app.app_context():
        row = db.session.scalar(select(Row).where(Row.pc_id == "young-fixed"))
        assert row is not None
        customer_row = db.session.get(Customer, row.customer_id)
        assert customer_row is not None
        view = license_rows.row(customer_row, Role.ADMIN, "young-fixed")
        assert view.reducible_text.startswith("No seats can be reduced now")
        upgraded = license_rows.row(customer_row, Role.ADMIN, "upgraded")
        assert upgraded.sub.status == "active"
        assert not upgraded.cancel.allowed  # Partner Center allows no cancellation
        assert "7 days" in upgraded.cancel.reason
    outcome = run(app, "c-pc-word")
    state = pc(emulator)
    assert state["young-fixed"]["quantity"] == 8  # no seat Partner Center would refuse
    assert state["upgraded"]["status"] != "deleted"  # suspended, not cancelled
    assert "cancel" not in [a["kind"] for a in outcome.actions]
    assert outcome.state == "done"


COPILOT, COPILOT_SKU = "CFQ7TTC0MM8R:0001", "639dec6b-bb19-468b-871c-c5c441c4b0cb"


def test_base_seats_are_never_returned_below_the_copilot_seats(
    app: Flask, emulator: Emulator
) -> None:
    """An add-on and its base move together: E3 keeps at least the 8 Copilot seats."""
    outcome, state = run_case(
        app,
        emulator,
        "c-copilot",
        [
            sub("e3", E3, E3_SKU, "-2d", quantity=10),
            sub("copilot", COPILOT, COPILOT_SKU, "-100d", quantity=8),
        ],
        {E3_SKU: 3, COPILOT_SKU: 8},
    )
    assert state["e3"]["quantity"] == 8  # 2 returned, not 7
    assert state["copilot"]["quantity"] == 8
    assert [
        (a["subscription"], a["kind"]) for a in outcome.actions if a["kind"] != "left_alone"
    ] == [("e3", "reduce_now")]


def test_a_scheduled_upgrade_is_kept_and_only_its_quantity_lowered(
    app: Flask, emulator: Emulator
) -> None:
    """A change scheduled in Partner Center (E3 -> E5 at renewal) is edited, never replaced
    with "renew as is"."""
    upgrade = {
        "product": {
            "productId": "CFQ7TTC0LFLZ",
            "skuId": "0001",
            "availabilityId": "CFQ7TTC0LFLZ0001",
            "billingCycle": "monthly",
            "termDuration": "P1Y",
        },
        "quantity": 12,
    }
    outcome, state = run_case(
        app,
        emulator,
        "c-upgrade",
        [sub("e3-up", E3, E3_SKU, "-40d", quantity=12, scheduled=upgrade)],
        {E3_SKU: 10},
    )
    held = state["e3-up"]["scheduledNextTermInstructions"]
    assert held["product"]["productId"] == "CFQ7TTC0LFLZ"  # still the upgrade to E5
    assert held["quantity"] == 10
    assert [a["kind"] for a in outcome.actions] == ["schedule_reduction"]
