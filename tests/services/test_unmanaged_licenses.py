"""Unmanaged licences (SKUs no CSP subscription grants) are imported only while the
customer's Unmanaged license sync setting is on."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, DirectoryUser
from app.services import sync
from tests.support.processes import Emulator

TENANT = "33333333-4444-5555-6666-777777777777"
BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
EA_SKU = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # Office 365 E3 from an Enterprise Agreement


def scenario() -> dict[str, Any]:
    return {
        "customers": [
            {
                "id": "cust-ea",
                "name": "Enterprise Agreement Co",
                "domain": "eaco.example",
                "tenant_id": TENANT,
                "users": [
                    {"id": "u-eve", "upn": "eve@eaco.example", "licenses": [BP_SKU, EA_SKU]},
                ],
                "subscriptions": [
                    {"id": "sub-bp", "offer_id": BP, "sku_id": BP_SKU, "quantity": 5},
                ],
            }
        ]
    }


def licences_of_eve() -> set[str]:
    eve = db.session.scalar(select(DirectoryUser).where(DirectoryUser.upn == "eve@eaco.example"))
    assert eve is not None
    return {lic.sku_id for lic in eve.licenses}


def set_unmanaged(on: bool) -> None:
    customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-ea"))
    assert customer is not None
    customer.unmanaged_license_sync = on
    db.session.commit()


def test_unmanaged_licences_are_imported_only_while_the_toggle_is_on(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(scenario())
    with app.app_context():
        sync.sync_customer("cust-ea")  # the setting is off by default
        assert licences_of_eve() == {BP_SKU}
        set_unmanaged(True)
        sync.sync_customer("cust-ea")
        assert licences_of_eve() == {BP_SKU, EA_SKU}
        set_unmanaged(False)
        sync.sync_customer("cust-ea")
        assert licences_of_eve() == {BP_SKU}
