"""What a customer's storefront shows and what its cart may hold (read-models and checks).

The offers are those of the customer's products-for-sale profile that the cached catalogue
has, at the customer's price. The rules (app.domain.storefront) decide with the customer's
holdings: from our database for the page, from Partner Center for the job (app.services.orders).
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Text, and_, bindparam, cast, select

from app.domain import storefront as rules
from app.domain.decision import Decision
from app.domain.nce import format_day
from app.extensions import db
from app.models import (
    CatalogueItem,
    Customer,
    CustomerProfile,
    Partner,
    ProfileOffer,
    SalesProfile,
    Subscription,
)
from app.models._types import utcnow
from app.services import catalogue, offers
from app.services.microsoft import factory
from app.services.microsoft.partner_center import CustomTermEnd, PartnerCenterClient


@dataclass(frozen=True)
class StoreItem:
    """What the storefront shows of a catalogue item (plain values, kept between requests)."""

    offer_id: str
    catalog_item_id: str
    title: str
    publisher: str
    segment: str
    addon: str | None

    @property
    def is_addon(self) -> bool:
        """Bought on top of base licenses."""
        return self.addon is not None


@dataclass(frozen=True)
class StoreOffer:
    """One offer a customer may buy: the catalogue item and the rules' view of it (its
    options at the customer's price, its limits)."""

    item: StoreItem
    facts: rules.OfferFacts

    @property
    def offer_id(self) -> str:
        return self.item.offer_id


# What one statement reads of the customer's profile and its offers in the catalogue: the
# profile, and per offer of it the partner's price and limits and the catalogue item (None
# when the catalogue lacks it). The JSON columns are read as their text, so that the rows are
# plain values: together they are the key the offers' facts are kept under.
_PROFILE_COLUMNS = (
    SalesProfile.id,
    SalesProfile.name,
    ProfileOffer.offer_id,
    ProfileOffer.margin_percent,
    ProfileOffer.fixed_monthly,
    ProfileOffer.min_quantity,
    ProfileOffer.max_quantity,
    CatalogueItem.offer_id,
    CatalogueItem.catalog_item_id,
    CatalogueItem.title,
    CatalogueItem.publisher,
    CatalogueItem.segment,
    CatalogueItem.addon,
    cast(CatalogueItem.prerequisites, Text),
    CatalogueItem.limit_per_customer,
    CatalogueItem.min_quantity,
    CatalogueItem.max_quantity,
    CatalogueItem.is_trial,
    cast(CatalogueItem.prices, Text),
)
# Built once (each request binds the customer and the market).
_PROFILE_OFFERS = (
    select(*_PROFILE_COLUMNS)
    .select_from(CustomerProfile)
    .join(SalesProfile, SalesProfile.id == CustomerProfile.profile_id)
    .outerjoin(ProfileOffer, ProfileOffer.profile_id == SalesProfile.id)
    .outerjoin(
        CatalogueItem,
        and_(
            CatalogueItem.market == bindparam("market"),
            CatalogueItem.offer_id == ProfileOffer.offer_id,
        ),
    )
    .where(CustomerProfile.customer_id == bindparam("customer_id"))
    .order_by(ProfileOffer.offer_id)
)
OFFERS_KEPT = 64  # states of (profile, catalogue) whose offers a worker process keeps


@dataclass(frozen=True)
class KeptOffers:
    """A customer's profile with its offers, derived from what was read (`state`, the key it
    is kept under); `serial` names that state in this process, for what is kept beside it."""

    serial: int
    name: str
    found: Mapping[str, StoreOffer]  # by offer id, in the profile's order (read-only)
    every: tuple[StoreOffer, ...]  # by title
    publishers: tuple[str, ...]
    segments: tuple[str, ...]


