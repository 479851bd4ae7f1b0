"""Microsoft 365 usage reports of Graph: who was last active, per workload.

Modelled (Microsoft Learn, Graph; see README.md, "Usage reports"):
- v1.0 ``GET /reports/getOffice365ActiveUserDetail(period='D30')`` and
  ``GET /reports/getM365AppUserDetail(period='D30')?$format=text/csv``: CSV reports. As
  documented for v1.0, the call answers **302 Found** with a ``Location`` of a
  pre-authenticated download URL (here ``/_emulator/reports/<token>``, which needs no bearer
  token); the CSV starts with a UTF-8 byte-order mark, dates are ``YYYY-MM-DD`` or empty.
- beta ``GET /beta/copilot/reports/getMicrosoft365CopilotUsageUserDetail(period='D30')``:
  JSON ``{"value": [...]}``, one row per user holding a Copilot licence.
- Throttling: usage reports allow 14 requests per 10 minutes per app per tenant
  (throttling-limits); beyond it, 429 with ``Retry-After``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, request
from flask.typing import ResponseReturnValue

from emulator.context import current
from emulator.errors import INVALID_INPUT, TOO_MANY_REQUESTS, ApiError
from emulator.model import Customer, User
from emulator.shapes import sku_names

v1 = Blueprint("graph_reports", __name__, url_prefix="/v1.0/reports")
beta = Blueprint("graph_beta_reports", __name__, url_prefix="/beta/copilot/reports")
download = Blueprint("graph_report_download", __name__, url_prefix="/_emulator/reports")

PERIODS = {"D7": 7, "D30": 30, "D90": 90, "D180": 180}
REPORTS_PER_WINDOW = 14
REPORT_WINDOW = timedelta(minutes=10)
_CALL = re.compile(r"^(?P<name>\w+)\(period='(?P<period>\w+)'\)$")

OFFICE365_COLUMNS = (
    "Report Refresh Date",
    "User Principal Name",
    "Display Name",
    "Is Deleted",
    "Deleted Date",
    "Has Exchange License",
    "Has OneDrive License",
    "Has SharePoint License",
    "Has Skype For Business License",
    "Has Yammer License",
    "Has Teams License",
    "Exchange Last Activity Date",
    "OneDrive Last Activity Date",
    "SharePoint Last Activity Date",
    "Skype For Business Last Activity Date",
    "Yammer Last Activity Date",
    "Teams Last Activity Date",
    "Assigned Products",
)
APPS_COLUMNS = (
    "Report Refresh Date",
    "User Principal Name",
    "Last Activity Date",
    "Report Period",
    "Windows",
    "Mac",
    "Mobile",
    "Web",
    "Outlook",
    "Word",
    "Excel",
    "PowerPoint",
    "OneNote",
    "Teams",
)


def _customer() -> Customer:
    customer: Customer = g.customer
    return customer


def _call(raw: str, expected: str) -> int:
    """The period in days of ``name(period='Dn')``; 400 for anything else."""
    match = _CALL.match(raw)
    if match is None or match.group("name") != expected:
        raise ApiError(404, INVALID_INPUT, f"Resource not found for the segment '{raw}'.")
    period = match.group("period")
    if period not in PERIODS:
        raise ApiError(
            400,
            INVALID_INPUT,
            f"Invalid period '{period}': one of {', '.join(PERIODS)}.",
            graph_code="BadRequest",
        )
    return PERIODS[period]


def _admit(customer: Customer) -> None:
    """Count one report request; the 15th within ten minutes answers 429."""
    now = current().store.now()
    customer.report_calls = [t for t in customer.report_calls if now - t < REPORT_WINDOW]
    if len(customer.report_calls) >= REPORTS_PER_WINDOW:
        wait = REPORT_WINDOW - (now - customer.report_calls[0])
        raise ApiError(
            429,
            TOO_MANY_REQUESTS,
            "Too many requests: usage reports allow 14 requests per 10 minutes.",
            {"Retry-After": str(max(int(wait.total_seconds()), 1))},
            graph_code="TooManyRequests",
        )
    customer.report_calls.append(now)


def _day(value: date | None) -> str:
    return value.isoformat() if value is not None else ""


def _yes(flag: bool) -> str:
    return "True" if flag else "False"


def _token(customer: Customer, report: str, days: int) -> str:
    raw = f"{customer.id}\x1f{report}\x1f{days}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" + out.getvalue()).encode()


def _name(customer: Customer, user: User) -> tuple[str, str]:
    """The user principal name and display name a report shows: hashes when the tenant
    conceals user names in reports."""
    if not customer.conceal_report_names:
        return user.upn, user.name
    digest = hashlib.md5(user.upn.lower().encode(), usedforsecurity=False).hexdigest().upper()
    return digest, digest


def _products(customer: Customer, user: User) -> str:
    return "+".join(sku_names(customer, sku)[0].upper() for sku in user.licenses)


def office365_rows(customer: Customer, today: date) -> list[dict[str, str]]:
    """getOffice365ActiveUserDetail: every user, with the last activity per service."""
    rows = []
    for user in customer.users.values():
        licensed = bool(user.licenses)
        act = user.activity
        upn, name = _name(customer, user)
        rows.append(
            {
                "Report Refresh Date": today.isoformat(),
                "User Principal Name": upn,
                "Display Name": name,
                "Is Deleted": "False",
                "Deleted Date": "",
                "Has Exchange License": _yes(licensed),
                "Has OneDrive License": _yes(licensed),
                "Has SharePoint License": _yes(licensed),
                "Has Skype For Business License": "False",
                "Has Yammer License": "False",
                "Has Teams License": _yes(licensed),
                "Exchange Last Activity Date": _day(act.get("exchange")),
                "OneDrive Last Activity Date": _day(act.get("onedrive")),
                "SharePoint Last Activity Date": _day(act.get("sharepoint")),
                "Skype For Business Last Activity Date": "",
                "Yammer Last Activity Date": "",
                "Teams Last Activity Date": _day(act.get("teams")),
                "Assigned Products": _products(customer, user),
            }
        )
    return rows


def apps_rows(customer: Customer, today: date, days: int) -> list[dict[str, str]]:
    """getM365AppUserDetail: licensed users, the last day they used an Office app."""
    rows = []
    for user in customer.users.values():
        if not user.licenses:
            continue
        last = user.activity.get("office")
        used = "Yes" if last is not None and (today - last).days < days else "No"
        rows.append(
            {
                "Report Refresh Date": today.isoformat(),
                "User Principal Name": _name(customer, user)[0],
                "Last Activity Date": _day(last),
                "Report Period": str(days),
                **{name: used for name in APPS_COLUMNS[4:]},
            }
        )
    return rows


def copilot_rows(customer: Customer, today: date, days: int) -> list[dict[str, Any]]:
    """getMicrosoft365CopilotUsageUserDetail: users holding a Copilot licence."""
    rows = []
    for user in customer.users.values():
        if not any("copilot" in sku_names(customer, s)[1].lower() for s in user.licenses):
            continue
        last = user.activity.get("copilot")
        day = last.isoformat() if last is not None else None
        upn, name = _name(customer, user)
        rows.append(
            {
                "reportRefreshDate": today.isoformat(),
                "reportPeriod": days,
                "userPrincipalName": upn,
                "displayName": name,
                "lastActivityDate": day,
                "copilotChatLastActivityDate": day,
                "microsoftTeamsCopilotLastActivityDate": day,
                "wordCopilotLastActivityDate": None,
                "excelCopilotLastActivityDate": None,
                "powerPointCopilotLastActivityDate": None,
                "outlookCopilotLastActivityDate": None,
            }
        )
    return rows


@v1.get("/<path:call>")
def report(call: str) -> ResponseReturnValue:
    """A CSV usage report: 302 to its pre-authenticated download URL."""
    customer = _customer()
    if call.startswith("getOffice365ActiveUserDetail"):
        name = "getOffice365ActiveUserDetail"
    elif call.startswith("getM365AppUserDetail"):
        name = "getM365AppUserDetail"
        wanted = request.args.get("$format", "text/csv")
        if wanted != "text/csv":
            raise ApiError(
                501,
                INVALID_INPUT,
                f"The emulator serves this report as text/csv only, not {wanted}.",
                graph_code="NotImplemented",
            )
    else:
        raise ApiError(404, INVALID_INPUT, f"Resource not found for the segment '{call}'.")
    days = _call(call, name)
    _admit(customer)
    return redirect(f"{request.host_url}_emulator/reports/{_token(customer, name, days)}", 302)


@beta.get("/<path:call>")
def copilot_report(call: str) -> ResponseReturnValue:
    """The Copilot usage per user (beta, JSON)."""
    customer = _customer()
    days = _call(call, "getMicrosoft365CopilotUsageUserDetail")
    _admit(customer)
    today = current().store.now().date()
    return jsonify(
        {
            "@odata.context": f"{request.host_url}beta/$metadata#Collection("
            "microsoft.graph.copilotUsageUserDetail)",
            "value": copilot_rows(customer, today, days),
        }
    )


@download.get("/<token>")
def report_file(token: str) -> ResponseReturnValue:
    """The report's CSV (no bearer token: the URL itself is the authorisation)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        customer_id, name, days_text = raw.split("\x1f")
        days = int(days_text)
    except ValueError:
        return Response("unknown report", status=404, mimetype="text/plain")
    store = current().store
    with store.lock:
        customer = store.customers.get(customer_id)
        if customer is None:
            return Response("unknown report", status=404, mimetype="text/plain")
        today = store.now().date()
        if name == "getOffice365ActiveUserDetail":
            body = _csv(OFFICE365_COLUMNS, office365_rows(customer, today))
        else:
            body = _csv(APPS_COLUMNS, apps_rows(customer, today, days))
    return Response(body, mimetype="application/octet-stream")
