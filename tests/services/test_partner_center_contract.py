"""Contract tests: our Partner Center and Graph clients against the emulator over HTTP.

Every route the product uses, each New Commerce refusal (status and Microsoft's code), the
whole-object PATCH pitfall, etags, request-id replay, paging and the catalogue.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask

from app.services.microsoft import factory
from app.services.microsoft.graph import GraphClient
from app.services.microsoft.http import EtagMismatch, GaveUp, MicrosoftError, Refused, RetryPolicy
from app.services.microsoft.partner_center import CartLine, PartnerCenterClient
from tests.support.processes import Emulator

BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
E3, E3_SKU = "CFQ7TTC0LFLX:0001", "05e9a617-0261-4cee-bb44-138d3ef5d965"
EMS_E3 = "CFQ7TTC0LHT4:0001"
COPILOT = "CFQ7TTC0MM8R:0001"
EXO, EXO_SKU = "CFQ7TTC0LH16:0001", "4b9405b0-7788-4568-add1-99614e613b69"
TENANT = "contract-tenant"


def sub(
    sid: str, offer: str = BP, sku: str = BP_SKU, created: str = "-40d", **extra: Any
) -> dict[str, Any]:
    return {
        "id": sid,
        "offer_id": offer,
        "sku_id": sku,
        "offer_name": sid,
        "term": "P1Y",
        "billing_cycle": "monthly",
        "created": created,
        "term_start": created,
        **extra,
    }


SCENARIO = {
    "resellers": [
        {"id": "res-ok", "name": "Authorised", "relationship": "authorised"},
        {"id": "res-no", "name": "Not authorised", "relationship": "none"},
    ],
    "customers": [
        {
            "id": "c",
            "name": "Contract Co",
            "tenant_id": TENANT,
            "domain": "contract.example",
            "reseller_id": "res-ok",
            "assigned": {BP_SKU: 10, E3_SKU: 3, EXO_SKU: 3},
            "users": [
                {"id": "u-free", "upn": "free@contract.example", "name": "Free", "licenses": []}
            ],
            "subscriptions": [
                sub(
                    "bp",
                    tranches=[{"quantity": 10, "added": "-40d"}, {"quantity": 2, "added": "-3d"}],
                ),
                sub("e3", E3, E3_SKU, "-30d", quantity=5),
                sub("old", E3, E3_SKU, "-30d", quantity=3, status="suspended", auto_renew=False),
                sub("trial", BP, BP_SKU, "-5d", quantity=25, trial=True, term="P1M"),
                sub("capped", E3, E3_SKU, "-30d", quantity=4, update_count=1200),
                sub("ems", EMS_E3, "efccb6f7-5641-4e0e-bd10-b4976e1bf68e", "-30d", quantity=2),
                sub("exo", EXO, EXO_SKU, "-2d", quantity=3),
            ],
        }
    ],
}


@pytest.fixture
def pc(app: Flask, emulator: Emulator) -> Iterator[PartnerCenterClient]:
    emulator.load(SCENARIO)
    with app.app_context():
        client = factory.partner_center()
    client.caller.policy = RetryPolicy(total_seconds=3, conflict_delay=0.1, backoff_base=0.05)
    yield client
    client.close()


@pytest.fixture
def graph(app: Flask, emulator: Emulator, pc: PartnerCenterClient) -> Iterator[GraphClient]:
    with app.app_context():
        client = factory.graph(TENANT)
    yield client
    client.close()


def rid() -> str:
    return str(uuid.uuid4())


def refused_code(call: Any) -> str | None:
    with pytest.raises(Refused) as caught:
        call()
    assert caught.value.status == 400
    return caught.value.code


def test_customers_are_paged_to_the_end_and_filtered_by_reseller(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(
        {
            "customers": [
                {
                    "id": f"p{i:03d}",
                    "name": f"P{i}",
                    "tenant_id": f"t{i}",
                    "reseller_id": "r1" if i % 2 else None,
                }
                for i in range(230)
            ],
            "resellers": [{"id": "r1", "name": "R1"}],
        }
    )
    with app.app_context():
        client = factory.partner_center()
    try:
        assert len(list(client.customers(page_size=100))) == 230
        assert len(list(client.customers(reseller_id="r1", page_size=50))) == 115
        assert [r.name for r in client.resellers()] == ["R1"]
    finally:
        client.close()


def test_get_by_id_carries_refundable_seats_and_the_list_does_not(pc: PartnerCenterClient) -> None:
    one = pc.subscription("c", "bp")
    assert one.refundable is not None and [t.quantity for t in one.refundable] == [2]
    assert one.etag and one.is_nce and one.quantity == 12
    listed = {s.id: s for s in pc.subscriptions("c")}
    assert listed["bp"].refundable is None
    assert pc.customer("c").tenant_id == TENANT


def test_the_offer_key_is_product_and_sku_of_the_documented_offer_id(
    pc: PartnerCenterClient,
) -> None:
    """get-a-subscription-by-id.md: a new-commerce `offerId` is `product:sku:availability`;
    the client keys offers by `product:sku` and keeps the full id for whole-object PATCHes."""
    one = pc.subscription("c", "bp")
    product, sku, availability = one.raw["offerId"].split(":")
    assert (one.offer_id, one.product_id, one.sku) == (BP, product, sku) and availability
    assert {s.offer_id for s in pc.subscriptions("c")} == {BP, E3, EMS_E3, EXO}
    pc.update_subscription("c", "bp", {"quantity": 13}, request_id=rid())
    assert pc.subscription("c", "bp").raw["offerId"] == one.raw["offerId"]


def test_a_partial_patch_turns_auto_renew_off_and_the_whole_object_update_does_not(
    pc: PartnerCenterClient,
) -> None:
    scheduled = pc.update_subscription(
        "c", "e3", {"scheduledNextTermInstructions": {"quantity": 4}}, request_id=rid()
    )
    assert scheduled.scheduled_quantity == 4 and scheduled.auto_renew
    renamed = pc.update_subscription("c", "e3", {"friendlyName": "E3 main"}, request_id=rid())
    assert renamed.auto_renew and renamed.scheduled_quantity == 4  # whole object kept both
    fresh = pc.subscription("c", "e3")
    pc.caller.request(
        "PATCH",
        "/customers/c/subscriptions/e3",
        json={"friendlyName": "x"},
        headers={"If-Match": fresh.etag or "*"},
        request_id=rid(),
    )
    pitfall = pc.subscription("c", "e3")
    assert pitfall.auto_renew is False and pitfall.scheduled_quantity is None


def test_the_end_of_term_choice_is_read_and_set_by_whole_object_patches(
    pc: PartnerCenterClient,
) -> None:
    assert pc.subscription("c", "e3").end_of_term == "renew"
    scheduled = pc.update_subscription(
        "c", "e3", {"scheduledNextTermInstructions": {"quantity": 4}}, request_id=rid()
    )
    kept = pc.set_end_of_term("c", "e3", "renew", request_id=rid(), current=scheduled)
    assert kept.auto_renew and kept.scheduled_quantity == 4  # the instructions survive
    cancel = pc.set_end_of_term("c", "e3", "cancel", request_id=rid())
    assert (cancel.auto_renew, cancel.end_of_term, cancel.cancel_at_end) == (False, "cancel", True)
    assert cancel.scheduled_quantity is None  # auto-renew off deletes scheduled changes
    renamed = pc.update_subscription("c", "e3", {"friendlyName": "E3 main"}, request_id=rid())
    assert renamed.cancel_at_end  # a whole-object update keeps the choice
    est = pc.set_end_of_term("c", "e3", "est", request_id=rid())
    assert (est.auto_renew, est.end_of_term, est.in_est) == (False, "est", False)
    back = pc.update_subscription("c", "e3", {"autoRenewEnabled": True}, request_id=rid())
    assert (back.auto_renew, back.end_of_term) == (True, "renew")
    # Only turning auto-renew off leaves Microsoft's default: EST for this 2026 subscription.
    off = pc.update_subscription("c", "e3", {"autoRenewEnabled": False}, request_id=rid())
    assert (off.end_of_term, off.cancel_at_end) == ("est", False)


def test_a_subscription_in_est_shows_its_price_and_can_be_cancelled_any_time(
    pc: PartnerCenterClient, emulator: Emulator
) -> None:
    emulator.load(
        {
            "customers": [
                {
                    "id": "c",
                    "subscriptions": [
                        sub("ending", quantity=3, commitment_end="+1d", end_of_term="est"),
                        sub("leaving", quantity=2, commitment_end="+1d", end_of_term="cancel"),
                    ],
                }
            ]
        }
    )
    emulator.clock(advance="P3D")
    ending = pc.subscription("c", "ending")
    assert ending.status == "active" and ending.in_est and ending.term_duration == "P1M"
    assert ending.est is not None and ending.est.unit_price == Decimal("22.66")
    assert ending.est.uplift_percent == 3 and ending.est.previous_term == "P1Y"
    assert ending.cancellation_allowed_until is not None
    assert ending.cancellation_allowed_until.date() > ending.est.since
    cancelled = pc.update_subscription("c", "ending", {"status": "deleted"}, request_id=rid())
    assert cancelled.status == "deleted"

    leaving = pc.subscription("c", "leaving")
    assert leaving.status == "deleted" and not leaving.in_est
    assert (
        refused_code(
            lambda: pc.update_subscription(
                "c", "leaving", {"status": "active", "autoRenewEnabled": True}, request_id=rid()
            )
        )
        == "800106"
    )


def test_a_stale_etag_is_refused_with_412(pc: PartnerCenterClient) -> None:
    stale = pc.subscription("c", "bp")
    pc.update_subscription("c", "bp", {"quantity": 13}, request_id=rid())
    with pytest.raises(EtagMismatch):
        pc.update_subscription("c", "bp", {"quantity": 14}, request_id=rid(), current=stale)


def test_a_repeated_request_id_is_applied_once(pc: PartnerCenterClient, emulator: Emulator) -> None:
    same = rid()
    first = pc.update_subscription("c", "bp", {"quantity": 13}, request_id=same)
    pc.caller.request(
        "PATCH",
        "/customers/c/subscriptions/bp",
        json={**first.raw, "quantity": 13},
        headers={"If-Match": "*"},
        request_id=same,
    )
    assert pc.subscription("c", "bp").quantity == 13
    replays = [r for r in emulator.state()["requests"] if r.get("replayed")]
    assert len(replays) == 1


@pytest.mark.parametrize(
    ("sub_id", "changes", "code"),
    [
        ("bp", {"quantity": 9}, "800090"),  # beyond the refundable seats
        ("e3", {"quantity": 0}, "800101"),
        ("exo", {"quantity": 2}, "800102"),
        ("e3", {"status": "deleted"}, "800103"),
        ("trial", {"quantity": 26}, "800104"),
        (
            "old",
            {"status": "suspended", "scheduledNextTermInstructions": {"quantity": 2}},
            "800105",
        ),
        ("old", {"quantity": 4}, "800106"),
        ("capped", {"quantity": 5}, "800107"),
    ],
)
def test_each_new_commerce_refusal_has_its_status_and_code(
    pc: PartnerCenterClient, emulator: Emulator, sub_id: str, changes: dict[str, Any], code: str
) -> None:
    before = pc.subscription("c", sub_id)
    assert (
        refused_code(lambda: pc.update_subscription("c", sub_id, changes, request_id=rid())) == code
    )
    after = pc.subscription("c", sub_id)
    assert (after.quantity, after.status, after.etag) == (
        before.quantity,
        before.status,
        before.etag,
    )


def test_a_pending_renewal_answers_409_and_the_client_gives_up_within_its_budget(
    pc: PartnerCenterClient, emulator: Emulator
) -> None:
    end = pc.subscription("c", "e3").commitment_end
    emulator.clock(
        now=datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=UTC).isoformat()
    )
    with pytest.raises(GaveUp) as caught:
        pc.update_subscription("c", "e3", {"quantity": 6}, request_id=rid())
    assert caught.value.status == 409 and caught.value.code == "800082"


def test_the_catalogue_lists_products_skus_with_entra_ids_and_availabilities(
    pc: PartnerCenterClient,
) -> None:
    skus = pc.catalogue()
    assert len(skus) >= 20
    premium = next(s for s in skus if f"{s.product_id}:{s.sku}" == BP)
    assert premium.azure_sku_id == BP_SKU and premium.unit_price
    assert pc.availabilities(premium.product_id, premium.sku)[0].startswith(f"{BP}:")
    assert pc.provisioning_sku("c", "bp") == BP_SKU


def item(pc: PartnerCenterClient, offer: str) -> str:
    product, sku = offer.split(":")
    return pc.availabilities(product, sku)[0]


def test_buying_creates_subscriptions_and_the_cart_rules_are_enforced(
    pc: PartnerCenterClient,
) -> None:
    bought = pc.buy("c", [CartLine(item(pc, COPILOT), 5)], request_id=rid())
    assert len(bought) == 1 and pc.subscription("c", bought[0].subscription_id).quantity == 5
    too_many = [CartLine(item(pc, COPILOT), 100)]
    assert refused_code(lambda: pc.buy("c", too_many, request_id=rid())) == "800108"
    six = CartLine(
        item(pc, E3),
        1,
        reseller_of_record="res-ok",
        other_resellers=tuple(f"x{i}" for i in range(6)),
    )
    assert (
        refused_code(lambda: pc.buy("c", [six], request_id=rid(), attest_partner_of_record=True))
        == "800110"
    )
    named = CartLine(item(pc, E3), 1, reseller_of_record="res-ok", other_resellers=("x1",))
    assert refused_code(lambda: pc.buy("c", [named], request_id=rid())) == "800111"
    bad_record = CartLine(item(pc, E3), 1, reseller_of_record="res-no")
    assert (
        refused_code(
            lambda: pc.buy("c", [bad_record], request_id=rid(), attest_partner_of_record=True)
        )
        == "800112"
    )
    unknown = CartLine("NOPE:0001:XYZ", 1)
    assert refused_code(lambda: pc.buy("c", [unknown], request_id=rid())) == "800114"


def test_one_per_customer_offers_are_refused_the_second_time(pc: PartnerCenterClient) -> None:
    trial = next(s for s in pc.catalogue() if s.is_trial)
    line = CartLine(item(pc, f"{trial.product_id}:{trial.sku}"), 25, term_duration="P1M")
    pc.buy("c", [line], request_id=rid())
    assert refused_code(lambda: pc.buy("c", [line], request_id=rid())) == "800109"


def test_upgrades_go_up_only_and_unsupported_paths_are_refused(pc: PartnerCenterClient) -> None:
    targets = pc.transition_eligibilities("c", "e3")
    e5 = next(t for t in targets if t.title == "Microsoft 365 E5")
    assert e5.eligible
    done = pc.transition(
        "c", "e3", to_catalog_item_id=e5.catalog_item_id, quantity=5, request_id=rid()
    )
    assert done["toSubscriptionId"] == "e3"
    assert pc.subscription("c", "e3").offer_id.startswith("CFQ7TTC0LFLZ")
    ems_e5 = item(pc, "CFQ7TTC0LFJ1:0001")
    assert (
        refused_code(
            lambda: pc.transition(
                "c", "ems", to_catalog_item_id=ems_e5, quantity=2, request_id=rid()
            )
        )
        == "800113"
    )


def test_audit_records_list_the_changes(pc: PartnerCenterClient) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    pc.update_subscription("c", "bp", {"quantity": 13}, request_id=rid())
    records = pc.audit_records(start)
    assert any("bp" in str(r.get("resourceNewValue", "")) for r in records)


def test_graph_lists_users_assigns_and_refuses_without_a_free_seat(
    graph: GraphClient, emulator: Emulator
) -> None:
    users = list(graph.users(page_size=4))
    assert len(users) == 17  # 16 generated license holders + one without
    skus = {s.sku_id: s for s in graph.subscribed_skus()}
    assert skus[E3_SKU].consumed == 3 and skus[E3_SKU].enabled == 9  # the suspended one aside
    graph.assign_license("u-free", add=(E3_SKU,))
    assert {s.sku_id: s for s in graph.subscribed_skus()}[E3_SKU].consumed == 4
    ems = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # two seats, nobody has one yet
    first, second, third = (u.id for u in users[:3])
    graph.assign_license(first, add=(ems,))
    graph.assign_license(second, add=(ems,))
    with pytest.raises(MicrosoftError) as caught:
        graph.assign_license(third, add=(ems,))
    assert caught.value.status == 400 and "available" in str(caught.value)


def test_tokens_are_shared_between_processes_through_redis_and_forgotten_after_a_401(
    app: Flask, emulator: Emulator
) -> None:
    """Each RQ job runs in a fresh process: a token fetched by one job serves the next."""
    import httpx

    from app.queue import get_redis
    from app.services.microsoft.http import TokenSource

    client_id = f"app-{uuid.uuid4().hex[:8]}"  # a key of this test's own in Redis
    with app.app_context():
        store = get_redis()
    with httpx.Client(timeout=5) as http:

        def source(shared: bool) -> TokenSource:
            return TokenSource(
                emulator.url, client_id, "secret", "scope/.default", http, store if shared else None
            )

        first = source(shared=True).token(TENANT)
        assert source(shared=True).token(TENANT) == first  # the emulator issues a new one each time
        assert source(shared=False).token(TENANT) != first
        assert source(shared=True).token("another-tenant") != first
        used = source(shared=True)
        used.token(TENANT)
        used.forget(TENANT)  # Microsoft said 401: nobody may use it again
        assert source(shared=True).token(TENANT) != first
