"""Tokens and Microsoft Graph: users, assignLicense, subscribedSkus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient

from tests.emulator.helpers import BP, SKU_BP, TENANT, Api, issue_token, northwind

Load = Callable[[dict[str, Any]], dict[str, Any]]


def assign(graph: Api, user: str, add: list[str], remove: list[str] | None = None) -> Any:
    """POST assignLicense."""
    body = {
        "addLicenses": [{"skuId": sku, "disabledPlans": []} for sku in add],
        "removeLicenses": remove or [],
    }
    return graph.post(f"/v1.0/users/{user}/assignLicense", body)


def test_the_token_endpoint_issues_bearer_tokens_for_client_credentials(emu: FlaskClient) -> None:
    response = emu.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "any", "client_secret": "any"},
    )
    body = response.get_json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"] and body["refresh_token"]


def test_a_refresh_token_is_exchanged_for_a_new_token_of_the_same_tenant(emu: FlaskClient) -> None:
    first = emu.post(f"/{TENANT}/oauth2/v2.0/token", data={"grant_type": "client_credentials"})
    refresh = first.get_json()["refresh_token"]
    again = emu.post(
        f"/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    assert again.status_code == 200
    assert again.get_json()["access_token"] != first.get_json()["access_token"]
    other = emu.post(
        "/other-tenant/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh},
    )
    assert other.status_code == 400 and other.get_json()["error"] == "invalid_grant"


def test_the_token_endpoint_refuses_unknown_grants(emu: FlaskClient) -> None:
    response = emu.post(f"/{TENANT}/oauth2/v2.0/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_api_routes_answer_401_without_a_token_the_emulator_issued(
    emu: FlaskClient, northwind_loaded: dict[str, Any]
) -> None:
    missing = emu.get("/v1/customers")
    assert missing.status_code == 401
    assert missing.get_json() == {
        "code": 800401,
        "description": "The bearer token is missing, unknown or expired.",
        "data": [],
        "source": "PartnerFD",
    }
    forged = emu.get("/v1.0/users", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401
    assert forged.get_json()["error"]["code"] == "InvalidAuthenticationToken"


def test_partner_center_accepts_any_token_it_issued(
    emu: FlaskClient, northwind_loaded: dict[str, Any]
) -> None:
    token = issue_token(emu, TENANT)
    response = emu.get("/v1/customers", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_graph_refuses_a_token_whose_tenant_is_not_a_customer(
    emu: FlaskClient, northwind_loaded: dict[str, Any]
) -> None:
    token = issue_token(emu, "partner.example")
    response = emu.get("/v1.0/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "Authorization_RequestDenied"


def test_graph_serves_the_customer_of_the_token_by_domain_too(
    emu: FlaskClient, northwind_loaded: dict[str, Any]
) -> None:
    token = issue_token(emu, "northwind.example")
    response = emu.get("/v1.0/users?$top=1", headers={"Authorization": f"Bearer {token}"})
    assert response.get_json()["value"][0]["userPrincipalName"] == "ann@northwind.example"


def test_users_are_paged_with_top_and_next_link(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    seen: list[str] = []
    url: str | None = "/v1.0/users?$top=2"
    pages = 0
    while url:
        body = graph.get(url.replace("http://localhost", "")).get_json()
        seen += [u["id"] for u in body["value"]]
        url = body.get("@odata.nextLink")
        pages += 1
    assert pages == 3
    assert seen[0] == "u-1" and len(seen) == 5 == len(set(seen))


def test_a_user_has_graphs_default_properties_and_no_licenses_unless_selected(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    body = graph.get("/v1.0/users/u-1").get_json()
    assert body.pop("@odata.context").endswith("/v1.0/$metadata#users/$entity")
    assert set(body) == {
        "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
        "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
    }  # fmt: skip
    assert body["displayName"] == "Ann Lee" and body["id"] == "u-1"
    assert "assignedLicenses" not in body and "accountEnabled" not in body


def test_select_returns_exactly_the_named_properties(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    body = graph.get("/v1.0/users/u-1?$select=assignedLicenses,accountEnabled").get_json()
    assert body == {
        "@odata.context": "http://localhost/v1.0/$metadata"
        "#users(assignedLicenses,accountEnabled)/$entity",
        "accountEnabled": True,
        "assignedLicenses": [{"disabledPlans": [], "skuId": SKU_BP}],
    }  # no id unless named, as in Microsoft's "Get user" example with $select
    by_upn = graph.get("/v1.0/users/ann@northwind.example?$select=id").get_json()
    assert by_upn["id"] == "u-1"


def test_an_unknown_user_answers_graphs_404_with_an_inner_error(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    missing = graph.get("/v1.0/users/nobody", headers={"client-request-id": "c-1"})
    assert missing.status_code == 404
    error = missing.get_json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"].startswith("Resource 'nobody' does not exist")
    assert error["innerError"]["client-request-id"] == "c-1"
    assert error["innerError"]["request-id"] == missing.headers["request-id"]
    assert error["innerError"]["date"] == "2025-03-10T12:00:00"


def test_selecting_an_unknown_property_or_an_unmodelled_option_is_refused(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    bad = graph.get("/v1.0/users?$select=id,shoeSize")
    assert bad.status_code == 400
    assert bad.get_json()["error"]["message"] == (
        "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."
    )
    assert graph.get("/v1.0/users?$skip=2").status_code == 400  # not supported by Graph
    filtered = graph.get("/v1.0/users?$filter=accountEnabled eq true")
    assert filtered.status_code == 501
    assert filtered.get_json()["error"]["code"] == "NotImplemented"


def test_the_next_link_keeps_select_and_top(northwind_loaded: dict[str, Any], graph: Api) -> None:
    first = graph.get("/v1.0/users?$select=id,assignedLicenses&$top=2").get_json()
    assert first["@odata.context"].endswith("#users(id,assignedLicenses)")
    assert first["@odata.nextLink"].startswith(
        "http://localhost/v1.0/users?$select=id,assignedLicenses&$top=2&$skiptoken="
    )
    second = graph.get(first["@odata.nextLink"].replace("http://localhost", "")).get_json()
    assert [set(u) for u in second["value"]] == [{"id", "assignedLicenses"}] * 2
    assert second["value"][0]["assignedLicenses"] == [{"disabledPlans": [], "skuId": SKU_BP}]


def test_a_bad_top_is_refused(northwind_loaded: dict[str, Any], graph: Api) -> None:
    assert graph.get("/v1.0/users?$top=0").status_code == 400
    assert graph.get("/v1.0/users?$top=ten").status_code == 400


def test_assigning_a_license_uses_an_available_unit(load: Load, graph: Api) -> None:
    scenario = northwind()
    scenario["customers"][0]["users"].append({"id": "u-2", "upn": "bob@northwind.example"})
    load(scenario)
    response = assign(graph, "u-2", [SKU_BP])
    assert response.status_code == 200
    assert response.get_json()["assignedLicenses"] == [{"skuId": SKU_BP, "disabledPlans": []}]
    sku = graph.get("/v1.0/subscribedSkus").get_json()["value"][0]
    assert sku["consumedUnits"] == 6


def test_assigning_is_refused_when_no_unit_is_available(load: Load, graph: Api) -> None:
    scenario = northwind(tranches=[{"quantity": 5, "added": "-40d"}])
    scenario["customers"][0]["users"].append({"id": "u-2", "upn": "bob@northwind.example"})
    load(scenario)
    response = assign(graph, "u-2", [SKU_BP])
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "Request_BadRequest"
    assert "does not have any available licenses" in error["message"]


def test_removing_a_license_frees_its_unit(load: Load, graph: Api) -> None:
    load(northwind(tranches=[{"quantity": 5, "added": "-40d"}]))
    assert assign(graph, "u-1", [], remove=[SKU_BP]).get_json()["assignedLicenses"] == []
    assert assign(graph, "u-1", [SKU_BP]).status_code == 200
    assert assign(graph, "u-1", [], remove=["sku-none"]).status_code == 400


def test_assigning_an_unknown_sku_or_a_malformed_body_is_refused(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    assert assign(graph, "u-1", ["sku-unknown"]).status_code == 400
    assert graph.post("/v1.0/users/u-1/assignLicense", {"addLicenses": []}).status_code == 400
    both = assign(graph, "u-1", [SKU_BP], remove=[SKU_BP])
    assert both.status_code == 400


def test_subscribed_skus_report_enabled_suspended_and_consumed_units(
    load: Load, graph: Api
) -> None:
    scenario = northwind()
    scenario["customers"][0]["subscriptions"].append(
        {"id": "sub-2", "offer_id": BP, "sku_id": SKU_BP, "quantity": 3, "status": "suspended"}
    )
    load(scenario)
    sku = graph.get("/v1.0/subscribedSkus").get_json()["value"][0]
    assert sku["skuId"] == SKU_BP and sku["skuPartNumber"] == "SPB"
    assert sku["consumedUnits"] == 5
    assert sku["prepaidUnits"] == {"enabled": 12, "suspended": 3, "warning": 0, "lockedOut": 0}


def test_subscribed_skus_carry_the_account_the_subscriptions_and_service_plans(
    load: Load, graph: Api
) -> None:
    load(northwind())
    sku = graph.get("/v1.0/subscribedSkus").get_json()["value"][0]
    assert sku["accountName"] == "Northwind Traders"
    assert sku["accountId"] and sku["appliesTo"] == "User"
    assert sku["subscriptionIds"] == ["sub-1"]
    assert sku["id"] == f"{TENANT}_{SKU_BP}"
    plans = sku["servicePlans"]
    assert plans and {p["appliesTo"] for p in plans} == {"User", "Company"}
    assert all(p["provisioningStatus"] == "Success" and p["servicePlanName"] for p in plans)
    load({"customers": [{"id": "cust-1", "subscriptions": [{"id": "sub-9", "sku_id": SKU_BP}]}]})
    again = graph.get("/v1.0/subscribedSkus").get_json()["value"][0]
    assert again["servicePlans"] == plans  # the plan ids are stable
    assert again["subscriptionIds"] == ["sub-1", "sub-9"]
    one = graph.get(f"/v1.0/subscribedSkus/{TENANT}_{SKU_BP}?$select=skuId,consumedUnits")
    assert {k: v for k, v in one.get_json().items() if k[0] != "@"} == {
        "skuId": SKU_BP,
        "consumedUnits": 5,
    }
    assert graph.get(f"/v1.0/subscribedSkus/{TENANT}_sku-none").status_code == 404


def test_license_details_list_the_plans_and_which_are_disabled(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    plans = graph.get("/v1.0/subscribedSkus").get_json()["value"][0]["servicePlans"]
    off = plans[0]["servicePlanId"]
    body = {"addLicenses": [{"skuId": SKU_BP, "disabledPlans": [off]}], "removeLicenses": []}
    assert graph.post("/v1.0/users/u-1/assignLicense", body).status_code == 200
    details = graph.get("/v1.0/users/u-1/licenseDetails").get_json()
    assert details["@odata.context"].endswith("#users('u-1')/licenseDetails")
    [only] = details["value"]
    assert only["skuId"] == SKU_BP and only["skuPartNumber"] == "SPB" and only["id"]
    status = {p["servicePlanId"]: p["provisioningStatus"] for p in only["servicePlans"]}
    assert status == {off: "Disabled", plans[1]["servicePlanId"]: "Success"}
    unknown_plan = {"addLicenses": [{"skuId": SKU_BP, "disabledPlans": ["nope"]}]}
    unknown_plan["removeLicenses"] = []
    assert graph.post("/v1.0/users/u-1/assignLicense", unknown_plan).status_code == 400
    assert graph.get("/v1.0/users/nobody/licenseDetails").status_code == 404


def test_the_organization_is_the_customer_tenant(
    northwind_loaded: dict[str, Any], graph: Api
) -> None:
    body = graph.get("/v1.0/organization").get_json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#organization")
    [org] = body["value"]
    assert org["id"] == TENANT and org["displayName"] == "Northwind Traders"
    assert org["tenantType"] == "AAD"
    domains = {d["name"]: (d["isDefault"], d["isInitial"]) for d in org["verifiedDomains"]}
    assert domains == {
        "northwind.onmicrosoft.com": (False, True),
        "northwind.example": (True, False),
    }
    assert {p["capabilityStatus"] for p in org["assignedPlans"]} == {"Enabled"}
    one = graph.get(f"/v1.0/organization/{TENANT}?$select=id,displayName").get_json()
    assert one == {
        "@odata.context": "http://localhost/v1.0/$metadata#organization(id,displayName)/$entity",
        "id": TENANT,
        "displayName": "Northwind Traders",
    }
    assert graph.get("/v1.0/organization/someone-else").status_code == 404
