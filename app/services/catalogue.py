"""The Partner Center catalogue, cached in the database: refreshed by a job, searched by pages.

`refresh` reads products, SKUs and their availabilities (with the price of each term and
billing cycle) through the client and upserts one CatalogueItem per SKU; `search` filters
the cached rows (publisher, segment, term, billing, add-ons, text). Prices are per seat per
month in the market's currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select

from app.domain.storefront import BILLING_CYCLES, TERMS, Money, PriceOption
from app.extensions import db
from app.models import CatalogueItem
from app.models._types import utcnow
from app.services import audit
from app.services.microsoft import factory
from app.services.microsoft.partner_center import PartnerCenterClient

MARKET = "US"
REFRESH_JOB = "jobs.catalogue.refresh_catalogue"
TRIAL_PRICE = {"term": "P1M", "billing": "monthly", "monthly": "0"}


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh found."""

    items: int
    added: int
    removed: int


def refresh(*, pc: PartnerCenterClient | None = None, market: str = MARKET) -> RefreshReport:
    """Read the whole catalogue of `market` from Partner Center and store it (audited)."""
    client = pc or factory.partner_center()
    try:
        found: dict[str, dict[str, Any]] = {}
        for sku in client.catalogue(market):
            availabilities = client.availability_details(sku.product_id, sku.sku, market)
            if not availabilities:
                continue
            first = availabilities[0]
            raw = sku.raw
            attrs = raw.get("dynamicAttributes") or {}
            offer_id = f"{sku.product_id}:{sku.sku}"
            found[offer_id] = {
                "catalog_item_id": first.catalog_item_id,
                "product_id": sku.product_id,
                "title": sku.title,
                "publisher": str(raw.get("publisherName") or "Microsoft Corporation"),
                "segment": first.segment or "commercial",
                "azure_sku_id": sku.azure_sku_id,
                "addon": _addon_kind(sku.title, attrs),
                "prerequisites": sorted(str(p) for p in attrs.get("prerequisiteSkus") or []),
                "limit_per_customer": raw.get("limitPerCustomer"),
                "min_quantity": int(raw.get("minimumQuantity") or 1),
                "max_quantity": int(raw.get("maximumQuantity") or 10000),
                "is_trial": sku.is_trial,
                "currency": first.currency,
                "prices": [
                    {
                        "term": p.term,
                        "billing": p.billing_cycle,
                        "monthly": str(p.unit_price),
                        "currency": p.currency,
                    }
                    for p in first.prices
                    if p.term in TERMS and p.billing_cycle in BILLING_CYCLES
                ]
                # A trial is free: one month, billed nothing (PRODUCT.md rule 4).
                or ([TRIAL_PRICE | {"currency": first.currency}] if sku.is_trial else []),
            }
    finally:
        if pc is None:
            client.close()
    existing = {
        item.offer_id: item
        for item in db.session.scalars(select(CatalogueItem).where(CatalogueItem.market == market))
    }
    now = utcnow()
    added = 0
    for offer_id, values in found.items():
        row = existing.pop(offer_id, None)
        if row is None:
            row = CatalogueItem(market=market, offer_id=offer_id)
            db.session.add(row)
            added += 1
        for key, value in values.items():
            setattr(row, key, value)
        row.refreshed_at = now
    for gone in existing.values():
        db.session.delete(gone)
    report = RefreshReport(items=len(found), added=added, removed=len(existing))
    audit.record(
        "catalogue.refreshed",
        actor="job:catalogue",
        object_type="catalogue",
        object_id=market,
        after={"items": report.items, "added": report.added, "removed": report.removed},
    )
    db.session.commit()
    return report


def _addon_kind(title: str, attrs: Mapping[str, Any]) -> str | None:
    """'copilot', 'multigeo' or 'other' for an add-on SKU; None for a base offer."""
    if not attrs.get("isAddon"):
        return None
    lowered = title.lower()
    if "copilot" in lowered:
        return "copilot"
    if "multi-geo" in lowered or "multigeo" in lowered:
        return "multigeo"
    return "other"