class _Kept:
    """The offers of the latest profile states read, least recently used dropped first
    (shared by a worker's threads). A state is the rows read, so any change to the profile,
    its offers or their catalogue items is a new key: nothing is ever stale."""

    def __init__(self, size: int = OFFERS_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[tuple[object, ...], ...], KeptOffers] = OrderedDict()
        self._lock = threading.Lock()
        self._serials = itertools.count(1)

    def get(self, state: tuple[tuple[object, ...], ...]) -> KeptOffers:
        with self._lock:
            found = self._kept.get(state)
            if found is not None:
                self._kept.move_to_end(state)
                return found
            serial = next(self._serials)
        found = _derive(serial, state)
        with self._lock:
            self._kept[state] = found
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return found


def _kept() -> _Kept:
    kept: _Kept | None = current_app.extensions.get("seatwise.store_offers")
    if kept is None:
        kept = current_app.extensions.setdefault("seatwise.store_offers", _Kept())
    return kept


def kept_offers(customer: Customer, market: str = catalogue.MARKET) -> KeptOffers | None:
    """The customer's profile and its offers (one statement), or None when the customer has
    no profile (the storefront is closed). Derived again only when what was read changed."""
    rows = db.session.execute(_PROFILE_OFFERS, {"customer_id": customer.id, "market": market}).all()
    if not rows:
        return None
    return _kept().get(tuple(tuple(row) for row in rows))


class _Row(NamedTuple):
    """One row read (`_PROFILE_COLUMNS`)."""

    profile_id: int
    profile_name: str
    chosen: str | None  # the profile's offer (None: a profile without offers)
    margin_percent: Decimal | None
    fixed_monthly: Decimal | None
    chosen_min: int | None
    chosen_max: int | None
    listed: str | None  # the catalogue's offer id (None: not in the catalogue)
    catalog_item_id: str
    title: str
    publisher: str
    segment: str
    addon: str | None
    prerequisites: str | None  # JSON text
    limit_per_customer: int | None
    min_quantity: int
    max_quantity: int
    is_trial: bool
    prices: str | None  # JSON text


def _derive(serial: int, state: tuple[tuple[object, ...], ...]) -> KeptOffers:
    """The offers of the profile that the catalogue has, at the customer's price."""
    found: dict[str, StoreOffer] = {}
    rows = [_Row._make(row) for row in state]
    for row in rows:
        if row.chosen is None or row.listed is None:
            continue  # not (any more) in the catalogue of the customer's market: not shown
        options = rules.customer_options(
            catalogue.options_from(json.loads(row.prices or "[]")),
            rules.Pricing(row.margin_percent, row.fixed_monthly),
        )
        if not options:
            continue
        found[row.listed] = StoreOffer(
            StoreItem(
                row.listed,
                row.catalog_item_id,
                row.title,
                row.publisher,
                row.segment,
                row.addon,
            ),
            rules.OfferFacts(
                offer_id=row.listed,
                title=row.title,
                options=tuple(options),
                addon=row.addon,
                prerequisites=frozenset(json.loads(row.prerequisites or "[]")),
                one_per_customer=row.limit_per_customer == 1,
                min_quantity=max(row.min_quantity, row.chosen_min or 1),
                max_quantity=min(row.max_quantity, row.chosen_max or rules.MAX_SEATS),
                is_trial=row.is_trial,
            ),
        )
    every = tuple(sorted(found.values(), key=lambda o: (o.item.title, o.offer_id)))
    return KeptOffers(
        serial,
        rows[0].profile_name,
        MappingProxyType(found),  # shared by the requests that read this state
        every,
        tuple(sorted({o.item.publisher for o in every})),
        tuple(sorted({o.item.segment for o in every})),
    )


def offer_facts(customer: Customer) -> dict[str, StoreOffer] | None:
    """The offers of the customer's profile that the catalogue has, by offer id; None when
    the customer has no profile (the storefront is closed)."""
    kept = kept_offers(customer)
    return dict(kept.found) if kept is not None else None


def who_to_ask(customer: Customer) -> str:
    """Who opens the storefront: the customer's reseller, else the partner."""
    if customer.reseller is not None:
        return customer.reseller.brand_name or customer.reseller.name
    partner = db.session.scalar(select(Partner).limit(1))
    return (partner.brand_name or partner.name) if partner is not None else "your partner"


