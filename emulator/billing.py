"""Azure plan usage: Microsoft's "billed and unbilled daily rated usage reconciliation API v2"
(Microsoft Graph, namespace microsoft.graph.partners.billing), unbilled usage only.

The flow Microsoft documents (asynchronous request-reply with a valet key):

1. ``POST /v1.0/reports/partners/billing/usage/unbilled/export`` with ``{currencyCode,
   billingPeriod: current|last, attributeSet: full|basic}`` answers 202 with a ``Location``
   of the export operation;
2. ``GET /v1.0/reports/partners/billing/operations/{id}`` answers the operation: running, or
   ``exportSuccessOperation`` whose ``resourceLocation`` is a manifest (``rootDirectory``,
   ``sasToken``, ``blobCount``, ``blobs[{name, partitionValue}]``, ``dataFormat:
   compressedJSONLines``);
3. each blob (``{rootDirectory}/{name}?{sasToken}``, no bearer token) is a gzip file of JSON
   lines, one daily rated usage line item per line, partner-wide (every customer).

What is simplified is in README.md ("Azure usage").
"""

from __future__ import annotations

import gzip
import json
import secrets
import uuid
from datetime import date, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from emulator.clock import iso, midnight
from emulator.context import current
from emulator.errors import INVALID_INPUT, NOT_FOUND, ApiError
from emulator.model import AzureMeter, Customer

bp = Blueprint("billing", __name__)

PREFIX = "/v1.0/reports/partners/billing"
AZURE_PLAN_PRODUCT, AZURE_PLAN_SKU = "DZH318Z0BPS6", "0001"  # the Azure plan offer
LINES_PER_BLOB = 2000
BASIC = (  # the "basic" attribute set: a subset of the full one
    "PartnerId",
    "CustomerId",
    "CustomerName",
    "SubscriptionId",
    "EntitlementId",
    "ChargeStartDate",
    "ChargeEndDate",
    "UsageDate",
    "MeterCategory",
    "MeterSubCategory",
    "MeterName",
    "MeterId",
    "ResourceGroup",
    "Quantity",
    "Unit",
    "UnitPrice",
    "BillingPreTaxTotal",
    "BillingCurrency",
)


def _bad(message: str) -> ApiError:
    return ApiError(400, INVALID_INPUT, message, graph_code="BadRequest")


def period_days(today: date, period: str) -> tuple[date, date]:
    """The first and the last day of usage of a billing period (a calendar month): "current"
    runs to yesterday (rated usage comes a day late), "last" is the whole previous month."""
    first_this = today.replace(day=1)
    if period == "current":
        return first_this, today - timedelta(days=1)
    last_day = first_this - timedelta(days=1)
    return last_day.replace(day=1), last_day


