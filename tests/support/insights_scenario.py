"""A customer whose people show each licence insight once (service, web and browser tests)."""

from __future__ import annotations

from typing import Any

TENANT = "44444444-5555-6666-7777-888888888888"
E3, E3_SKU = "CFQ7TTC0LFLX:0001", "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3, $36
BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"  # SPB, $22
COPILOT, COPILOT_SKU = "CFQ7TTC0MM8R:0001", "639dec6b-bb19-468b-871c-c5c441c4b0cb"  # $30
OLD = "-120d"


def scenario(
    *, premium: bool = True, auto_adjust_tranche: bool = True, concealed: bool = False
) -> dict[str, Any]:
    """Ann is active; Bob and Svc are inactive (120 days; Svc never signed in); Cat holds E3
    and Business Premium; Dan has Copilot and never used it; Eve is disabled. The E3
    subscription has two seats bought three days ago (reducible now)."""
    tranches = [{"quantity": 8, "added": "-40d"}]
    if auto_adjust_tranche:
        tranches.append({"quantity": 2, "added": "-3d"})
    idle = {w: OLD for w in ("exchange", "onedrive", "sharepoint", "teams", "office", "copilot")}
    return {
        "customers": [
            {
                "id": "cust-ins",
                "name": "Insight Traders",
                "domain": "insight.example",
                "tenant_id": TENANT,
                "entra_premium": premium,
                "conceal_report_names": concealed,
                "users": [
                    {
                        "id": "u-ann",
                        "upn": "ann@insight.example",
                        "name": "Ann Active",
                        "licenses": [E3_SKU],
                    },
                    {
                        "id": "u-bob",
                        "upn": "bob@insight.example",
                        "name": "Bob Idle",
                        "licenses": [E3_SKU],
                        "last_sign_in": OLD,
                        "activity": idle,
                    },
                    {
                        "id": "u-cat",
                        "upn": "cat@insight.example",
                        "name": "Cat Double",
                        "licenses": [E3_SKU, BP_SKU],
                    },
                    {
                        "id": "u-dan",
                        "upn": "dan@insight.example",
                        "name": "Dan Copilot",
                        "licenses": [E3_SKU, COPILOT_SKU],
                        "activity": {"copilot": None},
                    },
                    {
                        "id": "u-eve",
                        "upn": "eve@insight.example",
                        "name": "Eve Gone",
                        "licenses": [E3_SKU],
                        "enabled": False,
                    },
                    {
                        "id": "u-svc",
                        "upn": "scanner@insight.example",
                        "name": "Scanner Service",
                        "licenses": [E3_SKU],
                        "last_sign_in": None,
                        "activity": {w: None for w in idle},
                    },
                ],
                "subscriptions": [
                    {
                        "id": "sub-e3",
                        "offer_id": E3,
                        "sku_id": E3_SKU,
                        "created": "-40d",
                        "term_start": "-40d",
                        "tranches": tranches,
                    },
                    {
                        "id": "sub-bp",
                        "offer_id": BP,
                        "sku_id": BP_SKU,
                        "quantity": 2,
                        "created": "-40d",
                        "term_start": "-40d",
                    },
                    {
                        "id": "sub-copilot",
                        "offer_id": COPILOT,
                        "sku_id": COPILOT_SKU,
                        "quantity": 1,
                        "created": "-40d",
                        "term_start": "-40d",
                    },
                ],
            }
        ]
    }
