"""The storefront's rules: prices per term and billing frequency, the customer's price, the
totals and the commitment of an order, and whether a cart may be bought (PRODUCT.md rules 8
and 15; issue 14).

Pure: offers, holdings and the time are passed in. Prices are per seat per month, in the
currency of the Partner Center market they come from (money carries its currency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from app.domain import addons
from app.domain.decision import Code, Decision, allow, refuse
from app.domain.money import add_months, to_cents
from app.domain.nce import TERM_MONTHS, WINDOW, format_day, format_when, seats

TERMS = ("P1M", "P1Y", "P3Y")
BILLING_CYCLES = ("monthly", "annual")
# Rule 15: since 2025-04-01 an annual or three-year term billed monthly costs 5 % more than
# the same term paid upfront; a monthly term costs about 20 % more than an annual one.
# Source: Microsoft Learn, billing-frequency-changes (../shared/NOTES.md, checked 2026-11).
MONTHLY_BILLING_UPLIFT_PERCENT = 5
MONTHLY_TERM_UPLIFT_PERCENT = 20
UPLIFT_SINCE = date(2025, 4, 1)
MAX_SEATS = 100_000  # what a form may ask; each offer has its own maximum below this

TERM_NAMES = {"P1M": "monthly term", "P1Y": "annual term", "P3Y": "three-year term"}
BILLING_NAMES = {"monthly": "billed monthly", "annual": "paid upfront yearly"}


@dataclass(frozen=True)
class Money:
    """An amount in one currency (ISO 4217 code)."""

    amount: Decimal
    currency: str


@dataclass(frozen=True)
class PriceOption:
    """What one seat costs per month on one term and billing frequency."""

    term: str
    billing: str
    monthly: Money

    @property
    def key(self) -> str:
        """'P1Y/monthly': how forms name the option."""
        return f"{self.term}/{self.billing}"


def billing_uplift_percent(term: str, billing: str, on: date | None = None) -> int:
    """The uplift Microsoft adds for paying a long term month by month (0 when none)."""
    if on is not None and on < UPLIFT_SINCE:
        return 0
    return MONTHLY_BILLING_UPLIFT_PERCENT if term in ("P1Y", "P3Y") and billing == "monthly" else 0


def describe_option(term: str, billing: str) -> str:
    """'annual term, billed monthly (+5 %)': what a price is for, with its uplift named."""
    text = f"{TERM_NAMES.get(term, term)}, {BILLING_NAMES.get(billing, billing)}"
    uplift = billing_uplift_percent(term, billing)
    if uplift:
        text += f" (+{uplift} %)"
    elif term == "P1M":
        text += f" (monthly term: about {MONTHLY_TERM_UPLIFT_PERCENT} % dearer than annual)"
    return text


@dataclass(frozen=True)
class Pricing:
    """How the partner prices an offer for a customer: cost + margin %, or a fixed price per
    seat per month for the reference option (the other options keep Microsoft's ratios, so
    the +5 % of monthly billing stays)."""

    margin_percent: Decimal | None = None
    fixed_monthly: Decimal | None = None


def reference_option(options: Sequence[PriceOption]) -> PriceOption:
    """The option a fixed price is set for: annual term paid upfront, else the cheapest."""
    for option in options:
        if option.term == "P1Y" and option.billing == "annual":
            return option
    return min(options, key=lambda o: o.monthly.amount)


def customer_options(options: Sequence[PriceOption], pricing: Pricing) -> list[PriceOption]:
    """The options at the customer's price (rounded to cents)."""
    if not options:
        return []
    if pricing.fixed_monthly is not None:
        reference = reference_option(options).monthly.amount
        return [
            PriceOption(
                o.term,
                o.billing,
                Money(
                    to_cents(pricing.fixed_monthly * o.monthly.amount / reference)
                    if reference
                    else to_cents(pricing.fixed_monthly),
                    o.monthly.currency,
                ),
            )
            for o in options
        ]
    margin = pricing.margin_percent or Decimal(0)
    return [
        PriceOption(
            o.term,
            o.billing,
            Money(to_cents(o.monthly.amount * (1 + margin / 100)), o.monthly.currency),
        )
        for o in options
    ]


@dataclass(frozen=True)
class Totals:
    """What a line (or an order) costs per month and over its whole term."""

    per_month: Money
    per_term: Money
    months: int