@bp.post(f"{PREFIX}/usage/unbilled/export")
def export_unbilled() -> ResponseReturnValue:
    """Start an export of the partner's unbilled Azure usage of a billing period."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    currency = body.get("currencyCode")
    period = body.get("billingPeriod")
    attribute_set = body.get("attributeSet", "full")
    if not isinstance(currency, str) or len(currency) != 3:
        raise _bad("currencyCode is required (an ISO 4217 code such as USD).")
    if period not in ("current", "last"):
        raise _bad("billingPeriod must be one of: current, last.")
    if attribute_set not in ("full", "basic"):
        raise _bad("attributeSet must be one of: full, basic.")
    store = current().store
    now = store.now()
    first, last = period_days(now.date(), period)
    lines = [
        _line(customer, meter, day, first, last, store.resellers)
        for customer in store.customers.values()
        for meter in customer.azure
        if meter.currency == currency.upper()
        for day in _days(meter, first, last)
    ]
    if attribute_set == "basic":
        lines = [{key: line[key] for key in BASIC} for line in lines]
    operation = str(uuid.uuid4())
    store.billing_exports[operation] = {
        "created": iso(now),
        "sas": "sv=2023-01-03&sr=c&sp=rl&sig=" + secrets.token_urlsafe(24),
        "blobs": [
            lines[i : i + LINES_PER_BLOB] for i in range(0, max(len(lines), 1), LINES_PER_BLOB)
        ],
    }
    answer = Response(status=202)
    answer.headers["Location"] = f"{request.host_url.rstrip('/')}{PREFIX}/operations/{operation}"
    answer.headers["Retry-After"] = "1"
    return answer


@bp.get(f"{PREFIX}/operations/<operation>")
def operation_status(operation: str) -> ResponseReturnValue:
    """An export operation: done at once here, with its manifest."""
    export = current().store.billing_exports.get(operation)
    if export is None:
        raise ApiError(404, NOT_FOUND, f"Operation {operation} was not found.")
    root = f"{request.host_url.rstrip('/')}/_blobs/billing/{operation}"
    blobs = [
        {"name": f"part-{i:05d}.json.gz", "partitionValue": "default"}
        for i in range(len(export["blobs"]))
    ]
    return jsonify(
        {
            "@odata.context": f"{request.host_url}v1.0/$metadata#reports/partners/billing/"
            "operations/$entity",
            "@odata.type": "#microsoft.graph.partners.billing.exportSuccessOperation",
            "id": operation,
            "createdDateTime": export["created"],
            "lastActionDateTime": export["created"],
            "status": "succeeded",
            "resourceLocation": {
                "@odata.type": "#microsoft.graph.partners.billing.manifest",
                "id": operation,
                "schemaVersion": "2",
                "dataFormat": "compressedJSONLines",
                "createdDateTime": export["created"],
                "eTag": operation[:8],
                "partnerTenantId": "",
                "rootDirectory": root,
                "sasToken": export["sas"],
                "partitionType": "default",
                "blobCount": len(blobs),
                "blobs": blobs,
            },
        }
    )


@bp.get("/_blobs/billing/<operation>/<name>")
def blob(operation: str, name: str) -> ResponseReturnValue:
    """One blob of an export: gzip of JSON lines. The SAS token is the only credential."""
    export = current().store.billing_exports.get(operation)
    if export is None or not name.startswith("part-") or not name.endswith(".json.gz"):
        return jsonify({"error": "BlobNotFound"}), 404
    if request.query_string.decode() != export["sas"]:
        return jsonify({"error": "AuthenticationFailed"}), 403
    try:
        part = export["blobs"][int(name[5:10])]
    except (ValueError, IndexError):
        return jsonify({"error": "BlobNotFound"}), 404
    data = "".join(json.dumps(line) + "\n" for line in part).encode()
    return Response(gzip.compress(data), mimetype="application/octet-stream")


def _days(meter: AzureMeter, first: date, last: date) -> list[date]:
    start = max(meter.start, first)
    end = min(meter.end or last, last)
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _line(
    customer: Customer,
    meter: AzureMeter,
    day: date,
    first: date,
    last: date,
    resellers: dict[str, Any],
) -> dict[str, Any]:
    """One daily rated usage line item (the full attribute set)."""
    cost = round(meter.daily_quantity * meter.unit_price, 6)
    reseller = resellers.get(customer.reseller_id or "")
    resource_uri = (
        f"/subscriptions/{meter.entitlement_id}/resourceGroups/{meter.resource_group}"
        f"/providers/{_provider(meter.category)}"
    )
    return {
        "PartnerId": "",
        "PartnerName": "Emulated partner",
        "CustomerId": customer.id,
        "CustomerName": customer.name,
        "CustomerDomainName": customer.domain,
        "CustomerCountry": "US",
        "MpnId": "",
        "Tier2MpnId": reseller.mpn_id if reseller is not None else "",
        "InvoiceNumber": "",
        "ProductId": AZURE_PLAN_PRODUCT,
        "SkuId": AZURE_PLAN_SKU,
        "AvailabilityId": "",
        "SkuName": "Microsoft Azure plan",
        "ProductName": "Azure plan",
        "PublisherName": "Microsoft",
        "PublisherId": "",
        "SubscriptionDescription": "Azure plan",
        "SubscriptionId": meter.subscription_id,
        "ChargeStartDate": iso(midnight(first)),
        "ChargeEndDate": iso(midnight(last)),
        "UsageDate": iso(midnight(day)),
        "MeterType": meter.unit,
        "MeterCategory": meter.category,
        "MeterId": meter.meter_id,
        "MeterSubCategory": meter.subcategory,
        "MeterName": meter.name,
        "MeterRegion": meter.region,
        "Unit": meter.unit,
        "ResourceLocation": meter.region.replace(" ", "").upper(),
        "ConsumedService": _provider(meter.category).split("/")[0],
        "ResourceGroup": meter.resource_group,
        "ResourceURI": resource_uri,
        "ChargeType": "new",
        "UnitPrice": meter.unit_price,
        "Quantity": meter.daily_quantity,
        "UnitType": meter.unit,
        "BillingPreTaxTotal": cost,
        "BillingCurrency": meter.currency,
        "PricingPreTaxTotal": cost,
        "PricingCurrency": meter.currency,
        "ServiceInfo1": "",
        "ServiceInfo2": "",
        "Tags": "",
        "AdditionalInfo": "",
        "EffectiveUnitPrice": meter.unit_price,
        "PCToBCExchangeRate": 1,
        "PCToBCExchangeRateDate": iso(midnight(first)),
        "EntitlementId": meter.entitlement_id,
        "EntitlementDescription": meter.entitlement_name,
        "PartnerEarnedCreditPercentage": 0,
        "CreditPercentage": 0,
        "CreditType": "None",
        "BenefitOrderID": "",
        "BenefitID": "",
        "BenefitType": "",
    }


_PROVIDERS = {
    "Virtual Machines": "Microsoft.Compute/virtualMachines",
    "Storage": "Microsoft.Storage/storageAccounts",
    "SQL Database": "Microsoft.Sql/servers",
    "Bandwidth": "Microsoft.Network/publicIPAddresses",
    "Azure App Service": "Microsoft.Web/sites",
}


def _provider(category: str) -> str:
    return _PROVIDERS.get(category, "Microsoft.Resources/resources")
