"""Contract tests: Microsoft's own Graph SDK (msgraph-sdk) reads the emulator's Graph.

The SDK is written from Graph's metadata, not by this project, so it checks the emulator
from outside: every answer must deserialise into its models with nothing left over
(`additional_data` empty means no property the real type lacks), GUIDs must be GUIDs, and
errors must parse as `ODataError`. The emulator runs as a real process over HTTP; the SDK
gets its bearer token from the emulator's token endpoint, as an app gets one from Entra.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    AnonymousAuthenticationProvider,
    AuthenticationProvider,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.assigned_license import AssignedLicense
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.user import User
from msgraph.generated.users.item.assign_license.assign_license_post_request_body import (
    AssignLicensePostRequestBody,
)
from msgraph_core import GraphClientFactory

from tests.support.processes import Emulator

# The SDK's generated request builders (imported lazily, on first use) and kiota's query
# parameter base class warn about their own deprecated classes when they are defined.
pytestmark = [
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings(
        "ignore:This class is deprecated. Please use the generic RequestConfiguration"
        ":DeprecationWarning"
    ),
]

TENANT = "33333333-4444-5555-6666-777777777777"
BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
E3, E3_SKU = "CFQ7TTC0LFLX:0001", "05e9a617-0261-4cee-bb44-138d3ef5d965"


def scenario() -> dict[str, Any]:
    """Five users over three pages of two: licensed, disabled, unlicensed, generated."""
    return {
        "customers": [
            {
                "id": "cust-sdk",
                "name": "Contoso SDK",
                "domain": "contososdk.example",
                "tenant_id": TENANT,
                "users": [
                    {"id": "u-ann", "upn": "ann@contososdk.example", "name": "Ann Lee",
                     "licenses": [BP_SKU]},
                    {"id": "u-max", "upn": "max@contososdk.example", "name": "Max Multi",
                     "licenses": [BP_SKU, E3_SKU]},
                    {"id": "u-dee", "upn": "dee@contososdk.example", "name": "Dee Gone",
                     "licenses": [E3_SKU], "enabled": False},
                    {"id": "u-nil", "upn": "nil@contososdk.example", "name": "Nil Free"},
                ],
                "assigned": {BP_SKU: 1},
                "subscriptions": [
                    {"id": "sub-bp", "offer_id": BP, "sku_id": BP_SKU, "quantity": 4},
                    {"id": "sub-e3", "offer_id": E3, "sku_id": E3_SKU, "quantity": 2},
                ],
            }
        ]
    }  # fmt: skip


class EmulatorTokens(AccessTokenProvider):
    """Client-credentials tokens from the emulator's `POST /{tenant}/oauth2/v2.0/token`."""

    def __init__(self, url: str, tenant: str) -> None:
        self.url, self.tenant = url, tenant
        self.token: str | None = None

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        if self.token is None:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.post(
                    f"{self.url}/{self.tenant}/oauth2/v2.0/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": "sdk",
                        "client_secret": "s",
                    },
                )
                answer.raise_for_status()
                self.token = str(answer.json()["access_token"])
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator([])


@asynccontextmanager
async def sdk(
    url: str, tenant: str = TENANT, *, signed_in: bool = True
) -> AsyncIterator[GraphServiceClient]:
    """A GraphServiceClient on the emulator's /v1.0 with the SDK's default middleware."""
    http = GraphClientFactory.create_with_default_middleware(client=httpx.AsyncClient(timeout=10))
    auth: AuthenticationProvider = (
        BaseBearerTokenAuthenticationProvider(EmulatorTokens(url, tenant))
        if signed_in
        else AnonymousAuthenticationProvider()
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{url}/v1.0"
    try:
        yield GraphServiceClient(request_adapter=adapter)
    finally:
        await http.aclose()


def run[T](emulator: Emulator, work: Callable[[GraphServiceClient], Awaitable[T]], **kw: Any) -> T:
    """Run one async piece of SDK work against the emulator."""

    async def main() -> T:
        async with sdk(emulator.url, **kw) as client:
            return await work(client)

    # A loop of its own on a thread of its own: pytest-playwright keeps an event loop running
    # in the main thread for the whole session once a browser test has run.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def refusal(
    emulator: Emulator, work: Callable[[GraphServiceClient], Awaitable[Any]], **kw: Any
) -> ODataError:
    """The ODataError the SDK raises for a refused request."""
    with pytest.raises(ODataError) as caught:
        run(emulator, work, **kw)
    return caught.value


