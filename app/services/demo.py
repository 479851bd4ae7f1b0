"""Demo data: the partner, its reseller, two customers and the people who sign in.

The customers and subscriptions are written in the emulator's scenario format
(ARCHITECTURE.md, "Scenario format"): they are loaded into the local Partner Center
emulator and reach the database through a sync, like a real partner's data.
"""

from __future__ import annotations

from typing import Any

import httpx
from flask import current_app
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import Customer, Membership, Partner, Reseller, StaffRole
from app.models import User as UserModel
from app.services import audit, azure_usage, insights, sync
from app.services.microsoft.http import MicrosoftError

PARTNER = {"name": "Contoso Cloud Partner", "tenant_id": "00000000-0000-4000-8000-0000000000aa"}
NORTHWIND_TID = "11111111-2222-3333-4444-555555555555"
CONTOSO_TID = "22222222-3333-4444-5555-666666666666"
FABRIKAM_TID = "33333333-4444-5555-6666-777777777777"

# Offer ids and Entra SKU ids are those of Microsoft's catalogue (and of the emulator's).
BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
E3, E3_SKU = "CFQ7TTC0LFLX:0001", "05e9a617-0261-4cee-bb44-138d3ef5d965"
EXO1, EXO1_SKU = "CFQ7TTC0LH16:0001", "4b9405b0-7788-4568-add1-99614e613b69"
COPILOT, COPILOT_SKU = "CFQ7TTC0MM8R:0001", "639dec6b-bb19-468b-871c-c5c441c4b0cb"
TEAMS, TEAMS_SKU = "CFQ7TTC0RM8K:0001", "989a1621-93bc-4be0-835c-fe30171d6463"
BS, BS_SKU = "CFQ7TTC0LDPB:0001", "f245ecc8-75af-4f8e-b61f-27d8114de5f3"
BB, BB_SKU = "CFQ7TTC0LH18:0001", "3b555118-da6a-4418-894f-7df1e2096870"
VISIO, VISIO_SKU = "CFQ7TTC0HD32:0002", "c5928f49-12ba-48f7-ada3-0d743a3601d5"
MDE1, MDE1_SKU = "CFQ7TTC0J1GB:0001", "16a55f2f-ff35-4cd5-9146-fb784e3761a5"
PROJECT, PROJECT_SKU = "CFQ7TTC0HDB0:0002", "53818b1b-4a27-454b-8896-0dba576410e6"
# A legacy (pre-NCE) offer: its id is a GUID and it is not in the new-commerce catalogue.
E1_LEGACY, E1_SKU = "91FD106F-4B2C-4938-95AC-F54F74E9A239", "18181a46-0d4e-45cd-891e-60aabd171b4e"


def _sub(
    sub_id: str, offer: str, sku: str, name: str, term: str, cycle: str, created: str, **extra: Any
) -> dict[str, Any]:
    return {
        "id": sub_id,
        "offer_id": offer,
        "sku_id": sku,
        "offer_name": name,
        "term": term,
        "billing_cycle": cycle,
        "created": created,
        "term_start": created,
        **extra,
    }


def _meter(
    group: str,
    category: str,
    sub: str,
    meter: str,
    unit: str,
    daily: float,
    price: float,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "resource_group": group,
        "category": category,
        "subcategory": sub,
        "meter": meter,
        "region": "EU West",
        "unit": unit,
        "daily_quantity": daily,
        "unit_price": price,
        "from": "-75d",
        **extra,
    }


# Contoso's Azure plan (docs/azure-usage.md): two Azure subscriptions, a few meters each,
# used every day since 75 days ago, so last month and this month both have usage.
AZURE_PLAN: dict[str, Any] = {
    "subscription_id": "az-plan-contoso",
    "entitlements": [
        {
            "id": "7d3c2a10-0000-4000-8000-00000000c001",
            "name": "Contoso Production",
            "usage": [
                _meter(
                    "rg-web-prod", "Virtual Machines", "Dv5 Series", "D2s v5", "1 Hour", 48, 0.096
                ),
                _meter(
                    "rg-web-prod",
                    "Storage",
                    "Standard Page Blob",
                    "LRS Data Stored",
                    "1 GB/Month",
                    16.5,
                    0.045,
                ),
                _meter(
                    "rg-data",
                    "SQL Database",
                    "General Purpose - Compute Gen5",
                    "vCore",
                    "1 Hour",
                    48,
                    0.2522,
                ),
                _meter(
                    "rg-data",
                    "Bandwidth",
                    "Rtn Preference: MGN",
                    "Standard Data Transfer Out",
                    "1 GB",
                    12.5,
                    0.087,
                ),
            ],
        },
        {
            "id": "7d3c2a10-0000-4000-8000-00000000c002",
            "name": "Contoso Dev/Test",
            "usage": [
                _meter(
                    "rg-dev",
                    "Azure App Service",
                    "Basic Plan",
                    "B1",
                    "1 Hour",
                    24,
                    0.075,
                    **{"from": "-20d"},
                ),
            ],
        },
    ],
}