def line_totals(option: PriceOption, quantity: int) -> Totals:
    """Seats x the price per seat per month, and x the months of the term."""
    months = TERM_MONTHS[option.term]
    per_month = to_cents(option.monthly.amount * quantity)
    return Totals(
        Money(per_month, option.monthly.currency),
        Money(per_month * months, option.monthly.currency),
        months,
    )


def first_term_cost(totals: Totals, start: date, end: date, term: str) -> tuple[int, Money]:
    """A co-termed first term that starts on `start` and ends on `end` (inclusive): its days
    and its cost, the whole term's price prorated by the day."""
    full_days = (term_end(start, term) - start).days + 1
    days = max((end - start).days + 1, 0)
    amount = to_cents(totals.per_term.amount * days / full_days)
    return days, Money(amount, totals.per_term.currency)


def term_end(start: date, term: str) -> date:
    """The last day (inclusive) of a term that starts on `start`."""
    return add_months(start, TERM_MONTHS[term]) - timedelta(days=1)


def commitment_text(term: str, billing: str, now: datetime) -> str:
    """The commitment of buying now, in plain words (rules 2, 3, 14 and 15)."""
    window_end = format_when(now + WINDOW)
    ends = format_day(term_end(now.date(), term))
    name = TERM_NAMES.get(term, term).capitalize()
    return (
        f"{name}: seats can be reduced only within 7 days of purchase (until {window_end}); "
        f"cancellable until {window_end}. The term ends on {ends} and then renews "
        f"automatically; after that you cannot return seats before the end of the term. "
        f"The price is {BILLING_NAMES.get(billing, billing)} and protected for the term."
    )


TRIAL_TEXT = "free trial: one month, nothing to pay"


def trial_text(now: datetime) -> str:
    """What starting a trial commits to (PRODUCT.md rule 4), in plain words."""
    ends = format_day(term_end(now.date(), "P1M"))
    return (
        f"Free trial of one month, until {ends}: during the trial its seats and its status "
        "cannot be changed. At the end it becomes the paid subscription (auto-renew is on): "
        "turn auto-renew off on the license page before then to let it end instead."
    )


# --- rules before checkout ----------------------------------------------------------------


@dataclass(frozen=True)
class OfferFacts:
    """What the rules need to know about an offer of the catalogue and of the profile."""

    offer_id: str  # productId:skuId
    title: str
    options: tuple[PriceOption, ...]
    addon: str | None = None  # "copilot" or "multigeo"
    prerequisites: frozenset[str] = frozenset()  # offer ids whose seats count as the base
    one_per_customer: bool = False
    min_quantity: int = 1
    max_quantity: int = MAX_SEATS
    is_trial: bool = False

    def option(self, term: str, billing: str) -> PriceOption | None:
        """The price option for this term and billing, if offered."""
        return next((o for o in self.options if o.term == term and o.billing == billing), None)


@dataclass(frozen=True)
class Held:
    """A live subscription of the customer (offer and seats)."""

    offer_id: str
    quantity: int
    status: str = "active"


@dataclass(frozen=True)
class Line:
    """One line of a cart."""

    offer_id: str
    quantity: int
    term: str
    billing: str


@dataclass(frozen=True)
class Holdings:
    """What the customer holds now. `copilot`: (Copilot seats, qualifying base seats) as
    app.services.offers counts them; `subscriptions`: the live subscriptions."""

    subscriptions: tuple[Held, ...] = ()
    copilot: tuple[int, int] = (0, 0)
    copilot_base_offers: frozenset[str] = frozenset()
    live_statuses: frozenset[str] = field(
        default_factory=lambda: frozenset({"active", "suspended", "pending"})
    )

    def held_offer_ids(self) -> set[str]:
        return {s.offer_id for s in self.subscriptions if s.status in self.live_statuses}

    def active_seats(self, offer_ids: frozenset[str]) -> int:
        return sum(
            s.quantity
            for s in self.subscriptions
            if s.status == "active" and s.offer_id in offer_ids
        )