def no_leftovers(*models: Any) -> None:
    """Every property the emulator sent is one the SDK's model knows (OData annotations
    such as a single entity's `@odata.context` aside)."""
    for model in models:
        unknown = {k for k in model.additional_data if not k.startswith("@odata.")}
        assert unknown == set(), type(model).__name__


def users_query(**params: Any) -> RequestConfiguration[Any]:
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    return RequestConfiguration(
        query_parameters=UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(**params)
    )


@pytest.fixture
def tenant(emulator: Emulator) -> Emulator:
    emulator.load(scenario())
    return emulator


def test_users_are_paged_with_top_and_the_next_link_keeps_the_selection(tenant: Emulator) -> None:
    async def every_page(client: GraphServiceClient) -> list[list[User]]:
        fields = ["id", "displayName", "userPrincipalName", "accountEnabled", "assignedLicenses"]
        page = await client.users.get(request_configuration=users_query(select=fields, top=2))
        pages = []
        while page is not None:
            pages.append(page.value or [])
            if not page.odata_next_link:
                break
            page = await client.users.with_url(page.odata_next_link).get()
        return pages

    pages = run(tenant, every_page)
    assert [len(p) for p in pages] == [2, 2, 1]
    users = {u.user_principal_name: u for page in pages for u in page}
    no_leftovers(*users.values())
    max_ = users["max@contososdk.example"]
    assert max_.id == "u-max" and max_.display_name == "Max Multi"
    assert {lic.sku_id for lic in max_.assigned_licenses or []} == {UUID(BP_SKU), UUID(E3_SKU)}
    dee = users["dee@contososdk.example"]  # on the second page
    assert dee.account_enabled is False and dee.assigned_licenses[0].sku_id == UUID(E3_SKU)
    assert users["nil@contososdk.example"].assigned_licenses == []
    assert users["user1@contososdk.example"].assigned_licenses[0].disabled_plans == []
    assert users["user1@contososdk.example"].mail is None  # not selected, not sent


def test_without_select_the_sdk_sees_no_licenses_and_no_account_state(tenant: Emulator) -> None:
    async def first(client: GraphServiceClient) -> Any:
        return await client.users.get()

    page = run(tenant, first)
    assert page.odata_next_link is None and len(page.value) == 5
    ann = page.value[0]
    no_leftovers(ann)
    assert (ann.id, ann.display_name, ann.mail) == ("u-ann", "Ann Lee", "ann@contososdk.example")
    assert ann.business_phones == [] and ann.job_title is None
    assert ann.assigned_licenses is None and ann.account_enabled is None


def test_subscribed_skus_read_as_the_sdks_model(tenant: Emulator) -> None:
    async def skus(client: GraphServiceClient) -> Any:
        return await client.subscribed_skus.get()

    value = run(tenant, skus).value
    by_sku = {s.sku_id: s for s in value}
    assert set(by_sku) == {UUID(BP_SKU), UUID(E3_SKU)}
    bp = by_sku[UUID(BP_SKU)]
    no_leftovers(bp, bp.prepaid_units, *bp.service_plans)
    assert (bp.sku_part_number, bp.capability_status, bp.applies_to) == ("SPB", "Enabled", "User")
    assert (bp.prepaid_units.enabled, bp.prepaid_units.suspended, bp.consumed_units) == (4, 0, 3)
    assert bp.account_name == "Contoso SDK" and UUID(bp.account_id)
    assert bp.subscription_ids == ["sub-bp"] and bp.id == f"{TENANT}_{BP_SKU}"
    assert bp.service_plans and all(isinstance(p.service_plan_id, UUID) for p in bp.service_plans)
    assert {p.provisioning_status for p in bp.service_plans} == {"Success"}


def test_assign_license_adds_and_removes_and_the_seat_counts_follow(tenant: Emulator) -> None:
    async def assign_then_remove(client: GraphServiceClient) -> tuple[Any, ...]:
        nil = client.users.by_user_id("u-nil")
        added = await nil.assign_license.post(
            AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=UUID(BP_SKU), disabled_plans=[])],
                remove_licenses=[],
            )
        )
        after_add = await client.subscribed_skus.get()
        removed = await client.users.by_user_id("u-max").assign_license.post(
            AssignLicensePostRequestBody(add_licenses=[], remove_licenses=[UUID(E3_SKU)])
        )
        after_remove = await client.subscribed_skus.get()
        return added, after_add, removed, after_remove

    added, after_add, removed, after_remove = run(tenant, assign_then_remove)
    no_leftovers(added, removed, *added.assigned_licenses)
    assert added.id == "u-nil"
    assert [lic.sku_id for lic in added.assigned_licenses] == [UUID(BP_SKU)]
    assert {s.sku_id: s.consumed_units for s in after_add.value}[UUID(BP_SKU)] == 4
    assert [lic.sku_id for lic in removed.assigned_licenses] == [UUID(BP_SKU)]
    assert {s.sku_id: s.consumed_units for s in after_remove.value}[UUID(E3_SKU)] == 1


