"""What happens at the end of a subscription's term (PRODUCT.md rule 14), as pure functions.

Since 2026 Microsoft's New Commerce has three end-of-term choices:

- *renew* (auto-renew on): a new term starts the day after the commitment end, with the
  changes scheduled for renewal;
- *cancel at end of term*: service stops at the end of the term and cannot be reactivated;
- *extended service term* (EST): service goes on month to month, billed at the monthly-term
  price + 3 % (+ 23 % where the offer has no monthly term), cancellable any time, prorated.

Auto-renew off with no explicit cancel means EST for subscriptions in its scope: bought or
renewed on or after 2025-04-01 and ending on or after 2026-05-04. Older ones keep the old
behaviour: with auto-renew off they simply end (after Microsoft's grace period).
Sources: Microsoft Learn "Extended service terms (EST)"; CloudBlue and AppXite channel
guides (2026); ../shared/NOTES.md "Checked in 2026-11".
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from app.domain.decision import Code, Decision, allow, refuse
from app.domain.nce import (
    EST_BOUGHT_FROM,
    EST_ENDING_FROM,
    Status,
    SubscriptionFacts,
    est_applies,
    format_day,
    scheduled_changes_warnings,
    status_refusal,
    update_cap_warnings,
    update_refusal,
)

EST_UPLIFT = Decimal("0.03")  # on the monthly-term price
EST_UPLIFT_NO_MONTHLY = Decimal("0.23")  # where the offer has no monthly term
MONTHLY_TERM_PREMIUM = Decimal("0.20")  # rule 15: a monthly term costs ~20 % more


class EndOfTerm(StrEnum):
    """The three end-of-term choices."""

    RENEW = "renew"
    CANCEL = "cancel"
    EST = "est"

    @property
    def label(self) -> str:
        return {
            EndOfTerm.RENEW: "Renew",
            EndOfTerm.CANCEL: "Cancel at the end of the term",
            EndOfTerm.EST: "Extended service term (month to month)",
        }[self]


def end_of_term(facts: SubscriptionFacts) -> EndOfTerm:
    """What happens at the end of the term as the subscription stands now."""
    if facts.auto_renew:
        return EndOfTerm.RENEW
    if facts.cancel_at_end or not est_applies(facts):
        return EndOfTerm.CANCEL
    return EndOfTerm.EST


def est_uplift(facts: SubscriptionFacts) -> Decimal:
    """The EST uplift: 3 % on the monthly-term price, 23 % where there is no monthly term."""
    return EST_UPLIFT if facts.has_monthly_term else EST_UPLIFT_NO_MONTHLY


def est_unit_price(facts: SubscriptionFacts) -> Decimal:
    """The monthly price of one seat in EST.

    With a monthly term: its price (or, unknown, the current price + 20 %, rule 15) + 3 %.
    Without one: the current monthly price + 23 %.
    """
    if not facts.has_monthly_term:
        base = facts.unit_price
    elif facts.monthly_term_price is not None:
        base = facts.monthly_term_price
    elif facts.term_duration == "P1M":
        base = facts.unit_price
    else:
        base = facts.unit_price * (1 + MONTHLY_TERM_PREMIUM)
    return (base * (1 + est_uplift(facts))).quantize(Decimal("0.01"))


def describe_end_of_term(facts: SubscriptionFacts) -> str:
    """One line for the page: 'Renews 29 Jul 2027 with 30 seats', 'Ends 11 Dec 2026',
    'Goes to monthly extended term on 11 Dec 2026 at +3 %'."""
    if facts.status not in (Status.ACTIVE, Status.SUSPENDED):
        return ""
    renewal = format_day(facts.renewal_on)
    choice = end_of_term(facts)
    if choice is EndOfTerm.RENEW:
        if facts.is_trial:
            return f"Converts to paid on {renewal}"
        seats = facts.scheduled_quantity or facts.quantity
        return f"Renews {renewal} with {seats} {'seat' if seats == 1 else 'seats'}"
    if choice is EndOfTerm.CANCEL:
        return f"Ends {format_day(facts.commitment_end)}"
    pct = int(est_uplift(facts) * 100)
    return f"Goes to monthly extended term on {renewal} at +{pct} %"


def consequences(facts: SubscriptionFacts, choice: EndOfTerm) -> str:
    """What a choice means for this subscription, in words: price, data, whether it can be
    undone."""
    end = format_day(facts.commitment_end)
    renewal = format_day(facts.renewal_on)
    if choice is EndOfTerm.RENEW:
        return (
            f"A new term starts on {renewal} at the price of that day; seats added then can be "
            "reduced for 7 days. Can be changed until the end of the term."
        )
    if choice is EndOfTerm.CANCEL:
        return (
            f"Service stops at the end of {end}; its data is deleted after Microsoft's retention "
            "period. It cannot be reactivated: a new subscription would have to be bought."
        )
    price = est_unit_price(facts)
    pct = int(est_uplift(facts) * 100)
    return (
        f"Service continues month to month from {renewal} at {price} a seat a month "
        f"(+{pct} %), until cancelled; cancellable any time, prorated."
    )


def check_end_of_term(facts: SubscriptionFacts, choice: EndOfTerm, now: datetime) -> Decision:
    """May the end-of-term choice be set now? Warns of what it changes.

    Renew needs an active subscription (as scheduled changes do). Choosing cancel or EST
    turns auto-renew off, which deletes the changes scheduled for renewal (rule 6).
    """
    if end_of_term(facts) is choice:
        return refuse(Code.NO_CHANGE, f"No change: the subscription already will {_verb(choice)}.")
    if facts.is_trial and choice is EndOfTerm.EST:
        return refuse(Code.TRIAL, "A trial either converts to paid or ends; it has no EST.")
    if choice is EndOfTerm.EST and not est_applies(facts):
        return refuse(
            Code.EST_NOT_IN_SCOPE,
            "The extended service term applies to subscriptions bought or renewed from "
            f"{format_day(EST_BOUGHT_FROM)} and ending from {format_day(EST_ENDING_FROM)}.",
        )
    early = update_refusal(facts, now)
    if choice is EndOfTerm.RENEW or facts.status not in (Status.ACTIVE, Status.SUSPENDED):
        early = early or status_refusal(facts)
    if early is not None:
        return early
    warnings = [] if choice is EndOfTerm.RENEW else scheduled_changes_warnings(facts)
    if choice is EndOfTerm.CANCEL and facts.assigned:
        warnings.append(
            f"{facts.assigned} people lose this license on {format_day(facts.commitment_end)}."
        )
    warnings.extend(update_cap_warnings(facts))
    return allow(consequences(facts, choice), tuple(warnings))


def _verb(choice: EndOfTerm) -> str:
    return {
        EndOfTerm.RENEW: "renew",
        EndOfTerm.CANCEL: "end with its term",
        EndOfTerm.EST: "go on month to month (extended service term)",
    }[choice]