SCENARIO: dict[str, Any] = {
    "resellers": [
        {
            "id": "res-fabrikam",
            "name": "Fabrikam IT",
            "mpn_id": "1234567",
            "relationship": "authorised",
        },
    ],
    "customers": [
        {
            "id": "cust-northwind",
            "name": "Northwind Traders",
            "domain": "northwind.example",
            "tenant_id": NORTHWIND_TID,
            "reseller_id": "res-fabrikam",
            "users": [
                {
                    "id": "u-ann",
                    "upn": "ann@northwind.example",
                    "name": "Ann Lee",
                    "licenses": [BP_SKU],
                },
                {
                    "id": "u-vic",
                    "upn": "vic@northwind.example",
                    "name": "Vic Viewer",
                    "licenses": [BP_SKU],
                    # Licence insights: Vic has not signed in or used anything for 4 months.
                    "last_sign_in": "-120d",
                    "activity": dict.fromkeys(
                        ("exchange", "onedrive", "sharepoint", "teams", "office", "copilot"),
                        "-120d",
                    ),
                },
                {
                    "id": "u-max",
                    "upn": "max@northwind.example",
                    "name": "Max Multi",
                    "licenses": [E3_SKU, COPILOT_SKU],
                    "activity": {"copilot": None},  # Copilot assigned, never used
                },
                {  # E3 includes Exchange: an overlapping licence
                    "id": "u-olga",
                    "upn": "olga@northwind.example",
                    "name": "Olga Overlap",
                    "licenses": [E3_SKU, EXO1_SKU],
                },
                {  # left the company: disabled, still licensed
                    "id": "u-dora",
                    "upn": "dora@northwind.example",
                    "name": "Dora Departed",
                    "licenses": [E1_SKU],
                    "enabled": False,
                },
            ],
            "assigned": {
                BP_SKU: 7,
                E3_SKU: 6,
                EXO1_SKU: 11,
                COPILOT_SKU: 4,
                TEAMS_SKU: 4,
                E1_SKU: 14,
            },
            "subscriptions": [
                _sub(
                    "sub-nw-bp",
                    BP,
                    BP_SKU,
                    "Microsoft 365 Business Premium",
                    "P1Y",
                    "monthly",
                    "-40d",
                    tranches=[{"quantity": 10, "added": "-40d"}, {"quantity": 2, "added": "-3d"}],
                ),
                _sub(
                    "sub-nw-e3-a",
                    E3,
                    E3_SKU,
                    "Microsoft 365 E3",
                    "P1Y",
                    "annual",
                    "-200d",
                    quantity=5,
                ),
                _sub(
                    "sub-nw-e3-b",
                    E3,
                    E3_SKU,
                    "Microsoft 365 E3",
                    "P1M",
                    "monthly",
                    "-20d",
                    quantity=5,
                ),
                _sub(
                    "sub-nw-exo1",
                    EXO1,
                    EXO1_SKU,
                    "Exchange Online (Plan 1)",
                    "P1M",
                    "monthly",
                    "-2d",
                    quantity=20,
                ),
                _sub(
                    "sub-nw-copilot",
                    COPILOT,
                    COPILOT_SKU,
                    "Microsoft 365 Copilot",
                    "P1Y",
                    "annual",
                    "-90d",
                    quantity=5,
                ),
                _sub(
                    "sub-nw-teams-trial",
                    TEAMS,
                    TEAMS_SKU,
                    "Microsoft Teams Premium",
                    "P1M",
                    "monthly",
                    "-5d",
                    quantity=25,
                    trial=True,
                ),
                _sub(
                    "sub-nw-o365e1",
                    E1_LEGACY,
                    E1_SKU,
                    "Office 365 E1",
                    "P1M",
                    "monthly",
                    "-700d",
                    quantity=15,
                    nce=False,
                    term_start="-10d",
                ),
            ],
        },
        {
            "id": "cust-contoso",
            "name": "Contoso Ltd",
            "domain": "contoso.example",
            "tenant_id": CONTOSO_TID,
            "users": [
                {
                    "id": "u-ada",
                    "upn": "ada@contoso.example",
                    "name": "Ada Admin",
                    "licenses": [BS_SKU, PROJECT_SKU],
                },
            ],
            "assigned": {BS_SKU: 27, MDE1_SKU: 41, PROJECT_SKU: 3},
            "azure": [AZURE_PLAN],
            "subscriptions": [
                _sub(
                    "sub-co-bs",
                    BS,
                    BS_SKU,
                    "Microsoft 365 Business Standard",
                    "P1Y",
                    "monthly",
                    "-120d",
                    quantity=30,
                ),
                _sub(
                    "sub-co-bb",
                    BB,
                    BB_SKU,
                    "Microsoft 365 Business Basic",
                    "P1M",
                    "monthly",
                    "-15d",
                    quantity=10,
                    auto_renew=False,  # heading into the paid extended service term
                ),
                _sub(
                    "sub-co-visio",
                    VISIO,
                    VISIO_SKU,
                    "Visio Plan 2",
                    "P1Y",
                    "annual",
                    "-150d",
                    quantity=3,
                    status="suspended",
                    auto_renew=False,
                ),
                _sub(
                    "sub-co-mde1",
                    MDE1,
                    MDE1_SKU,
                    "Microsoft Defender for Endpoint P1",
                    "P1Y",
                    "annual",
                    "-60d",
                    tranches=[{"quantity": 45, "added": "-60d"}, {"quantity": 5, "added": "-1d"}],
                ),
                _sub(
                    "sub-co-project3",
                    PROJECT,
                    PROJECT_SKU,
                    "Project Plan 3",
                    "P3Y",
                    "annual",
                    "-1055d",  # renews in about 40 days: the 60-day reminder is due
                    quantity=4,
                ),
            ],
        },
    ],
}

