"""Orders for an indirect reseller's customer, the catalogue pages and the error codes,
against Microsoft's documented examples.

As in test_documented_shapes.py, each test names the page of Partner Center's developer
documentation (snapshot in ``../shared/reference/partner-center-docs/``) whose example it
follows.
"""

from __future__ import annotations

from typing import Any

from emulator import catalogue, errors
from tests.emulator.helpers import BP, Api, northwind
from tests.emulator.test_documented_shapes import CUSTOMER, Load

MPN = "1234567"  # the scenario reseller's PartnerID (tests/emulator/helpers.py)


def _checkout(pc: Api, participants: list[dict[str, str]]) -> Any:
    line = {
        "catalogItemId": catalogue.catalog_item_id(BP),
        "quantity": 1,
        "termDuration": "P1Y",
        "billingCycle": "monthly",
        "participants": participants,
    }
    cart = pc.post(
        f"{CUSTOMER}/carts",
        {"lineItems": [line], "partnerOnRecordAttestationAccepted": True},
    )
    if cart.status_code != 201:
        return cart
    return pc.post(f"{CUSTOMER}/carts/{cart.get_json()['id']}/checkout")


def test_the_reseller_of_record_is_named_by_its_partner_id(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """create-a-cart.md (participants `transaction_reseller` = a PartnerID) and
    create-an-order-for-a-customer-of-an-indirect-reseller.md (`partnerIdOnRecord` is the
    reseller's MPN id): the order line and the subscription carry that PartnerID."""
    answer = _checkout(pc, [{"key": "transaction_reseller", "value": MPN}])
    assert answer.status_code == 201
    (line,) = answer.get_json()["orders"][0]["lineItems"]
    assert line["partnerIdOnRecord"] == MPN
    sub = pc.get(f"{CUSTOMER}/subscriptions/{line['subscriptionId']}").get_json()
    assert sub["partnerId"] == MPN


def test_without_participants_the_customers_reseller_is_on_record(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """The customer's own reseller is the reseller of record, by its PartnerID."""
    answer = _checkout(pc, [])
    assert answer.get_json()["orders"][0]["lineItems"][0]["partnerIdOnRecord"] == MPN


def test_a_reseller_named_by_anything_but_its_partner_id_is_refused(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """The emulator's own reseller id is not a PartnerID: refused as an invalid indirect
    reseller (error-codes.md 800016, "PartnerID isn't a valid Indirect Reseller")."""
    answer = _checkout(pc, [{"key": "transaction_reseller", "value": "res-1"}])
    assert answer.status_code == 400
    assert answer.get_json()["code"] == errors.RESELLER_NOT_AUTHORISED


def test_a_scenario_reseller_without_an_mpn_id_gets_a_stable_one(load: Load, pc: Api) -> None:
    """Every reseller has a PartnerID to be named by (`/relationships` lists it)."""
    scenario = northwind()
    scenario["resellers"] = [{"id": "res-1", "name": "Fabrikam IT"}]
    load(scenario)
    (reseller,) = pc.get("/v1/relationships").get_json()["items"]
    assert reseller["mpnId"].isdigit() and len(reseller["mpnId"]) == 7
    answer = _checkout(pc, [{"key": "transaction_reseller", "value": reseller["mpnId"]}])
    assert answer.status_code == 201
