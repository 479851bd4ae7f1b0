"""What a customer's storefront shows and what its cart may hold (read-models and checks).

The offers are those of the customer's products-for-sale profile that the cached catalogue
has, at the customer's price. The rules (app.domain.storefront) decide with the customer's
holdings: from our database for the page, from Partner Center for the job (app.services.orders).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from app.domain import storefront as rules
from app.domain.decision import Decision
from app.domain.nce import format_day
from app.extensions import db
from app.models import CatalogueItem, Customer, Partner, SalesProfile, Subscription
from app.models._types import utcnow
from app.services import catalogue, offers, profiles
from app.services.microsoft import factory
from app.services.microsoft.partner_center import CustomTermEnd, PartnerCenterClient


@dataclass(frozen=True)
class StoreOffer:
    """One offer a customer may buy: the catalogue item and the rules' view of it (its
    options at the customer's price, its limits)."""

    item: CatalogueItem
    facts: rules.OfferFacts

    @property
    def offer_id(self) -> str:
        return self.item.offer_id


def offer_facts(customer: Customer) -> dict[str, StoreOffer] | None:
    """The offers of the customer's profile that the catalogue has, by offer id; None when
    the customer has no profile (the storefront is closed)."""
    return _offer_facts(profiles.profile_of(customer))


def _offer_facts(profile: SalesProfile | None) -> dict[str, StoreOffer] | None:
    if profile is None:
        return None
    items = catalogue.by_offer(o.offer_id for o in profile.offers)
    found: dict[str, StoreOffer] = {}
    for chosen in profile.offers:
        item = items.get(chosen.offer_id)
        if item is None:
            continue  # not (any more) in the catalogue of the customer's market: not shown
        options = rules.customer_options(
            catalogue.options_of(item),
            rules.Pricing(chosen.margin_percent, chosen.fixed_monthly),
        )
        if not options:
            continue
        least = max(item.min_quantity, chosen.min_quantity or 1)
        most = min(item.max_quantity, chosen.max_quantity or rules.MAX_SEATS)
        found[item.offer_id] = StoreOffer(
            item,
            rules.OfferFacts(
                offer_id=item.offer_id,
                title=item.title,
                options=tuple(options),
                addon=item.addon,
                prerequisites=frozenset(item.prerequisites),
                one_per_customer=item.limit_per_customer == 1,
                min_quantity=least,
                max_quantity=most,
                is_trial=item.is_trial,
            ),
        )
    return found


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


def page(customer: Customer, filters: catalogue.CatalogueFilter) -> Storefront:
    """The storefront of a customer with the catalogue filters applied (the profile and
    the catalogue read once: 3 queries when open)."""
    profile = profiles.profile_of(customer)
    found = _offer_facts(profile)
    if profile is None or found is None:
        return Storefront(False, None, [], 0, [], [], who_to_ask(customer))
    every = sorted(found.values(), key=lambda o: (o.item.title, o.offer_id))
    shown = [o for o in every if filters.matches(o.item)]
    return Storefront(
        True,
        profile.name,
        shown,
        len(every),
        sorted({o.item.publisher for o in every}),
        sorted({o.item.segment for o in every}),
        "",
        found,
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
