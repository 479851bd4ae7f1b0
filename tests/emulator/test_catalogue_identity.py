"""The emulator's catalogue names products as Microsoft does.

Microsoft's own pages (snapshot in ``../shared/reference/partner-center-docs/``) name one
Microsoft 365 product by id: ``CFQ7TTC0LH18`` is *Microsoft 365 Business Basic*, SKU ``0001``,
provisioned as the Entra skuId ``3b555118-da6a-4418-894f-7df1e2096870``, upgradable to
``CFQ7TTC0LDPB:0001`` (get-a-product-by-id.md, get-a-sku-by-id.md,
get-a-list-of-skus-for-a-product.md). The other ids are checked in docs/partner-center.md.
"""

from __future__ import annotations

from emulator import catalogue
from tests.emulator.helpers import Api

BASIC_SKU_ID = "3b555118-da6a-4418-894f-7df1e2096870"  # get-a-sku-by-id.md, provisioningId


def test_the_documented_product_id_is_business_basic(pc: Api) -> None:
    """get-a-product-by-id.md: GET /products/CFQ7TTC0LH18 is Microsoft 365 Business Basic."""
    product = pc.get("/v1/products/CFQ7TTC0LH18?country=US").get_json()
    assert product["id"] == "CFQ7TTC0LH18"
    assert product["title"] == "Microsoft 365 Business Basic"


def test_the_documented_sku_is_business_basic_with_its_entra_sku(pc: Api) -> None:
    """get-a-sku-by-id.md: SKU 0001 of CFQ7TTC0LH18 is Business Basic, provisions the Entra
    skuId of O365_BUSINESS_ESSENTIALS and lists CFQ7TTC0LDPB:0001 as an upgrade target."""
    sku = pc.get("/v1/products/CFQ7TTC0LH18/skus/0001?country=US").get_json()
    assert sku["title"] == "Microsoft 365 Business Basic"
    assert sku["dynamicAttributes"]["azureSkuId"] == BASIC_SKU_ID
    assert "CFQ7TTC0LDPB:0001" in sku["dynamicAttributes"]["upgradeTargetOffers"]


def test_business_premium_is_not_the_business_basic_id() -> None:
    """The product id Microsoft documents as Business Basic carries no other title."""
    titles = {o.title for o in catalogue.OFFERS if o.product_id == "CFQ7TTC0LH18"}
    assert titles == {"Microsoft 365 Business Basic"}
    premium = catalogue.offer(catalogue.PREMIUM)
    assert premium is not None and premium.title == "Microsoft 365 Business Premium"
    assert premium.product_id == "CFQ7TTC0LCHC"


def test_every_product_id_has_one_product_title() -> None:
    """One product id, one product: SKUs of a product share its title (trials and
    introductory offers are SKUs of the product they belong to)."""
    by_product: dict[str, set[str]] = {}
    for item in catalogue.OFFERS:
        base = item.title.removesuffix(" Trial").removesuffix(" Introductory Pricing")
        by_product.setdefault(item.product_id, set()).add(base)
    assert all(len(titles) == 1 for titles in by_product.values()), by_product
