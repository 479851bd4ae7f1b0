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
from tests.emulator.test_documented_shapes import CUSTOMER, LINK, Load, assert_shape

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


# get-a-product-by-id.md, "Response example for new commerce license-based product".
PRODUCT = {
    "id": str,
    "title": str,
    "description": str,
    "productType": {"id": str, "displayName": str},
    "isMicrosoftProduct": bool,
    "publisherName": str,
    "links": {"skus": LINK, "self": LINK},
}
# get-a-sku-by-id.md, new commerce example.
SKU = {
    "id": str,
    "productId": str,
    "title": str,
    "description": str,
    "minimumQuantity": int,
    "maximumQuantity": int,
    "isTrial": bool,
    "supportedBillingCycles": [str],
    "purchasePrerequisites": [str],
    "inventoryVariables": list,
    "provisioningVariables": list,
    "actions": [str],
    "dynamicAttributes": {
        "isMicrosoftProduct": bool,
        "hasConstraints": bool,
        "isAddon": bool,
        "prerequisiteSkus": list,
        "isSoftwareAssuranceApplicable": bool,
        "upgradeTargetOffers": [str],
        "provisioningId": str,
        "internal": bool,
    },
    "links": {"availabilities": LINK, "self": LINK},
}
# get-an-availability-by-id.md, "Response example for new commerce license-based services".
AVAILABILITY = {
    "id": str,
    "productId": str,
    "skuId": str,
    "catalogItemId": str,
    "defaultCurrency": {"code": str, "symbol": str},
    "segment": str,
    "country": str,
    "isPurchasable": bool,
    "isRenewable": bool,
    "renewalInstructions": [
        {
            "applicableTermIds": [str],
            "renewalOptions": [{"renewToId": str, "isAutoRenewable": bool}],
        }
    ],
    "terms": [{"id": str, "duration": str, "description": str, "cancellationPolicies": list}],
    "product": dict,
    "sku": dict,
    "links": {"self": LINK},
}
BASIC = "/v1/products/CFQ7TTC0LH18"


