"""Microsoft Graph client (`/v1.0/...`) for one customer tenant: users and license assignment.

Sources: Graph docs for `GET /users`, `POST /users/{id}/assignLicense` and
`GET /subscribedSkus` (NOTES.md, Microsoft Graph; docs/graph.md).

Graph answers `GET /users` with a small default property set that leaves out
`assignedLicenses` and `accountEnabled`; a property is sent only when `$select` names it,
and then only the properties named (`id` too). So every read here names, in `$select`,
exactly the properties it reads (USER_FIELDS, SKU_FIELDS).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import httpx

from app.services.microsoft.http import MicrosoftError, Refused, RetryPolicy, TokenStore, connect

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
# What sign_ins() reads: signInActivity needs Entra ID P1/P2 and AuditLog.Read.All.
SIGN_IN_FIELDS = ("id", "userPrincipalName", "accountEnabled", "signInActivity")
ENABLED_FIELDS = ("id", "userPrincipalName", "accountEnabled")
# The 403 code Graph answers a tenant without Entra ID P1/P2 when signInActivity is asked.
NO_PREMIUM = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
REPORT_PERIOD = "D30"
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


@dataclass(frozen=True)
class GraphSignIn:
    """A user's account state and last sign-in (None: never, or not known)."""

    id: str
    upn: str
    enabled: bool
    last_sign_in: datetime | None


@dataclass(frozen=True)
class WorkloadActivity:
    """The last activity date per workload of one user (by user principal name), from the
    usage reports; a workload the user never used is absent."""

    upn: str
    last: dict[str, date]


class PremiumMissing(Exception):
    """The tenant has no Microsoft Entra ID P1/P2: Graph does not give signInActivity."""


def _moment(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _day(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


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

    def sign_ins(self, *, with_activity: bool = True) -> Iterator[GraphSignIn]:
        """Every user with `accountEnabled` and (`with_activity`) the latest of its
        signInActivity moments; Graph sends at most 120 users a page with signInActivity.
        Raises PremiumMissing when the tenant lacks Entra ID P1/P2."""
        fields = SIGN_IN_FIELDS if with_activity else ENABLED_FIELDS
        params = {"$select": ",".join(fields), "$top": "999"}
        try:
            answer = self.caller.request("GET", "/users", params=params)
        except Refused as error:
            if error.code == NO_PREMIUM:
                raise PremiumMissing(str(error)) from error
            raise
        while True:
            page: dict[str, Any] = answer.json()
            for item in page.get("value", []):
                activity = item.get("signInActivity") or {}
                moments = [
                    _moment(activity.get(key))
                    for key in (
                        "lastSignInDateTime",
                        "lastNonInteractiveSignInDateTime",
                        "lastSuccessfulSignInDateTime",
                    )
                ]
                known = [m for m in moments if m is not None]
                yield GraphSignIn(
                    id=item["id"],
                    upn=item.get("userPrincipalName", ""),
                    enabled=bool(item.get("accountEnabled", True)),
                    last_sign_in=max(known) if known else None,
                )
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            answer = self.caller.request("GET", next_link)

    def _csv_report(
        self, function: str, extra: dict[str, str] | None = None
    ) -> list[dict[str, str]]:
        """A v1.0 usage report: Graph answers 302 with a pre-authenticated download URL,
        fetched without our bearer token; the CSV starts with a byte-order mark."""
        answer = self.caller.request(
            "GET", f"/reports/{function}(period='{REPORT_PERIOD}')", params=extra
        )
        location = answer.headers.get("Location")
        if answer.status_code in (301, 302, 303, 307) and location:
            answer = self.http.get(location)
            if answer.status_code >= 400:
                raise MicrosoftError(
                    f"The report download answered HTTP {answer.status_code}.",
                    status=answer.status_code,
                )
        text = answer.content.decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(text)))

    def workload_activity(self) -> list[WorkloadActivity]:
        """Last activity per workload and user over the usage reports (D30): Exchange,
        OneDrive, SharePoint, Teams (Office 365 active users), Office apps (Microsoft 365
        apps) and Copilot (beta, JSON). Three report requests."""
        found: dict[str, dict[str, date]] = {}

        def note(upn: str, workload: str, raw: Any) -> None:
            day = _day(raw)
            if upn and day is not None:
                found.setdefault(upn.lower(), {})[workload] = day

        for row in self._csv_report("getOffice365ActiveUserDetail"):
            upn = row.get("User Principal Name", "")
            found.setdefault(upn.lower(), {})
            for workload, column in (
                ("exchange", "Exchange Last Activity Date"),
                ("onedrive", "OneDrive Last Activity Date"),
                ("sharepoint", "SharePoint Last Activity Date"),
                ("teams", "Teams Last Activity Date"),
            ):
                note(upn, workload, row.get(column))
        for row in self._csv_report("getM365AppUserDetail", {"$format": "text/csv"}):
            note(row.get("User Principal Name", ""), "office", row.get("Last Activity Date"))
        beta = self.caller.base_url.rsplit("/v1.0", 1)[0] + "/beta"
        answer = self.caller.request(
            "GET",
            f"{beta}/copilot/reports/getMicrosoft365CopilotUsageUserDetail"
            f"(period='{REPORT_PERIOD}')",
        )
        for item in answer.json().get("value", []):
            note(item.get("userPrincipalName", ""), "copilot", item.get("lastActivityDate"))
        return [WorkloadActivity(upn, last) for upn, last in found.items()]

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