def check_line(
    line: Line,
    offers: Mapping[str, OfferFacts],
    holdings: Holdings,
    others: Sequence[Line] = (),
) -> Decision:
    """May `line` be bought, with the `others` lines in the same cart? The reason says why not."""
    offer = offers.get(line.offer_id)
    if offer is None:
        return refuse(
            Code.UNKNOWN_OFFER,
            "This product is not offered to your company. Ask your partner to add it to your "
            "products for sale.",
        )
    if line.quantity < offer.min_quantity:
        return refuse(
            Code.BELOW_MINIMUM,
            f"{offer.title} is sold here from {seats(offer.min_quantity)}: ask for at least "
            f"{offer.min_quantity}.",
        )
    if line.quantity > offer.max_quantity:
        return refuse(
            Code.ADDON_LIMIT,
            f"{offer.title} can be bought here up to {seats(offer.max_quantity)} at a time; "
            "ask your partner for more.",
        )
    if offer.option(line.term, line.billing) is None:
        return refuse(
            Code.UNKNOWN_OFFER,
            f"{offer.title} is not sold on a {describe_option(line.term, line.billing)}.",
        )
    if offer.one_per_customer:
        decision = addons.check_one_per_customer(
            line.offer_id,
            one_per_customer={line.offer_id},
            held_offer_ids=holdings.held_offer_ids(),
            cart_offer_ids=[o.offer_id for o in others],
        )
        if not decision.allowed:
            return decision
    cart = [*others, line]
    if offer.addon == "copilot":
        copilot_held, base_held = holdings.copilot
        in_cart = sum(o.quantity for o in cart if o.offer_id in holdings.copilot_base_offers)
        wanted = copilot_held + sum(o.quantity for o in cart if o.offer_id == line.offer_id)
        decision = addons.check_copilot_seats(wanted, base_held, in_cart)
        if decision.allowed or not copilot_held:
            return decision
        more = max(addons.copilot_maximum(base_held + in_cart) - wanted + line.quantity, 0)
        return refuse(
            decision.code,
            f"{decision.reason} The company already has {seats(copilot_held)} of Microsoft 365 "
            f"Copilot: at most {more} more.",
        )
    if offer.addon == "multigeo":
        base_held = holdings.active_seats(offer.prerequisites)
        in_cart = sum(o.quantity for o in cart if o.offer_id in offer.prerequisites)
        wanted = holdings.active_seats(frozenset({line.offer_id})) + sum(
            o.quantity for o in cart if o.offer_id == line.offer_id
        )
        return addons.check_multi_geo_seats(wanted, base_held, in_cart)
    if offer.prerequisites:
        base = holdings.active_seats(offer.prerequisites) + sum(
            o.quantity for o in cart if o.offer_id in offer.prerequisites
        )
        if base == 0:
            names = ", ".join(
                offers[p].title if p in offers else p for p in sorted(offer.prerequisites)
            )
            return refuse(
                Code.ADDON_LIMIT,
                f"{offer.title} is an add-on: buy one of its base licenses first, or in the "
                f"same cart ({names}).",
            )
    return allow(f"{seats(line.quantity)} of {offer.title} can be bought.")


def check_cart(
    lines: Sequence[Line], offers: Mapping[str, OfferFacts], holdings: Holdings
) -> Decision:
    """The whole cart: every line with the others (the first refusal, or allowed)."""
    if not lines:
        return refuse(Code.NO_CHANGE, "The cart is empty.")
    for i, line in enumerate(lines):
        decision = check_line(line, offers, holdings, [*lines[:i], *lines[i + 1 :]])
        if not decision.allowed:
            return decision
    return allow(f"{len(lines)} {'line' if len(lines) == 1 else 'lines'} can be bought.")


# --- approvals ----------------------------------------------------------------------------


def approval_reason(
    per_month: Money | None,
    *,
    above: Decimal | None,
    every_order: bool,
    flagged: Sequence[str] = (),
) -> str | None:
    """Why an order must wait for the partner's approval, or None when it need not.

    `above`: orders costing more than this a month wait; `every_order`: all orders wait;
    `flagged`: titles of the order's products that always need approval.
    """
    if every_order:
        return "Every new subscription of your company needs the partner's approval."
    if flagged:
        return f"{', '.join(flagged)} needs the partner's approval."
    if above is not None and per_month is not None and per_month.amount > above:
        return (
            f"Orders above {above:,.2f} {per_month.currency} a month need the partner's approval."
        )
    return None