def copilot_base_offers(offer_ids: Iterable[str]) -> frozenset[str]:
    """Which of these offers are qualifying base licenses of Microsoft 365 Copilot."""
    return frozenset(o for o in offer_ids if offers.is_copilot_base(o))


def holdings(customer: Customer, offer_ids: Iterable[str]) -> rules.Holdings:
    """What the customer holds, from our database (the last sync and the changes since)."""
    rows = db.session.execute(
        select(Subscription.offer_id, Subscription.quantity, Subscription.status).where(
            Subscription.customer_id == customer.id
        )
    ).all()
    return rules.Holdings(
        subscriptions=tuple(rules.Held(o, q, s) for o, q, s in rows),
        copilot=offers.customer_copilot_seats(customer.id),
        copilot_base_offers=copilot_base_offers(offer_ids),
    )


def facts_of(found: Mapping[str, StoreOffer]) -> dict[str, rules.OfferFacts]:
    return {offer_id: offer.facts for offer_id, offer in found.items()}


def check(customer: Customer, lines: Sequence[rules.Line]) -> Decision:
    """May the customer buy this cart now (profile, limits, add-ons, one per customer)?"""
    found = offer_facts(customer) or {}
    return rules.check_cart(lines, facts_of(found), holdings(customer, found))


def check_added(customer: Customer, cart: Sequence[rules.Line], line: rules.Line) -> Decision:
    """May `line` join the cart (with the lines already in it)?"""
    found = offer_facts(customer) or {}
    return rules.check_line(line, facts_of(found), holdings(customer, found), cart)


@dataclass(frozen=True)
class QuotedLine:
    """A cart line with its price, totals and commitment in words."""

    line: rules.Line
    title: str
    catalog_item_id: str
    option: rules.PriceOption
    totals: rules.Totals
    option_text: str
    commitment: str


@dataclass(frozen=True)
class Quote:
    """The cart priced: each line, and the totals per month and over the terms."""

    lines: tuple[QuotedLine, ...]
    per_month: rules.Money | None
    over_terms: rules.Money | None


def quote(
    customer: Customer,
    lines: Sequence[rules.Line],
    now: datetime,
    *,
    found: Mapping[str, StoreOffer] | None = None,
) -> Quote:
    """Price the cart's lines that the customer may still see (others are left out).
    `found`: the customer's offers when the caller has them (`Storefront.found`)."""
    if not lines:
        return Quote((), None, None)
    if found is None:
        found = offer_facts(customer) or {}
    quoted = []
    for line in lines:
        offer = found.get(line.offer_id)
        option = offer.facts.option(line.term, line.billing) if offer else None
        if offer is None or option is None:
            continue
        quoted.append(
            QuotedLine(
                line,
                offer.facts.title,
                offer.item.catalog_item_id,
                option,
                rules.line_totals(option, line.quantity),
                rules.TRIAL_TEXT
                if offer.facts.is_trial
                else rules.describe_option(line.term, line.billing),
                rules.trial_text(now)
                if offer.facts.is_trial
                else rules.commitment_text(line.term, line.billing, now),
            )
        )
    currencies = {q.totals.per_month.currency for q in quoted}
    if len(currencies) != 1:
        return Quote(tuple(quoted), None, None)
    currency = currencies.pop()
    return Quote(
        tuple(quoted),
        rules.Money(sum((q.totals.per_month.amount for q in quoted), Decimal(0)), currency),
        rules.Money(sum((q.totals.per_term.amount for q in quoted), Decimal(0)), currency),
    )


@dataclass(frozen=True)
class Storefront:
    """The storefront page: open (with the offers that match the filters) or closed."""

    is_open: bool
    profile_name: str | None
    offers: list[StoreOffer]
    total: int
    publishers: list[str]
    segments: list[str]
    ask: str  # who opens a closed storefront ("" when it is open)
    found: Mapping[str, StoreOffer] = field(default_factory=dict)  # every offer, by offer id
    # The state of the profile and the catalogue the offers come from (`KeptOffers.serial`,
    # 0 when closed): with the filters, what the offers shown depend on.
    state: int = 0


