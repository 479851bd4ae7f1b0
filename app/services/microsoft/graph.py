"""Microsoft Graph client (`/v1.0/...`) for one customer tenant: users and license assignment.

Sources: Graph docs for `GET /users`, `POST /users/{id}/assignLicense` and
`GET /subscribedSkus` (NOTES.md, Microsoft Graph; docs/graph.md).

Graph answers `GET /users` with a small default property set that leaves out
`assignedLicenses` and `accountEnabled`; a property is sent only when `$select` names it,
and then only the properties named (`id` too). So every read here names, in `$select`,
exactly the properties it reads (USER_FIELDS, SKU_FIELDS).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from app.services.microsoft.http import RetryPolicy, TokenStore, connect

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
# What users() and subscribed_skus() read: $select asks for exactly these.
USER_FIELDS = (
    "id",
    "displayName",
    "userPrincipalName",
    "mail",
    "accountEnabled",
    "assignedLicenses",
)
SKU_FIELDS = ("skuId", "skuPartNumber", "prepaidUnits", "consumedUnits", "capabilityStatus")


@dataclass(frozen=True)
class GraphUser:
    """A user of the customer's directory and the SKUs assigned to them."""

    id: str
    name: str
    upn: str
    mail: str | None
    enabled: bool
    sku_ids: frozenset[str]


@dataclass(frozen=True)
class GraphSku:
    """A SKU the tenant has: enabled (paid) and consumed (assigned) units."""

    sku_id: str
    part_number: str
    enabled: int
    consumed: int
    status: str


def graph_error(answer: httpx.Response) -> tuple[str | None, str]:
    """Graph's error code and message."""
    try:
        error = answer.json().get("error") or {}
    except (ValueError, AttributeError):
        return None, f"HTTP {answer.status_code}"
    return error.get("code"), error.get("message") or f"HTTP {answer.status_code}"


class GraphClient:
    """Typed access to Microsoft Graph for one customer tenant."""

    def __init__(
        self,
        *,
        base_url: str,
        token_authority: str,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        http: httpx.Client | None = None,
        policy: RetryPolicy | None = None,
        token_store: TokenStore | None = None,
    ) -> None:
        self.caller = connect(
            api_url=f"{base_url.rstrip('/')}/v1.0",
            token_authority=token_authority,
            tenant=tenant_id,
            client_id=client_id,
            client_secret=client_secret,
            scope=GRAPH_SCOPE,
            http=http,
            policy=policy,
            token_store=token_store,
            error_reader=graph_error,
        )
        self.http = self.caller.http

    def users(self, page_size: int = 999) -> Iterator[GraphUser]:
        """Every user of the tenant with their licenses, following `@odata.nextLink` (which
        carries the `$select` and `$top` of the first request)."""
        answer = self.caller.request(
            "GET", "/users", params={"$select": ",".join(USER_FIELDS), "$top": str(page_size)}
        )
        while True:
            page: dict[str, Any] = answer.json()
            for item in page.get("value", []):
                yield GraphUser(
                    id=item["id"],
                    name=item.get("displayName") or item.get("userPrincipalName", ""),
                    upn=item.get("userPrincipalName", ""),
                    mail=item.get("mail"),
                    enabled=bool(item.get("accountEnabled", True)),
                    sku_ids=frozenset(a["skuId"] for a in item.get("assignedLicenses", [])),
                )
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            answer = self.caller.request("GET", next_link)

    def subscribed_skus(self) -> list[GraphSku]:
        """The tenant's SKUs with enabled and consumed units."""
        answer = self.caller.request(
            "GET", "/subscribedSkus", params={"$select": ",".join(SKU_FIELDS)}
        )
        return [
            GraphSku(
                sku_id=item["skuId"],
                part_number=item.get("skuPartNumber", ""),
                enabled=int((item.get("prepaidUnits") or {}).get("enabled", 0)),
                consumed=int(item.get("consumedUnits", 0)),
                status=item.get("capabilityStatus", ""),
            )
            for item in answer.json().get("value", [])
        ]

    def assign_license(
        self,
        user_id: str,
        *,
        add: tuple[str, ...] = (),
        remove: tuple[str, ...] = (),
        request_id: str | None = None,
    ) -> None:
        """Add and/or remove SKUs for a user in one call (the user it answers is not read, so
        nothing is selected)."""
        self.caller.request(
            "POST",
            f"/users/{quote(user_id, safe='')}/assignLicense",
            json={
                "addLicenses": [{"skuId": sku, "disabledPlans": []} for sku in add],
                "removeLicenses": list(remove),
            },
            request_id=request_id,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()