def test_a_new_commerce_product_has_the_documented_shape(pc: Api) -> None:
    """get-a-product-by-id.md: `productType` `OnlineServicesNCE`; links with method and
    headers, `self` served."""
    product = pc.get(f"{BASIC}?country=US").get_json()
    assert_shape(product, PRODUCT)
    assert product["productType"] == {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"}
    assert pc.get("/v1" + product["links"]["self"]["uri"]).get_json()["id"] == "CFQ7TTC0LH18"


def test_a_sku_has_the_documented_shape_with_its_provisioning_id(pc: Api) -> None:
    """get-a-sku-by-id.md: `dynamicAttributes.provisioningId` is the Entra skuId (the
    example's 3b555118-… for Business Basic), `isSoftwareAssuranceApplicable`, `internal`."""
    sku = pc.get(f"{BASIC}/skus/0001?country=US").get_json()
    assert_shape(sku, SKU)
    assert sku["dynamicAttributes"]["provisioningId"] == "3b555118-da6a-4418-894f-7df1e2096870"
    assert sku["dynamicAttributes"]["isSoftwareAssuranceApplicable"] is False
    assert sorted(sku["supportedBillingCycles"]) == ["annual", "monthly"]
    assert pc.get("/v1" + sku["links"]["self"]["uri"]).get_json()["id"] == "0001"


def test_an_availability_has_the_documented_shape_with_renewal_instructions(pc: Api) -> None:
    """get-an-availability-by-id.md: terms carry ids; `renewalInstructions` name them and
    the SKU each renews to (Business Basic renews to CFQ7TTC0LH18:0001)."""
    (availability,) = pc.get(f"{BASIC}/skus/0001/availabilities?country=US").get_json()["items"]
    assert_shape(availability, AVAILABILITY)
    (instruction,) = availability["renewalInstructions"]
    assert set(instruction["applicableTermIds"]) == {t["id"] for t in availability["terms"]}
    assert instruction["renewalOptions"] == [
        {"renewToId": "CFQ7TTC0LH18:0001", "isAutoRenewable": True}
    ]
    by_link = pc.get("/v1" + availability["links"]["self"]["uri"]).get_json()
    assert by_link["catalogItemId"] == availability["catalogItemId"]


def test_a_trial_availability_renews_to_nothing(pc: Api) -> None:
    """A trial is not renewable (`isRenewable` false, no renewal instructions): it converts."""
    product, sku = catalogue.PREMIUM_TRIAL.split(":")
    url = f"/v1/products/{product}/skus/{sku}/availabilities?country=US"
    (availability,) = pc.get(url).get_json()["items"]
    assert (availability["isRenewable"], availability["renewalInstructions"]) == (False, [])


# error-codes.md gives these codes other meanings (Azure entitlements, overage, trial term
# changes): the emulator must not answer with them.
DOCUMENTED_ELSEWHERE = {800107, 800111, 800112, 800114, 800115}
# error-codes.md: the codes the emulator now answers with, and their documented meaning.
DOCUMENTED = {
    "UPDATE_CAP_REACHED": 900311,  # "This subscription has been updated too many times."
    "ATTESTATION_REQUIRED": 900206,  # "Partner Attestation is missing"
    "RESELLER_NOT_AUTHORISED": 800016,  # "PartnerID isn't a valid Indirect Reseller"
    "UNKNOWN_CATALOG_ITEM": 800004,  # "Invalid offer ID"
    "DECREASE_OUTSIDE_WINDOW": 800090,  # "Subscription quantity can't be decreased"
    "TARGET_ENDS_EARLIER": 900236,
    "TARGET_NOT_ACTIVE": 900258,
    "TARGET_IS_SOURCE": 900259,
    "TARGET_OTHER_ITEM": 900260,
    "TARGET_TERM_SHORTER": 900267,
}


def test_no_emulator_code_has_another_documented_meaning() -> None:
    """error-codes.md: the emulator's refusals use the documented code for their situation,
    and none of its own codes is one the page documents for something else."""
    codes = {
        name: value
        for name, value in vars(errors).items()
        if name.isupper() and isinstance(value, int)
    }
    assert not DOCUMENTED_ELSEWHERE & set(codes.values())
    assert {name: codes[name] for name in DOCUMENTED} == DOCUMENTED


def _transition_into(pc: Api, target_id: str, offer: str = catalogue.E5) -> Any:
    body = {
        "toCatalogItemId": catalogue.catalog_item_id(offer),
        "toSubscriptionId": target_id,
        "quantity": 1,
        "transitionType": "transition_only",
    }
    return pc.post(f"{CUSTOMER}/subscriptions/sub-1/transitions", body)


def test_transitions_into_an_unfit_subscription_answer_the_documented_codes(
    load: Load, pc: Api
) -> None:
    """error-codes.md 900258 (target not active), 900260 (target of another catalog item),
    900236 (target ends before the source), 900267 (a shorter term)."""
    scenario = northwind()
    scenario["customers"][0]["subscriptions"] += [
        {
            "id": "e5-off",
            "offer_id": catalogue.E5,
            "status": "suspended",
            "auto_renew": False,
            "created": "-40d",
            "commitment_end": "2026-06-30",
        },
        {"id": "e3", "offer_id": catalogue.E3, "created": "-40d", "commitment_end": "2026-06-30"},
        {
            "id": "e5-early",
            "offer_id": catalogue.E5,
            "created": "-40d",
            "commitment_end": "2025-12-31",
        },
    ]
    load(scenario)
    codes = {
        target: _transition_into(pc, target).get_json()["code"]
        for target in ("e5-off", "e3", "e5-early")
    }
    assert codes == {"e5-off": 900258, "e3": 900260, "e5-early": 900236}
    shorter = {
        "toCatalogItemId": catalogue.catalog_item_id(catalogue.E5),
        "quantity": 1,
        "termDuration": "P1M",
    }
    answer = pc.post(f"{CUSTOMER}/subscriptions/sub-1/transitions", shorter).get_json()
    assert answer["code"] == 900267


def test_refusals_of_a_cart_answer_the_documented_codes(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """error-codes.md 800004 (invalid offer id) and 900206 (partner attestation missing)."""
    unknown = {"lineItems": [{"catalogItemId": "NOPE:0001:XYZ", "quantity": 1}]}
    assert pc.post(f"{CUSTOMER}/carts", unknown).get_json()["code"] == 800004
    named = {
        "lineItems": [
            {
                "catalogItemId": catalogue.catalog_item_id(BP),
                "quantity": 1,
                "participants": [{"key": "transaction_reseller", "value": MPN}],
            }
        ]
    }
    assert pc.post(f"{CUSTOMER}/carts", named).get_json()["code"] == 900206