def page(customer: Customer, filters: catalogue.CatalogueFilter) -> Storefront:
    """The storefront of a customer with the catalogue filters applied (the profile and
    the catalogue read in one statement, their offers derived once per state read)."""
    kept = kept_offers(customer)
    if kept is None:
        return Storefront(False, None, [], 0, [], [], who_to_ask(customer))
    every = kept.every
    shown = (
        [o for o in every if filters.matches_listed(o.item, o.facts.options)]
        if filters.active
        else list(every)
    )
    return Storefront(
        True,
        kept.name,
        shown,
        len(every),
        list(kept.publishers),
        list(kept.segments),
        "",
        kept.found,
        kept.serial,
    )


@dataclass(frozen=True)
class CotermChoice:
    """An end date a cart line may have instead of its full term, in words, with the days
    and the cost of that shorter first term when the line's price is known."""

    end: date
    text: str
    days: int | None = None
    first_term: rules.Money | None = None


def coterm_choices(
    customer: Customer,
    lines: Sequence[rules.Line],
    *,
    pc: PartnerCenterClient | None = None,
    today: date | None = None,
) -> dict[int, list[CotermChoice]]:
    """Per cart line (by its index; trials excepted), the end dates Partner Center allows
    instead of the full term (custom term end dates: a calendar month's end, or an existing
    subscription's end for co-terming). One request per term in the cart."""
    found = offer_facts(customer) or {}
    wanted = {
        i: line
        for i, line in enumerate(lines)
        if line.offer_id in found and not found[line.offer_id].facts.is_trial
    }
    if not wanted:
        return {}
    client = pc or factory.partner_center()
    try:
        by_term = {
            term: client.custom_term_end_dates(customer.pc_id, term)
            for term in sorted({line.term for line in wanted.values()})
        }
    finally:
        if pc is None:
            client.close()
    start = today or utcnow().date()
    names = _subscription_names(
        customer, {i for ends in by_term.values() for e in ends for i in e.subscription_ids}
    )
    choices = {}
    for i, line in wanted.items():
        option = found[line.offer_id].facts.option(line.term, line.billing)
        totals = rules.line_totals(option, line.quantity) if option else None
        choices[i] = [
            _choice(
                e,
                [names.get(s, "") for s in e.subscription_ids],
                rules.first_term_cost(totals, start, e.end, line.term) if totals else None,
            )
            for e in by_term[line.term]
        ]
    return {i: found_choices for i, found_choices in choices.items() if found_choices}


def _subscription_names(customer: Customer, pc_ids: set[str]) -> dict[str, str]:
    """The names the license page shows for these Partner Center subscription ids (Partner
    Center's custom term end dates name subscriptions by id only)."""
    if not pc_ids:
        return {}
    rows = db.session.execute(
        select(Subscription.pc_id, Subscription.friendly_name, Subscription.offer_name).where(
            Subscription.customer_id == customer.id, Subscription.pc_id.in_(pc_ids)
        )
    )
    return {pc_id: friendly or offer for pc_id, friendly, offer in rows}


def _choice(
    found: CustomTermEnd, names: list[str], cost: tuple[int, rules.Money] | None
) -> CotermChoice:
    day = format_day(found.end)
    if found.subscription_ids:
        # Every subscription ending that day, by the name the license page shows; one not
        # synced here yet by its id.
        shown = [name or pc_id for name, pc_id in zip(names, found.subscription_ids, strict=True)]
        listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " and " + shown[-1]
        text = f"End with {listed} on {day}"
    else:
        text = f"End with the calendar month on {day}"
    if cost is None:
        return CotermChoice(found.end, text)
    return CotermChoice(found.end, text, cost[0], cost[1])