# People of the demo: what to type at the local sign-in form, and their claims.
IDENTITIES: list[dict[str, Any]] = [
    {
        "sub": "pat@partner.example",
        "name": "Pat Partner",
        "tid": PARTNER["tenant_id"],
        "oid": "a0000000-0000-4000-8000-000000000001",
        "staff": StaffRole.PARTNER_ADMIN,
        "summary": "Partner admin on all customers",
    },
    {
        "sub": "rita@fabrikam.example",
        "name": "Rita Reseller",
        "tid": FABRIKAM_TID,
        "oid": "a0000000-0000-4000-8000-000000000002",
        "staff": StaffRole.RESELLER_ADMIN,
        "reseller": "res-fabrikam",
        "summary": "Reseller admin on the customers of Fabrikam IT",
    },
    {
        "sub": "ann@northwind.example",
        "name": "Ann Lee",
        "tid": NORTHWIND_TID,
        "oid": "a0000000-0000-4000-8000-000000000003",
        "grants": [("cust-northwind", Role.MODIFY)],
        "summary": "Modify on Northwind Traders",
    },
    {
        "sub": "vic@northwind.example",
        "name": "Vic Viewer",
        "tid": NORTHWIND_TID,
        "oid": "a0000000-0000-4000-8000-000000000004",
        "grants": [("cust-northwind", Role.VIEW)],
        "summary": "View on Northwind Traders",
    },
    {
        "sub": "ada@contoso.example",
        "name": "Ada Admin",
        "tid": CONTOSO_TID,
        "oid": "a0000000-0000-4000-8000-000000000005",
        "grants": [("cust-contoso", Role.ADMIN)],
        "summary": "Admin on Contoso Ltd",
    },
    {
        "sub": "max@northwind.example",
        "name": "Max Multi",
        "tid": NORTHWIND_TID,
        "oid": "a0000000-0000-4000-8000-000000000006",
        "xms_edov": True,
        "grants": [("cust-northwind", Role.ADMIN), ("cust-contoso", Role.ADMIN)],
        "summary": "Admin on Northwind Traders and Contoso Ltd",
    },
]


def provider_claims(identity: dict[str, Any]) -> dict[str, Any]:
    """The ID-token claims the local sign-in provider issues for a demo identity."""
    claims = {
        "tid": identity["tid"],
        "oid": identity["oid"],
        "name": identity["name"],
        "email": identity["sub"],
        "preferred_username": identity["sub"],
    }
    if identity.get("xms_edov"):
        claims["xms_edov"] = True
    return claims


class DemoError(RuntimeError):
    """The demo cannot be loaded (for instance, no local emulator to load it into)."""


