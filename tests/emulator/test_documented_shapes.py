"""The emulator's Partner Center answers against Microsoft's documented examples.

Each test names the page of Partner Center's developer documentation (snapshot in
``../shared/reference/partner-center-docs/``) whose example request it sends and whose
example response's keys, types and spellings it expects. The expected shapes are written
here from those examples; values are the emulator's own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from emulator import catalogue
from tests.emulator.helpers import BP, Api, northwind

CUSTOMER = "/v1/customers/cust-1"
SUB = f"{CUSTOMER}/subscriptions/sub-1"
Load = Callable[[dict[str, Any]], dict[str, Any]]

LINK = {"uri": str, "method": str, "headers": list}


def assert_shape(value: Any, shape: Any, where: str = "$") -> None:
    """``value`` has every key of ``shape`` with its type; nested dicts are shapes too."""
    if isinstance(shape, dict):
        assert isinstance(value, dict), f"{where} is not an object"
        for key, inner in shape.items():
            assert key in value, f"{where}.{key} is missing"
            assert_shape(value[key], inner, f"{where}.{key}")
    elif isinstance(shape, list):
        assert isinstance(value, list) and value, f"{where} is not a non-empty list"
        for i, item in enumerate(value):
            assert_shape(item, shape[0], f"{where}[{i}]")
    else:
        assert isinstance(value, shape) and not (shape is int and isinstance(value, bool)), (
            f"{where} is {type(value).__name__}, not {shape.__name__}"
        )


# get-a-subscription-by-id.md, "Response example for a new commerce subscription".
NCE_SUBSCRIPTION = {
    "id": str,
    "offerId": str,
    "offerName": str,
    "friendlyName": str,
    "productType": {"id": str, "displayName": str},
    "quantity": int,
    "unitType": str,
    "hasPurchasableAddons": bool,
    "creationDate": str,
    "effectiveStartDate": str,
    "commitmentEndDate": str,
    "commitmentEndDateTime": str,
    "status": str,
    "autoRenewEnabled": bool,
    "isTrial": bool,
    "billingType": str,
    "billingCycle": str,
    "termDuration": str,
    "renewalTermDuration": str,
    "refundOptions": list,
    "isMicrosoftProduct": bool,
    "partnerId": str,
    "attentionNeeded": bool,
    "actionTaken": bool,
    "contractType": str,
    "links": {"product": LINK, "sku": LINK, "availability": LINK, "self": LINK},
    "publisherName": str,
    "refundableQuantity": {
        "totalQuantity": int,
        "details": [{"quantity": int, "allowedUntilDateTime": str}],
    },
    "orderId": str,
    "attributes": {"objectType": str},
}


def test_a_new_commerce_subscription_has_the_documented_shape(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-a-subscription-by-id.md, "Response example for a new commerce subscription":
    every key and type; `offerId` is `product:sku:availability` and the links name the same
    product, SKU and availability; `productType` `OnlineServicesNCE` both ways."""
    sub = pc.get(SUB).get_json()
    assert_shape(sub, NCE_SUBSCRIPTION)
    product, sku, availability = sub["offerId"].split(":")
    assert f"{product}:{sku}" == BP
    assert sub["productType"] == {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"}
    assert sub["links"]["product"]["uri"] == f"/products/{product}?country=US"
    assert sub["links"]["sku"]["uri"] == f"/products/{product}/skus/{sku}?country=US"
    assert sub["links"]["availability"]["uri"] == (
        f"/products/{product}/skus/{sku}/availabilities/{availability}?country=US"
    )
    assert sub["commitmentEndDateTime"] == sub["commitmentEndDate"].replace(
        "T00:00:00", "T23:59:59"
    )
    assert sub["attributes"]["objectType"] == "Subscription"


def test_the_links_of_a_subscription_lead_to_its_catalogue_entries(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-an-availability-by-id.md: the availability a subscription links to is served, and
    its `catalogItemId` is the subscription's `offerId`."""
    sub = pc.get(SUB).get_json()
    for name in ("product", "sku", "availability"):
        assert pc.get("/v1" + sub["links"][name]["uri"]).status_code == 200
    availability = pc.get("/v1" + sub["links"]["availability"]["uri"]).get_json()
    assert availability["catalogItemId"] == sub["offerId"]


def test_the_list_of_subscriptions_has_the_documented_shape(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-all-of-a-customer-s-subscriptions.md (new commerce example): a collection whose
    items carry the same keys as GET by id, without `refundableQuantity`."""
    body = pc.get(f"{CUSTOMER}/subscriptions").get_json()
    assert_shape(
        body, {"totalCount": int, "items": [dict], "links": {"self": LINK}, "attributes": dict}
    )
    listed = body["items"][0]
    assert_shape(listed, {k: v for k, v in NCE_SUBSCRIPTION.items() if k != "refundableQuantity"})
    assert "refundableQuantity" not in listed


def test_within_the_cancellation_window_a_full_refund_is_offered(load: Load, pc: Api) -> None:
    """get-a-subscription-by-id.md (new commerce example): `refundOptions` is
    `[{type: "Full", expiresAt}]` while the subscription can still be cancelled."""
    load(northwind(created="-2d", term_start="-2d", tranches=[]))
    sub = pc.get(SUB).get_json()
    assert sub["refundOptions"] == [
        {"type": "Full", "expiresAt": sub["cancellationAllowedUntilDate"]}
    ]
    load(northwind(id="sub-2"))
    assert pc.get(f"{CUSTOMER}/subscriptions/sub-2").get_json()["refundOptions"] == []


def test_a_decrease_outside_the_window_answers_the_documented_error(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """change-the-quantity-of-a-subscription.md, "Response example for new commerce license
    reduction": 400 with code 800090 and the documented error body keys."""
    sub = pc.get(SUB).get_json()
    response = pc.patch(SUB, {**sub, "quantity": 9})
    assert response.status_code == 400
    body = response.get_json()
    assert_shape(body, {"code": int, "description": str, "data": list, "source": str})
    assert body["code"] == 800090 and body["source"] == "PartnerFD"
    assert body["description"].startswith("Subscription quantity cannot be decreased.")


# get-a-customer-by-id.md, "Response example".
CUSTOMER_BY_ID = {
    "id": str,
    "commerceId": str,
    "companyProfile": {
        "tenantId": str,
        "domain": str,
        "companyName": str,
        "address": {
            "country": str,
            "region": str,
            "city": str,
            "addressLine1": str,
            "postalCode": str,
            "phoneNumber": str,
        },
        "email": str,
        "links": {"self": LINK},
        "attributes": {"objectType": str},
    },
    "billingProfile": {
        "id": str,
        "firstName": str,
        "lastName": str,
        "email": str,
        "culture": str,
        "language": str,
        "companyName": str,
        "defaultAddress": {
            "country": str,
            "city": str,
            "state": str,
            "addressLine1": str,
            "postalCode": str,
            "firstName": str,
            "lastName": str,
            "phoneNumber": str,
        },
        "links": {"self": LINK},
        "attributes": {"etag": str, "objectType": str},
    },
    "relationshipToPartner": str,
    "allowDelegatedAccess": bool,
    "customDomains": [str],
    "links": {"self": LINK},
    "attributes": {"objectType": str},
}


def test_a_customer_by_id_has_the_documented_shape(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-a-customer-by-id.md: company profile with address, email and links, a billing
    profile, custom domains."""
    body = pc.get(CUSTOMER).get_json()
    assert_shape(body, CUSTOMER_BY_ID)
    assert body["companyProfile"]["links"]["self"]["uri"] == "/customers/cust-1/profiles/company"
    assert body["billingProfile"]["attributes"]["objectType"] == "CustomerBillingProfile"
    assert body["customDomains"] == ["northwind.example"]


def test_the_documented_request_for_an_indirect_resellers_customers_is_answered(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-customers-of-an-indirect-reseller.md: `GET /customers?size=0&filter=
    {"Field":"IndirectReseller","Value":<reseller>,"Operator":"starts_with"}`, both URL-encoded
    and as written in the page; items carry the company profile with its links."""
    spec = json.dumps({"Field": "IndirectReseller", "Value": "res-1", "Operator": "starts_with"})
    for query in (quote(spec), spec):
        response = pc.get(f"/v1/customers?size=0&filter={query}")
        assert response.status_code == 200
        body = response.get_json()
        assert_shape(body, {"totalCount": int, "items": [dict], "attributes": {"objectType": str}})
        assert [c["id"] for c in body["items"]] == ["cust-1"]
        assert_shape(
            body["items"][0],
            {
                "id": str,
                "companyProfile": {
                    "tenantId": str,
                    "domain": str,
                    "companyName": str,
                    "links": {"self": LINK},
                    "attributes": {"objectType": str},
                },
                "relationshipToPartner": str,
                "links": {"self": LINK},
                "attributes": {"objectType": str},
            },
        )
        assert body["items"][0]["relationshipToPartner"] == "reseller"


def test_indirect_resellers_are_spelled_as_documented(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """retrieve-a-list-of-indirect-resellers.md: the documented request and the items'
    `relationshipType` `is_indirect_cloud_solution_provider_of`."""
    body = pc.get("/v1/relationships?relationship_type=IsIndirectCloudSolutionProviderOf")
    (item,) = body.get_json()["items"]
    assert_shape(
        item,
        {
            "id": str,
            "name": str,
            "relationshipType": str,
            "state": str,
            "mpnId": str,
            "location": str,
            "attributes": {"objectType": str},
        },
    )
    assert (item["relationshipType"], item["state"], item["mpnId"]) == (
        "is_indirect_cloud_solution_provider_of",
        "Active",
        "1234567",
    )
    assert item["attributes"]["objectType"] == "PartnerRelationship"


# get-a-record-of-partner-center-activity-by-user.md, "Response example".
AUDIT_RECORD = {
    "partnerId": str,
    "customerId": str,
    "customerName": str,
    "userPrincipalName": str,
    "resourceType": str,
    "resourceNewValue": str,
    "operationType": str,
    "operationDate": str,
    "operationStatus": str,
    "customizedData": list,
    "attributes": {"objectType": str},
}


def test_audit_records_use_the_documented_spellings(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """get-a-record-of-partner-center-activity-by-user.md and auditing-resources.md:
    `resourceType` `subscription`/`order`, `operationType` `update_subscription`,
    `create_order`, `upgrade_subscription`; `operationStatus` `succeeded`."""
    sub = pc.get(SUB).get_json()
    assert pc.patch(SUB, {**sub, "quantity": 13}).status_code == 200
    cart = pc.post(
        f"{CUSTOMER}/carts",
        {
            "lineItems": [
                {"catalogItemId": catalogue.catalog_item_id(catalogue.VISIO), "quantity": 1}
            ]
        },
    ).get_json()
    assert pc.post(f"{CUSTOMER}/carts/{cart['id']}/checkout").status_code == 201
    upgrade = {"toCatalogItemId": catalogue.catalog_item_id(catalogue.E3), "quantity": 13}
    assert pc.post(f"{SUB}/transitions", upgrade).status_code == 201
    records = pc.get("/v1/auditrecords").get_json()["items"]
    for record in records:
        assert_shape(record, AUDIT_RECORD)
    assert [(r["resourceType"], r["operationType"], r["operationStatus"]) for r in records] == [
        ("subscription", "update_subscription", "succeeded"),
        ("order", "create_order", "succeeded"),
        ("subscription", "upgrade_subscription", "succeeded"),
    ]


def test_a_trial_conversion_is_audited_as_documented(load: Load, pc: Api, clock: Any) -> None:
    """auditing-resources.md: a trial turned paid is `convert_trial_subscription`."""
    load(
        northwind(
            trial=True, offer_id="CFQ7TTC0LCHC:0001", tranches=[], created="-3d", term_start="-3d"
        )
    )
    clock(advance="P1M")
    records = pc.get("/v1/auditrecords").get_json()["items"]
    assert ("subscription", "convert_trial_subscription") in {
        (r["resourceType"], r["operationType"]) for r in records
    }


PRICING = {
    "listPrice": float,
    "discountedPrice": float,
    "proratedPrice": float,
    "price": float,
    "extendedPrice": float,
}


def test_a_cart_has_the_documented_shape_with_prices(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """create-a-cart.md, "Example for new commerce license-based services": the cart's line
    items carry `currencyCode` and `pricing` (extendedPrice = price * quantity * months of the
    term: the example's 30.4 * 12 = 364.8 for P1Y), the cart its `links.self`."""
    e3 = catalogue.catalog_item_id(catalogue.E3)
    line = {"catalogItemId": e3, "quantity": 2, "termDuration": "P1Y", "billingCycle": "monthly"}
    response = pc.post(f"{CUSTOMER}/carts", {"lineItems": [line]})
    assert response.status_code == 201
    cart = response.get_json()
    assert_shape(
        cart,
        {
            "id": str,
            "creationTimestamp": str,
            "lastModifiedTimestamp": str,
            "expirationTimestamp": str,
            "lastModifiedUser": str,
            "status": str,
            "lineItems": [
                {
                    "id": int,
                    "catalogItemId": str,
                    "quantity": int,
                    "currencyCode": str,
                    "billingCycle": str,
                    "termDuration": str,
                    "provisioningContext": dict,
                    "orderGroup": str,
                    "pricing": PRICING,
                }
            ],
            "links": {"self": LINK},
            "attributes": {"objectType": str},
        },
    )
    (item,) = cart["lineItems"]
    assert item["currencyCode"] == "USD"
    assert item["pricing"]["extendedPrice"] == round(item["pricing"]["price"] * 2 * 12, 2)
    assert cart["links"]["self"]["uri"] == f"/customers/cust-1/carts/{cart['id']}"


def test_a_checkout_has_the_documented_shape_with_prices(
    northwind_loaded: dict[str, Any], pc: Api
) -> None:
    """checkout-a-cart.md, "Response example for a new commerce license-based subscription":
    an order with `currencyCode`, `currencySymbol`, `totalPrice`, links `self`,
    `provisioningStatus`, `patchOperation`; lines with `pricing` and product/SKU/availability
    links."""
    e3 = catalogue.catalog_item_id(catalogue.E3)
    lines = [
        {"catalogItemId": e3, "quantity": 2, "termDuration": "P1M", "billingCycle": "monthly"},
        {"catalogItemId": catalogue.catalog_item_id(catalogue.VISIO), "quantity": 1},
    ]
    cart = pc.post(f"{CUSTOMER}/carts", {"lineItems": lines}).get_json()
    response = pc.post(f"{CUSTOMER}/carts/{cart['id']}/checkout")
    assert response.status_code == 201
    (order,) = response.get_json()["orders"]
    assert_shape(
        order,
        {
            "id": str,
            "alternateId": str,
            "referenceCustomerId": str,
            "billingCycle": str,
            "currencyCode": str,
            "currencySymbol": str,
            "lineItems": [
                {
                    "lineItemNumber": int,
                    "offerId": str,
                    "subscriptionId": str,
                    "termDuration": str,
                    "transactionType": str,
                    "friendlyName": str,
                    "quantity": int,
                    "pricing": PRICING,
                    "links": {"product": LINK, "sku": LINK, "availability": LINK},
                }
            ],
            "creationDate": str,
            "status": str,
            "transactionType": str,
            "links": {"self": LINK, "provisioningStatus": LINK, "patchOperation": LINK},
            "totalPrice": float,
            "client": dict,
            "attributes": {"objectType": str},
        },
    )
    assert (order["currencyCode"], order["currencySymbol"]) == ("USD", "$")
    assert order["lineItems"][0]["offerId"] == e3
    assert order["links"]["patchOperation"]["method"] == "PATCH"
    assert order["totalPrice"] == round(
        sum(line["pricing"]["extendedPrice"] for line in order["lineItems"]), 2
    )
    assert order["lineItems"][0]["pricing"]["extendedPrice"] == round(
        order["lineItems"][0]["pricing"]["price"] * 2, 2
    )
