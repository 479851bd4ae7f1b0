"""Who holds which licence, learned from Graph through our own client, against an emulator
that answers as Graph does: without `$select`, `GET /users` carries neither
`assignedLicenses` nor `accountEnabled` (issue 18). A client that does not ask for them
would see everyone unlicensed and enabled; these tests would then fail.
"""

from __future__ import annotations

from typing import Any

import httpx
from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, DirectoryUser
from app.services import sync
from app.services.microsoft import factory
from tests.support.processes import Emulator

TENANT = "22222222-3333-4444-5555-666666666666"
BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
E3, E3_SKU = "CFQ7TTC0LFLX:0001", "05e9a617-0261-4cee-bb44-138d3ef5d965"


def scenario() -> dict[str, Any]:
    """Four named people (one disabled, one without a licence) and two generated holders."""

    def sub(sid: str, offer: str, sku: str, seats: int) -> dict[str, Any]:
        return {"id": sid, "offer_id": offer, "sku_id": sku, "quantity": seats}

    return {
        "customers": [
            {
                "id": "cust-graph",
                "name": "Graph Tenant",
                "domain": "graphtenant.example",
                "tenant_id": TENANT,
                "users": [
                    {"id": "u-ann", "upn": "ann@graphtenant.example", "licenses": [BP_SKU]},
                    {
                        "id": "u-max",
                        "upn": "max@graphtenant.example",
                        "licenses": [BP_SKU, E3_SKU],
                    },
                    {
                        "id": "u-dee",
                        "upn": "dee@graphtenant.example",
                        "licenses": [E3_SKU],
                        "enabled": False,
                    },
                    {"id": "u-nil", "upn": "nil@graphtenant.example"},
                ],
                "assigned": {BP_SKU: 2},
                "subscriptions": [sub("sub-bp", BP, BP_SKU, 10), sub("sub-e3", E3, E3_SKU, 5)],
            }
        ]
    }


def holdings(app: Flask) -> dict[str, tuple[bool, set[str]]]:
    """What the database now says: upn → (enabled, SKUs held)."""
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-graph"))
        assert customer is not None
        users = db.session.scalars(
            select(DirectoryUser).where(DirectoryUser.customer_id == customer.id)
        ).all()
        return {u.upn: (u.enabled, {lic.sku_id for lic in u.licenses}) for u in users}


def test_the_emulator_leaves_licenses_out_unless_they_are_selected(emulator: Emulator) -> None:
    """The premise: the emulator follows Graph's default property set."""
    emulator.load(scenario())
    token = httpx.post(
        f"{emulator.url}/{TENANT}/oauth2/v2.0/token", data={"grant_type": "client_credentials"}
    ).json()["access_token"]
    users = httpx.get(
        f"{emulator.url}/v1.0/users", headers={"Authorization": f"Bearer {token}"}
    ).json()["value"]
    assert users and not any("assignedLicenses" in u or "accountEnabled" in u for u in users)


def test_sync_learns_who_holds_which_license_and_who_is_disabled(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(scenario())
    with app.app_context():
        report = sync.sync_customer("cust-graph")
        assert report.failed == {} and report.users == 6
    held = holdings(app)
    assert held["ann@graphtenant.example"] == (True, {BP_SKU})
    assert held["max@graphtenant.example"] == (True, {BP_SKU, E3_SKU})
    assert held["dee@graphtenant.example"] == (False, {E3_SKU})
    assert held["nil@graphtenant.example"] == (True, set())
    assert (
        held["user1@graphtenant.example"] == held["user2@graphtenant.example"] == (True, {BP_SKU})
    )


def test_a_license_assigned_and_one_removed_in_graph_show_after_the_next_sync(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(scenario())
    with app.app_context():
        sync.sync_customer("cust-graph")
        graph = factory.graph(TENANT)
        try:
            graph.assign_license("u-nil", add=(E3_SKU,))
            graph.assign_license("u-max", remove=(BP_SKU,))
        finally:
            graph.close()
        sync.sync_customer("cust-graph")
    held = holdings(app)
    assert held["nil@graphtenant.example"] == (True, {E3_SKU})
    assert held["max@graphtenant.example"] == (True, {E3_SKU})


def test_licenses_survive_paging_because_the_next_link_keeps_the_selection(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(scenario())
    with app.app_context():
        graph = factory.graph(TENANT)
        try:
            users = {u.upn: u for u in graph.users(page_size=2)}
            skus = {s.sku_id: s for s in graph.subscribed_skus()}
        finally:
            graph.close()
    assert len(users) == 6
    assert users["dee@graphtenant.example"].sku_ids == {E3_SKU}  # on the second page
    assert users["dee@graphtenant.example"].enabled is False
    assert users["user2@graphtenant.example"].sku_ids == {BP_SKU}  # on the third page
    assert (skus[BP_SKU].enabled, skus[BP_SKU].consumed, skus[BP_SKU].part_number) == (10, 4, "SPB")
    assert (skus[E3_SKU].enabled, skus[E3_SKU].consumed, skus[E3_SKU].status) == (5, 2, "Enabled")