def seed_demo() -> dict[str, int]:
    """Load the demo into the local Partner Center emulator, sync it, and add the people.

    Safe to run twice: the scenario is loaded only into an emulator that lacks it, the sync
    is idempotent, and people are added once.
    """
    base = current_app.config["PARTNER_CENTER_URL"].rstrip("/")
    if "microsoft.com" in base:
        raise DemoError("seed-demo loads data into the local emulator, not into Microsoft.")
    try:
        state = httpx.get(f"{base}/_emulator/state", params={"requests": "0"}, timeout=30)
        known = {c["id"] for c in state.json().get("customers", [])}
        if not {c["id"] for c in SCENARIO["customers"]} <= known:
            httpx.post(f"{base}/_emulator/scenario", json=SCENARIO, timeout=30).raise_for_status()
    except httpx.HTTPError as error:
        raise DemoError(
            f"The Partner Center emulator at {base} is not reachable: {error}"
        ) from None
    partner = db.session.scalar(select(Partner))
    if partner is None:
        db.session.add(Partner(**PARTNER))
        db.session.commit()
    report = sync.sync_all()
    if report.failed:
        raise DemoError(f"The demo sync failed: {report.failed}")
    resellers = {r.pc_id: r for r in db.session.scalars(select(Reseller))}
    customers = {c.pc_id: c for c in db.session.scalars(select(Customer))}
    people = 0
    for identity in IDENTITIES:
        people += _person(identity, resellers, customers)
    for data in SCENARIO["customers"]:
        customers[data["id"]].self_service = True
    db.session.commit()
    for data in SCENARIO["customers"]:  # the insights page shows something from the start
        insights.refresh(customers[data["id"]].id)
    customers["cust-contoso"].azure_sync = True  # its Azure plan's usage shows in the reports
    audit.record("demo.seeded", actor="seed-demo", after={"people": people})
    db.session.commit()
    try:
        azure_usage.import_usage()
    except MicrosoftError as error:
        raise DemoError(f"The demo's Azure usage could not be imported: {error}") from None
    return {
        "customers": report.customers_created,
        "subscriptions": report.subscriptions_created,
        "people": people,
    }


DEMO_PROFILE = "Demo storefront"
DEMO_OFFERS = (BB, BS, BP, E3, EXO1, COPILOT, TEAMS, VISIO)  # sold at 15 % over cost


def seed_storefront() -> int:
    """Load the catalogue and give the demo customers one products-for-sale profile, so the
    storefront of `make run` is open (safe to run twice); the number of offers in it."""
    from app.services import catalogue, profiles

    pat = db.session.scalar(select(UserModel).where(UserModel.email == "pat@partner.example"))
    if pat is None:
        raise DemoError("Seed the demo first: the partner admin pat@partner.example is missing.")
    try:
        catalogue.refresh()
    except Exception as error:  # the emulator is down or answers badly
        raise DemoError(f"The catalogue could not be loaded: {error}") from None
    profile = next((p for p in profiles.all_profiles(pat) if p.name == DEMO_PROFILE), None)
    if profile is None:
        profile = profiles.create_profile(pat, DEMO_PROFILE)
    for offer in DEMO_OFFERS:
        if offer not in {o.offer_id for o in profile.offers}:
            profiles.set_offer(pat, profile, profiles.OfferTerms(offer, "margin", "15"))
    for data in SCENARIO["customers"]:
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == data["id"]))
        if customer is not None and profiles.profile_of(customer) is None:
            profiles.assign(pat, customer, profile.id)
    return len(profile.offers)


def _person(
    identity: dict[str, Any], resellers: dict[str, Reseller], customers: dict[str, Customer]
) -> int:
    """Staff are created as users; end users get invitations bound at their first sign-in."""
    created = 0
    if identity.get("staff"):
        user = db.session.scalar(
            select(UserModel).where(
                UserModel.tid == identity["tid"], UserModel.oid == identity["oid"]
            )
        )
        if user is None:
            reseller = resellers.get(identity.get("reseller", ""))
            db.session.add(
                UserModel(
                    tid=identity["tid"],
                    oid=identity["oid"],
                    email=identity["sub"],
                    name=identity["name"],
                    staff_role=identity["staff"],
                    reseller_id=reseller.id if reseller else None,
                )
            )
            created = 1
    for customer_id, role in identity.get("grants", []):
        customer = customers[customer_id]
        exists = db.session.scalar(
            select(Membership).where(
                Membership.customer_id == customer.id, Membership.email == identity["sub"]
            )
        )
        if exists is None:
            db.session.add(Membership(customer_id=customer.id, email=identity["sub"], role=role))
            created = 1
    return created
