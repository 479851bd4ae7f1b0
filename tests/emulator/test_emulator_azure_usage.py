"""The emulator's Azure plan usage: Microsoft's unbilled daily rated usage export (v2, Graph)."""

from __future__ import annotations

import gzip
import json
from typing import Any

from flask.testing import FlaskClient

from tests.emulator.helpers import Api, northwind

EXPORT = "/v1.0/reports/partners/billing/usage/unbilled/export"


def _with_azure() -> dict[str, Any]:
    scenario = northwind()
    scenario["customers"][0]["azure"] = [
        {
            "subscription_id": "az-plan-1",
            "entitlements": [
                {
                    "id": "ent-1",
                    "name": "Production",
                    "usage": [
                        {
                            "resource_group": "rg-web",
                            "category": "Virtual Machines",
                            "subcategory": "Dv3/DSv3 Series",
                            "meter": "D2 v3/D2s v3",
                            "unit": "1 Hour",
                            "daily_quantity": 48,
                            "unit_price": 0.125,
                            "from": "-60d",
                        }
                    ],
                }
            ],
        }
    ]
    return scenario


def _export(emu: FlaskClient, pc: Api, period: str) -> list[dict[str, Any]]:
    started = pc.post(EXPORT, {"currencyCode": "USD", "billingPeriod": period})
    assert started.status_code == 202
    operation = pc.get(started.headers["Location"]).get_json()
    assert operation["status"] == "succeeded"
    manifest = operation["resourceLocation"]
    assert manifest["dataFormat"] == "compressedJSONLines"
    assert manifest["blobCount"] == len(manifest["blobs"])
    lines = []
    for blob in manifest["blobs"]:
        url = f"{manifest['rootDirectory']}/{blob['name']}?{manifest['sasToken']}"
        answer = emu.get(url)  # the SAS token is the credential, no bearer token
        assert answer.status_code == 200
        text = gzip.decompress(answer.get_data()).decode()
        lines += [json.loads(line) for line in text.splitlines() if line]
    return lines


def test_the_current_period_has_one_line_a_day_up_to_yesterday(
    emu: FlaskClient, pc: Api, load: Any
) -> None:
    load(_with_azure())
    lines = _export(emu, pc, "current")
    assert len(lines) == 9  # the clock is at 10 March: 1..9 March
    first = lines[0]
    assert first["CustomerId"] == "cust-1" and first["EntitlementId"] == "ent-1"
    assert first["SubscriptionId"] == "az-plan-1" and first["ResourceGroup"] == "rg-web"
    assert (first["MeterCategory"], first["MeterName"]) == ("Virtual Machines", "D2 v3/D2s v3")
    assert (first["Quantity"], first["Unit"], first["BillingPreTaxTotal"]) == (48, "1 Hour", 6.0)
    assert first["BillingCurrency"] == "USD" and first["Tier2MpnId"] == "1234567"
    assert first["UsageDate"] == "2025-03-01T00:00:00Z"


def test_the_last_period_is_the_whole_previous_month(emu: FlaskClient, pc: Api, load: Any) -> None:
    load(_with_azure())
    lines = _export(emu, pc, "last")
    assert len(lines) == 28  # February 2025
    assert {line["UsageDate"][:7] for line in lines} == {"2025-02"}


def test_a_blob_without_its_sas_token_is_refused_and_a_bad_period_is_a_400(
    emu: FlaskClient, pc: Api, load: Any
) -> None:
    load(_with_azure())
    started = pc.post(EXPORT, {"currencyCode": "USD", "billingPeriod": "current"})
    manifest = pc.get(started.headers["Location"]).get_json()["resourceLocation"]
    assert emu.get(f"{manifest['rootDirectory']}/part-00000.json.gz").status_code == 403
    bad = pc.post(EXPORT, {"currencyCode": "USD", "billingPeriod": "yesterday"})
    assert bad.status_code == 400
    assert (
        emu.post(EXPORT, json={"currencyCode": "USD", "billingPeriod": "last"}).status_code == 401
    )