def request_refresh() -> str:
    """Queue a catalogue refresh (the admin console's button); returns the job id."""
    from app.queue import enqueue

    job = enqueue(REFRESH_JOB, job_timeout=600)
    return str(job.id)


def options_of(item: CatalogueItem) -> tuple[PriceOption, ...]:
    """The item's price options, in term then billing order."""
    return options_from(item.prices)


def options_from(prices: Iterable[Mapping[str, Any]]) -> tuple[PriceOption, ...]:
    """Price options from a catalogue item's stored prices, in term then billing order."""
    options = [
        PriceOption(p["term"], p["billing"], Money(Decimal(p["monthly"]), p["currency"]))
        for p in prices
    ]
    order = {term: i for i, term in enumerate(TERMS)}
    return tuple(
        sorted(options, key=lambda o: (order.get(o.term, 9), BILLING_CYCLES.index(o.billing)))
    )


class Listed(Protocol):
    """What the filters look at of a product: a catalogue item, or the storefront's copy."""

    @property
    def offer_id(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def publisher(self) -> str: ...
    @property
    def segment(self) -> str: ...
    @property
    def is_addon(self) -> bool: ...


@dataclass(frozen=True)
class CatalogueFilter:
    """Search and filters of a catalogue list (from a query string; unknown values ignored)."""

    query: str = ""
    publisher: str = ""
    segment: str = ""
    term: str = ""
    billing: str = ""
    addons: str = ""  # "" all, "only" add-ons, "none" base offers only

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CatalogueFilter:
        term = args.get("term", "")
        billing = args.get("billing", "")
        addons = args.get("addons", "")
        return cls(
            query=args.get("q", "").strip()[:100],
            publisher=args.get("publisher", "").strip()[:200],
            segment=args.get("segment", "").strip()[:32],
            term=term if term in TERMS else "",
            billing=billing if billing in BILLING_CYCLES else "",
            addons=addons if addons in ("only", "none") else "",
        )

    @property
    def active(self) -> bool:
        return any((self.query, self.publisher, self.segment, self.term, self.billing, self.addons))

    def matches(self, item: CatalogueItem) -> bool:
        return self.matches_listed(item, options_of(item))

    def matches_listed(self, item: Listed, options: Sequence[PriceOption]) -> bool:
        """Whether a product with these price options matches the filters."""
        text = self.query.lower()
        return (
            (not text or text in item.title.lower() or text in item.offer_id.lower())
            and (not self.publisher or item.publisher == self.publisher)
            and (not self.segment or item.segment == self.segment)
            and (not self.term or any(o.term == self.term for o in options))
            and (not self.billing or any(o.billing == self.billing for o in options))
            and (self.addons != "only" or item.is_addon)
            and (self.addons != "none" or not item.is_addon)
        )


def items(market: str = MARKET) -> list[CatalogueItem]:
    """Every cached item of the market, by title."""
    return list(
        db.session.scalars(
            select(CatalogueItem)
            .where(CatalogueItem.market == market)
            .order_by(CatalogueItem.title, CatalogueItem.offer_id)
        )
    )


def by_offer(offer_ids: Iterable[str], market: str = MARKET) -> dict[str, CatalogueItem]:
    """The cached items of these offers, by offer id."""
    wanted = set(offer_ids)
    if not wanted:
        return {}
    return {
        item.offer_id: item
        for item in db.session.scalars(
            select(CatalogueItem).where(
                CatalogueItem.market == market, CatalogueItem.offer_id.in_(wanted)
            )
        )
    }


def search(filters: CatalogueFilter, market: str = MARKET) -> list[CatalogueItem]:
    """The cached items that match the filters."""
    return [item for item in items(market) if filters.matches(item)]