def test_license_details_show_a_disabled_plan(tenant: Emulator) -> None:
    async def disable_one_plan(client: GraphServiceClient) -> tuple[Any, Any]:
        skus = await client.subscribed_skus.get()
        e3 = next(s for s in skus.value if s.sku_id == UUID(E3_SKU))
        plan = e3.service_plans[0].service_plan_id
        await client.users.by_user_id("u-max").assign_license.post(
            AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=UUID(E3_SKU), disabled_plans=[plan])],
                remove_licenses=[],
            )
        )
        return plan, await client.users.by_user_id("u-max").license_details.get()

    plan, details = run(tenant, disable_one_plan)
    by_sku = {d.sku_id: d for d in details.value}
    assert set(by_sku) == {UUID(BP_SKU), UUID(E3_SKU)}
    e3 = by_sku[UUID(E3_SKU)]
    no_leftovers(e3, *e3.service_plans)
    assert e3.sku_part_number and e3.id
    status = {p.service_plan_id: p.provisioning_status for p in e3.service_plans}
    assert status[plan] == "Disabled" and list(status.values()).count("Success") >= 1
    assert {p.provisioning_status for p in by_sku[UUID(BP_SKU)].service_plans} == {"Success"}


def test_the_organization_is_the_customer_tenant(tenant: Emulator) -> None:
    async def both(client: GraphServiceClient) -> tuple[Any, Any]:
        listed = await client.organization.get()
        one = await client.organization.by_organization_id(TENANT).get()
        return listed, one

    listed, one = run(tenant, both)
    [org] = listed.value
    no_leftovers(org, one, *org.verified_domains, *org.assigned_plans)
    assert org.id == one.id == TENANT and org.display_name == "Contoso SDK"
    assert org.tenant_type == "AAD"
    default = next(d for d in org.verified_domains if d.is_default)
    initial = next(d for d in org.verified_domains if d.is_initial)
    assert (default.name, initial.name) == ("contososdk.example", "contososdk.onmicrosoft.com")
    assert org.assigned_plans and org.created_date_time is not None


def test_without_a_token_the_sdk_gets_401(tenant: Emulator) -> None:
    async def users(client: GraphServiceClient) -> Any:
        return await client.users.get()

    error = refusal(tenant, users, signed_in=False)
    assert error.response_status_code == 401
    assert error.error.code == "InvalidAuthenticationToken"
    assert error.error.message == "Access token is empty."


def test_a_token_for_another_tenant_gets_403(tenant: Emulator) -> None:
    async def users(client: GraphServiceClient) -> Any:
        return await client.users.get()

    error = refusal(tenant, users, tenant="not-a-customer.example")
    assert error.response_status_code == 403
    assert error.error.code == "Authorization_RequestDenied"


def test_an_unknown_user_gets_404_with_the_request_ids(tenant: Emulator) -> None:
    async def nobody(client: GraphServiceClient) -> Any:
        return await client.users.by_user_id("nobody").get()

    error = refusal(tenant, nobody)
    assert error.response_status_code == 404
    assert error.error.code == "Request_ResourceNotFound"
    assert error.error.message.startswith("Resource 'nobody' does not exist")
    inner = error.error.inner_error
    assert inner.request_id and inner.client_request_id and inner.date is not None
    assert error.response_headers.get("request-id") == inner.request_id


def test_a_bad_assign_license_body_gets_400(tenant: Emulator) -> None:
    async def no_remove_list(client: GraphServiceClient) -> Any:
        return await client.users.by_user_id("u-nil").assign_license.post(
            AssignLicensePostRequestBody(add_licenses=[AssignedLicense(sku_id=UUID(E3_SKU))])
        )

    async def no_free_seat(client: GraphServiceClient) -> Any:
        return await client.users.by_user_id("u-nil").assign_license.post(
            AssignLicensePostRequestBody(
                add_licenses=[AssignedLicense(sku_id=UUID(E3_SKU), disabled_plans=[])],
                remove_licenses=[],
            )
        )

    error = refusal(tenant, no_remove_list)
    assert error.response_status_code == 400 and error.error.code == "Request_BadRequest"
    assert "removeLicenses" in error.error.message
    full = refusal(tenant, no_free_seat)  # E3 has 2 seats, both held
    assert full.response_status_code == 400
    assert full.error.message == (
        f"Subscription with SKU {E3_SKU} does not have any available licenses."
    )
