"""Product names of Microsoft SKUs by their part number (Graph's `skuPartNumber`).

Graph's subscribedSkus gives a tenant's SKUs with a part number, not the product name a
person knows. These are the common ones, from Microsoft's "Product names and service plan
identifiers for licensing" list (columns "String ID" → "Product name"):
https://learn.microsoft.com/en-us/entra/identity/users/licensing-service-plan-reference
A part number not listed shows as itself (docs/unmanaged-licences.md).
"""

from __future__ import annotations

PRODUCT_NAMES: dict[str, str] = {
    "AAD_PREMIUM": "Microsoft Entra ID P1",
    "AAD_PREMIUM_P2": "Microsoft Entra ID P2",
    "DESKLESSPACK": "Office 365 F3",
    "EMS": "Enterprise Mobility + Security E3",
    "EMSPREMIUM": "Enterprise Mobility + Security E5",
    "ENTERPRISEPACK": "Office 365 E3",
    "ENTERPRISEPREMIUM": "Office 365 E5",
    "EXCHANGEENTERPRISE": "Exchange Online (Plan 2)",
    "EXCHANGESTANDARD": "Exchange Online (Plan 1)",
    "Microsoft_365_Copilot": "Microsoft 365 Copilot",
    "O365_BUSINESS": "Microsoft 365 Apps for business",
    "O365_BUSINESS_ESSENTIALS": "Microsoft 365 Business Basic",
    "O365_BUSINESS_PREMIUM": "Microsoft 365 Business Standard",
    "OFFICESUBSCRIPTION": "Microsoft 365 Apps for enterprise",
    "POWER_BI_PRO": "Power BI Pro",
    "PROJECTPROFESSIONAL": "Project Plan 3",
    "SPB": "Microsoft 365 Business Premium",
    "SPE_E3": "Microsoft 365 E3",
    "SPE_E5": "Microsoft 365 E5",
    "SPE_F1": "Microsoft 365 F3",
    "STANDARDPACK": "Office 365 E1",
    "VISIOCLIENT": "Visio Plan 2",
}


def product_name(part_number: str, sku_id: str = "") -> str:
    """The product name of a part number; the part number itself (else the SKU id) when
    the list does not name it."""
    return PRODUCT_NAMES.get(part_number) or part_number or sku_id
