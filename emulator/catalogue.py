"""A realistic Microsoft 365 new-commerce catalogue: products, SKUs, availabilities, prices."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from emulator.clock import term_months

COUNTRY = "US"
CURRENCY = "USD"
TRIAL_SEATS = 25


@dataclass(frozen=True)
class Offer:
    """One SKU of a product, with the rules the emulator enforces for it."""

    product_id: str
    sku: str
    title: str
    sku_id: str  # the Graph / Entra skuId
    part_number: str
    unit_price: float  # per seat per month, USD
    terms: tuple[str, ...] = ("P1M", "P1Y", "P3Y")
    addon: str | None = None  # "copilot" or "multigeo"
    prerequisites: tuple[str, ...] = ()  # offer keys whose seats count as the base
    upgrades: tuple[str, ...] = ()  # offer keys this offer may transition to
    trial_of: str | None = None  # the paid offer key a trial converts to
    per_customer: int | None = None  # subscriptions allowed per customer
    max_quantity: int = 10000

    @property
    def key(self) -> str:
        """``productId:skuId`` — the offerId of a subscription."""
        return f"{self.product_id}:{self.sku}"

    @property
    def availability_id(self) -> str:
        """A stable availability id derived from the offer."""
        return availability_for(self.key)

    @property
    def catalog_item_id(self) -> str:
        """``product:sku:availability``, as carts name it."""
        return f"{self.key}:{self.availability_id}"

    @property
    def is_trial(self) -> bool:
        """Whether this offer is a trial."""
        return self.trial_of is not None


def availability_for(key: str) -> str:
    """The stable availability id the emulator gives ``productId:skuId``."""
    digest = hashlib.sha1(key.encode(), usedforsecurity=False).digest()
    return base64.b32encode(digest).decode()[:12]


def catalog_item_id(offer_key: str) -> str:
    """The ``product:sku:availability`` id of a subscription's offer: Partner Center's
    ``offerId`` for new commerce (get-a-subscription-by-id.md). Offers outside the catalogue
    get the same derived availability; an id without ``product:sku`` form is kept as it is."""
    item = offer(offer_key)
    if item is not None:
        return item.catalog_item_id
    parts = offer_key.split(":")
    if len(parts) == 2 and all(parts):
        return f"{offer_key}:{availability_for(offer_key)}"
    return offer_key


# Product ids checked against Microsoft's documentation and public price lists; the sources
# and what could not be verified are in docs/partner-center.md ("Catalogue identity").
# [MS] = a Microsoft page names the product id; [3P] = third-party CSP price lists or
# catalogues agree on it (not Microsoft); UNVERIFIED = no source found for this id.
BASIC = "CFQ7TTC0LH18:0001"  # [MS] get-a-product-by-id.md, get-a-sku-by-id.md (id and SKU)
STANDARD = "CFQ7TTC0LDPB:0001"  # [3P]; [MS] Basic's upgradeTargetOffers list LDPB:0001
PREMIUM = "CFQ7TTC0LCHC:0002"  # [3P] product and SKU
E3 = "CFQ7TTC0LFLX:0001"  # [3P] product and SKU
E5 = "CFQ7TTC0LFLZ:0001"  # [3P] product; SKU UNVERIFIED (a price list shows 0002)
F3 = "CFQ7TTC0LH05:0001"  # [MS] product (AllowSelfServicePurchase page); [3P] SKU
EMS_E3 = "CFQ7TTC0LHT4:0001"  # [3P] product and SKU
EMS_E5 = "CFQ7TTC0LFJ1:0001"  # [3P] product and SKU
DEFENDER_P1 = "CFQ7TTC0J1GB:0001"  # [3P] product (one list only); SKU UNVERIFIED
DEFENDER_P2 = "CFQ7TTC0LGV0:0001"  # [3P] product and SKU
WINDOWS_E3 = "CFQ7TTC0LGTX:0004"  # [3P] product and SKU
TEAMS_PREMIUM = "CFQ7TTC0RM8K:0001"  # [MS] product; SKU UNVERIFIED (a price list shows 0002)
TEAMS_PREMIUM_INTRO = "CFQ7TTC0RM8K:0002"  # [MS] product; SKU UNVERIFIED
VISIO = "CFQ7TTC0HD32:0002"  # [MS] product (Visio Plan 2); [3P] SKU
PROJECT = "CFQ7TTC0HDB0:0002"  # [MS] product (Project Plan 3); [3P] SKU
EXCHANGE_P1 = "CFQ7TTC0LH16:0001"  # [3P] product and SKU
EXCHANGE_P2 = "CFQ7TTC0LH1P:0001"  # [3P] product and SKU
COPILOT = "CFQ7TTC0MM8R:0001"  # [MS] product; SKU UNVERIFIED (a price list shows 0002)
MULTI_GEO = "CFQ7TTC0LH3J:0001"  # UNVERIFIED product and SKU (no source found)
ENTRA_P1 = "CFQ7TTC0LFLS:0002"  # [3P] product and SKU; the SKU appears in create-a-cart.md
PREMIUM_TRIAL = "CFQ7TTC0LCHC:0001"  # product as Premium; trial SKU UNVERIFIED

_COPILOT_BASE = (BASIC, STANDARD, PREMIUM, E3, E5, F3)
_MULTI_GEO_BASE = (BASIC, STANDARD, PREMIUM, E3, E5, F3, EXCHANGE_P1, EXCHANGE_P2)

# Upward moves that Microsoft does not support (refused like a downgrade).
UNSUPPORTED_PATHS = {(EMS_E3, EMS_E5), (WINDOWS_E3, E5), (DEFENDER_P1, DEFENDER_P2)}


def _offer(key: str, title: str, sku_id: str, part: str, price: float, **rules: Any) -> Offer:
    product_id, sku = key.split(":")
    return Offer(product_id, sku, title, sku_id, part, price, **rules)


OFFERS: tuple[Offer, ...] = (
    _offer(
        BASIC,
        "Microsoft 365 Business Basic",
        "3b555118-da6a-4418-894f-7df1e2096870",
        "O365_BUSINESS_ESSENTIALS",
        6.0,
        upgrades=(STANDARD, PREMIUM, E3, E5),
        max_quantity=300,
    ),
    _offer(
        STANDARD,
        "Microsoft 365 Business Standard",
        "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
        "O365_BUSINESS_PREMIUM",
        12.5,
        upgrades=(PREMIUM, E3, E5),
        max_quantity=300,
    ),
    _offer(
        PREMIUM,
        "Microsoft 365 Business Premium",
        "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
        "SPB",
        22.0,
        upgrades=(E3, E5),
        max_quantity=300,
    ),
    _offer(
        PREMIUM_TRIAL,
        "Microsoft 365 Business Premium Trial",
        "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46",
        "SPB",
        0.0,
        terms=("P1M",),
        trial_of=PREMIUM,
        per_customer=1,
        max_quantity=TRIAL_SEATS,
    ),
    _offer(
        E3,
        "Microsoft 365 E3",
        "05e9a617-0261-4cee-bb44-138d3ef5d965",
        "SPE_E3",
        36.0,
        upgrades=(E5,),
    ),
    _offer(E5, "Microsoft 365 E5", "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", 57.0),
    _offer(
        F3,
        "Microsoft 365 F3",
        "66b55226-6b4f-492c-910c-a3b7a3c9d993",
        "SPE_F1",
        8.0,
        upgrades=(E3, E5),
    ),
    _offer(
        EMS_E3,
        "Enterprise Mobility + Security E3",
        "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        "EMS",
        10.6,
        upgrades=(E3,),
    ),
    _offer(
        EMS_E5,
        "Enterprise Mobility + Security E5",
        "b05e124f-c7cc-45a0-a6aa-8cf78c946968",
        "EMSPREMIUM",
        16.4,
    ),
    _offer(
        DEFENDER_P1,
        "Microsoft Defender for Endpoint P1",
        "16a55f2f-ff35-4cd5-9146-fb784e3761a5",
        "DEFENDER_ENDPOINT_P1",
        3.0,
    ),
    _offer(
        DEFENDER_P2,
        "Microsoft Defender for Endpoint P2",
        "111046dd-295b-4d6d-9724-d52ac90bd1f2",
        "WIN_DEF_ATP",
        5.2,
    ),
    _offer(
        WINDOWS_E3,
        "Windows 10/11 Enterprise E3",
        "6a0f6da5-0b87-4190-a6ae-9bb5a2b9546a",
        "WIN10_VDA_E3",
        7.0,
        upgrades=(E3,),
    ),
    _offer(
        TEAMS_PREMIUM,
        "Microsoft Teams Premium",
        "989a1621-93bc-4be0-835c-fe30171d6463",
        "Microsoft_Teams_Premium",
        10.0,
    ),
    _offer(
        TEAMS_PREMIUM_INTRO,
        "Microsoft Teams Premium Introductory Pricing",
        "36a0f3b3-adb5-49ea-bf66-762134cf063a",
        "Microsoft_Teams_Premium_Intro",
        7.0,
        terms=("P1Y",),
        upgrades=(TEAMS_PREMIUM,),
        per_customer=1,
    ),
    _offer(
        VISIO,
        "Visio Plan 2",
        "c5928f49-12ba-48f7-ada3-0d743a3601d5",
        "VISIOCLIENT",
        15.0,
    ),
    _offer(
        PROJECT,
        "Project Plan 3",
        "53818b1b-4a27-454b-8896-0dba576410e6",
        "PROJECTPROFESSIONAL",
        30.0,
    ),
    _offer(
        EXCHANGE_P1,
        "Exchange Online (Plan 1)",
        "4b9405b0-7788-4568-add1-99614e613b69",
        "EXCHANGESTANDARD",
        4.0,
        upgrades=(EXCHANGE_P2,),
    ),
    _offer(
        EXCHANGE_P2,
        "Exchange Online (Plan 2)",
        "19ec0d23-8335-4cbd-94ac-6050e30712fa",
        "EXCHANGEENTERPRISE",
        8.0,
    ),
    _offer(
        COPILOT,
        "Microsoft 365 Copilot",
        "639dec6b-bb19-468b-871c-c5c441c4b0cb",
        "Microsoft_365_Copilot",
        30.0,
        terms=("P1M", "P1Y", "P3Y"),
        addon="copilot",
        prerequisites=_COPILOT_BASE,
    ),
    _offer(
        MULTI_GEO,
        "Multi-Geo Capabilities in Office 365",
        "84951599-62b7-46f3-9c9d-30551b2ad607",
        "OFFICE365_MULTIGEO",
        2.0,
        addon="multigeo",
        prerequisites=_MULTI_GEO_BASE,
    ),
    _offer(
        ENTRA_P1,
        "Microsoft Entra ID P1",
        "078d2b04-f1bd-4111-bbd4-b4b1b354cef4",
        "AAD_PREMIUM",
        6.0,
    ),
)

_BY_KEY = {offer.key: offer for offer in OFFERS}
_BY_ITEM = {offer.catalog_item_id: offer for offer in OFFERS}
_BY_SKU_ID: dict[str, Offer] = {}
for _o in OFFERS:
    _BY_SKU_ID.setdefault(_o.sku_id, _o)
_PRODUCTS: dict[str, list[Offer]] = {}
for _o in OFFERS:
    _PRODUCTS.setdefault(_o.product_id, []).append(_o)


def offer(key: str) -> Offer | None:
    """The offer for ``productId:skuId`` (or a longer catalog item id), if catalogued."""
    parts = key.split(":")
    return _BY_KEY.get(":".join(parts[:2])) if len(parts) >= 2 else None


def offer_for_item(catalog_item_id: str) -> Offer | None:
    """The offer for an exact ``product:sku:availability`` id."""
    return _BY_ITEM.get(catalog_item_id)


def offer_for_sku_id(sku_id: str) -> Offer | None:
    """The (paid) offer behind a Graph skuId."""
    return _BY_SKU_ID.get(sku_id)


def product_offers(product_id: str) -> list[Offer]:
    """The SKUs of one product (empty when unknown)."""
    return _PRODUCTS.get(product_id, [])


CURRENCY_SYMBOL = "$"
# Rule 15 (PRODUCT.md): since 2025-04-01 an annual or three-year term billed monthly costs 5 %
# more than the same term paid upfront; a monthly term costs about 20 % more than an annual
# one. An offer's `unit_price` is its annual-term price paid upfront, per seat per month.
MONTHLY_BILLING_UPLIFT = 0.05
MONTHLY_TERM_UPLIFT = 0.20


def seat_price(item: Offer, term: str, cycle: str) -> float:
    """What one seat costs per month on `term` billed `cycle` (USD, rounded to cents)."""
    price = item.unit_price
    if term == "P1M":
        price *= 1 + MONTHLY_TERM_UPLIFT
    elif cycle == "monthly":
        price *= 1 + MONTHLY_BILLING_UPLIFT
    return round(price + 1e-9, 2)


def pricing(item: Offer, quantity: int, term: str, cycle: str = "annual") -> dict[str, float]:
    """A line item's ``pricing`` (cart-resources.md, Pricing; create-a-cart.md's new commerce
    example: ``extendedPrice`` is the seat price * quantity * the months of the term). The
    seat price is the one of the term and billing cycle (`seat_price`); no discounts or
    proration, so the first four prices are that price."""
    price = seat_price(item, term, cycle)
    return {
        "listPrice": price,
        "discountedPrice": price,
        "proratedPrice": price,
        "price": price,
        "extendedPrice": round(price * quantity * term_months(term), 2),
    }


def term_id(item: Offer, term: str) -> str:
    """A stable id of one term of an availability (the docs' terms carry ids such as
    ``5aeco6mffyxo``; renewal instructions name them)."""
    digest = hashlib.sha1(f"{item.key}:{term}".encode(), usedforsecurity=False).digest()
    return base64.b32encode(digest).decode()[:12].lower()


def billing_cycles(term: str) -> list[str]:
    """Billing cycles a term can be bought with."""
    return ["monthly"] if term == "P1M" else ["monthly", "annual"]


def _link(uri: str) -> dict[str, Any]:
    """A link as Partner Center writes one (uri, method, headers)."""
    return {"uri": uri, "method": "GET", "headers": []}


def term_prices(item: Offer, term: str) -> list[dict[str, Any]]:
    """The prices of one term of an availability, one per billing cycle (an emulator
    extension: Partner Center publishes them in its new-commerce license-based price sheet,
    whose rows carry TermDuration, BillingPlan, UnitPrice and Currency; docs/storefront.md).
    ``unitPrice`` is per seat per month."""
    return [
        {
            "billingCycle": cycle,
            "unitPrice": seat_price(item, term, cycle),
            "currencyCode": CURRENCY,
            "unitOfMeasure": "1 seat per month",
        }
        for cycle in ([] if item.is_trial else billing_cycles(term))
    ]


def product_json(product_id: str) -> dict[str, Any]:
    """A catalogue product (get-a-product-by-id.md, new commerce example: `productType`
    `OnlineServicesNCE`, links `skus` and `self`)."""
    first = _PRODUCTS[product_id][0]
    title = first.title.removesuffix(" Trial").removesuffix(" Introductory Pricing")
    return {
        "id": product_id,
        "title": title,
        "description": f"{title} (new commerce).",
        "productType": {"id": "OnlineServicesNCE", "displayName": "OnlineServicesNCE"},
        "isMicrosoftProduct": True,
        "publisherName": "Microsoft Corporation",
        "links": {
            "skus": _link(f"/products/{product_id}/skus?country={COUNTRY}"),
            "self": _link(f"/products/{product_id}?country={COUNTRY}"),
        },
        "attributes": {"objectType": "Product"},
    }


def sku_json(item: Offer) -> dict[str, Any]:
    """A catalogue SKU (get-a-sku-by-id.md, new commerce example: `dynamicAttributes` with
    `provisioningId` = the Entra skuId, `isSoftwareAssuranceApplicable`, `internal`; links
    `availabilities` and `self`). ``unitPrice``, ``currencyCode``, ``limitPerCustomer`` and
    the dynamic attributes ``skuPartNumber``, ``azureSkuId``, ``trialConvertsTo`` are
    emulator extensions."""
    return {
        "id": item.sku,
        "productId": item.product_id,
        "title": item.title,
        "description": item.title,
        "minimumQuantity": TRIAL_SEATS if item.is_trial else 1,
        "maximumQuantity": item.max_quantity,
        "isTrial": item.is_trial,
        "supportedBillingCycles": ["monthly"] if item.is_trial else ["annual", "monthly"],
        "purchasePrerequisites": ["MicrosoftCloudAgreement"],
        "inventoryVariables": [],
        "provisioningVariables": [],
        "actions": [] if item.is_trial else ["Refund"],
        "dynamicAttributes": {
            "isAddon": item.addon is not None,
            "prerequisiteSkus": list(item.prerequisites),
            "upgradeTargetOffers": list(item.upgrades),
            "hasConstraints": item.per_customer is not None or item.addon is not None,
            "isMicrosoftProduct": True,
            "isSoftwareAssuranceApplicable": False,
            "provisioningId": item.sku_id,
            "internal": False,
            "skuPartNumber": item.part_number,
            "azureSkuId": item.sku_id,
            "trialConvertsTo": item.trial_of,
        },
        "unitPrice": item.unit_price,
        "currencyCode": CURRENCY,
        "limitPerCustomer": item.per_customer,
        "links": {
            "availabilities": _link(
                f"/products/{item.product_id}/skus/{item.sku}/availabilities?country={COUNTRY}"
            ),
            "self": _link(f"/products/{item.product_id}/skus/{item.sku}?country={COUNTRY}"),
        },
        "attributes": {"objectType": "Sku"},
    }


def availability_json(item: Offer) -> dict[str, Any]:
    """A catalogue availability (what a cart line item buys)."""
    return {
        "id": item.availability_id,
        "productId": item.product_id,
        "skuId": item.sku,
        "catalogItemId": item.catalog_item_id,
        "defaultCurrency": {"code": CURRENCY, "symbol": "$"},
        "segment": "commercial",
        "country": COUNTRY,
        "isPurchasable": True,
        "isRenewable": not item.is_trial,
        # get-an-availability-by-id.md: which SKU each term renews to (the same one; a trial
        # converts to its paid offer instead, which the emulator does itself).
        "renewalInstructions": (
            []
            if item.is_trial
            else [
                {
                    "applicableTermIds": [term_id(item, term) for term in item.terms],
                    "renewalOptions": [{"renewToId": item.key, "isAutoRenewable": True}],
                }
            ]
        ),
        "terms": [
            {
                "duration": term,
                "id": term_id(item, term),
                "description": f"{term} commitment",
                "billingCycles": billing_cycles(term),
                "prices": term_prices(item, term),
                "cancellationPolicies": [] if item.is_trial else [{"refundOptions": []}],
            }
            for term in item.terms
        ],
        "product": {"id": item.product_id, "title": item.title},
        "sku": {"id": item.sku, "title": item.title},
        "unitPrice": item.unit_price,
        "links": {
            "self": _link(
                f"/products/{item.product_id}/skus/{item.sku}/availabilities/"
                f"{item.availability_id}?country={COUNTRY}"
            )
        },
        "attributes": {"objectType": "Availability"},
    }
