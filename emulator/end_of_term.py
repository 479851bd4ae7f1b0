"""End of term since 2026: renew, cancel at end of term, or an Extended Service Term (EST).

Every Partner Center wire name of the end-of-term choice lives here, and only here, because
Microsoft Learn does not document them yet (see ``docs/extended-service-term.md``):
``scheduledActions: [{scheduleType: "TermEnd", actionType}]`` with ``actionType``
``RenewToNewTerm`` | ``Cancel`` | ``RenewToExtendedServiceTerm``. The ``extendedServiceTerm``
object on a subscription in EST is an emulator extension (like the catalogue's ``unitPrice``).

The rules (Microsoft Learn, "Extended service terms (EST)"; CloudBlue and AppXite guides):
- a subscription bought or renewed on or after 2025-04-01 whose term ends on or after
  2026-05-04 is in EST scope; trials and legacy (non-NCE) subscriptions are not;
- auto-renew on = renew; auto-renew off + ``Cancel`` = the service stops at the end of the
  term and cannot be reactivated; auto-renew off without ``Cancel`` = EST when in scope, else
  the old grace period (the subscription expires);
- EST: service continues month to month, billed monthly at the monthly-term price + 3 %
  (+ 23 % where the offer has no monthly term), cancellable any time with prorated billing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from emulator import catalogue
from emulator.clock import iso, iso_day
from emulator.errors import invalid
from emulator.model import Subscription

# -- wire names (unconfirmed on Microsoft Learn: keep them here only) ------------------------
SCHEDULED_ACTIONS = "scheduledActions"
SCHEDULE_TYPE = "scheduleType"
ACTION_TYPE = "actionType"
TERM_END = "TermEnd"
RENEW_ACTION = "RenewToNewTerm"
CANCEL_ACTION = "Cancel"
EST_ACTION = "RenewToExtendedServiceTerm"
EST_FIELD = "extendedServiceTerm"  # emulator extension

# -- choices as the emulator (and the scenario format) names them ----------------------------
RENEW = "renew"
CANCEL = "cancel"
EST = "est"
EXPIRE = "expire"  # the grace period of subscriptions outside EST's scope
CHOICES = (RENEW, CANCEL, EST)
_ACTIONS = {RENEW: RENEW_ACTION, CANCEL: CANCEL_ACTION, EST: EST_ACTION}
_CHOICE_OF = {action: choice for choice, action in _ACTIONS.items()}

# -- scope and prices ------------------------------------------------------------------------
BOUGHT_FROM = date(2025, 4, 1)
ENDING_FROM = date(2026, 5, 4)
EST_TERM = "P1M"
UPLIFT = 0.03
UPLIFT_WITHOUT_MONTHLY_TERM = 0.23


def in_scope(sub: Subscription) -> bool:
    """Whether the subscription's end of term follows EST (else the old grace period)."""
    if sub.est_since is not None:
        return True
    return (
        sub.nce
        and not sub.trial
        and sub.effective_start >= BOUGHT_FROM
        and sub.commitment_end >= ENDING_FROM
    )


def choice(sub: Subscription) -> str:
    """What happens at the end of the current term: renew, cancel, est, or expire."""
    if sub.auto_renew and sub.status == "active":
        return RENEW
    if sub.term_end_action == CANCEL:
        return CANCEL
    return EST if in_scope(sub) else EXPIRE


def actions_json(sub: Subscription) -> list[dict[str, Any]]:
    """``scheduledActions`` as a GET shows them (empty once the subscription has ended)."""
    if sub.status not in ("active", "suspended"):
        return []
    action = _ACTIONS.get(choice(sub))
    if action is None:
        return []
    return [{SCHEDULE_TYPE: TERM_END, ACTION_TYPE: action}]


def requested(body: dict[str, Any]) -> str | None:
    """The end-of-term choice a PATCH body names in ``scheduledActions``, if any."""
    value = body.get(SCHEDULED_ACTIONS)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise invalid(f"{SCHEDULED_ACTIONS} must be a list of objects.")
    found: str | None = None
    for item in value:
        schedule, action = item.get(SCHEDULE_TYPE), item.get(ACTION_TYPE)
        if schedule != TERM_END or action not in _CHOICE_OF:
            raise invalid(
                f"{SCHEDULED_ACTIONS}: the emulator models only {SCHEDULE_TYPE} {TERM_END!r} "
                f"with {ACTION_TYPE} {', '.join(repr(a) for a in _CHOICE_OF)}."
            )
        if found is not None and _CHOICE_OF[action] != found:
            raise invalid(f"{SCHEDULED_ACTIONS} names two different end-of-term actions.")
        found = _CHOICE_OF[action]
    return found


@dataclass(frozen=True)
class EstPrice:
    """The EST unit price (per seat per month) and the uplift it carries."""

    base: float
    uplift: float

    @property
    def unit_price(self) -> float:
        """The base price times (1 + uplift), rounded to cents."""
        return round(self.base * (1 + self.uplift), 2)


def est_price(sub: Subscription) -> EstPrice:
    """Monthly-term price + 3 %, or + 23 % where the offer has no monthly term.

    The emulator's catalogue has one price per offer; it stands for the monthly-term price.
    """
    offer = catalogue.offer(sub.offer_id)
    has_monthly = offer is None or EST_TERM in offer.terms
    uplift = UPLIFT if has_monthly else UPLIFT_WITHOUT_MONTHLY_TERM
    return EstPrice(base=sub.unit_price, uplift=uplift)


def current_price(sub: Subscription) -> EstPrice | None:
    """The EST price a subscription in EST is billed at (None outside EST)."""
    if sub.est_since is None or sub.est_base_price is None or sub.est_uplift is None:
        return None
    return EstPrice(sub.est_base_price, sub.est_uplift)


def est_json(sub: Subscription) -> dict[str, Any] | None:
    """The emulator's ``extendedServiceTerm`` object while a subscription is in EST."""
    price = current_price(sub)
    if sub.est_since is None or price is None:
        return None
    return {
        "startDate": iso_day(sub.est_since),
        "unitPrice": price.unit_price,
        "baseUnitPrice": price.base,
        "upliftPercent": round(price.uplift * 100),
        "currencyCode": catalogue.CURRENCY,
        "billingCycle": "monthly",
        "previousTermDuration": sub.est_from_term,
    }


def prorated_refund(sub: Subscription, now: datetime) -> float:
    """What cancelling an EST month now gives back: the unused days of the month."""
    price = current_price(sub)
    if price is None:
        return 0.0
    month_days = (sub.commitment_end - sub.effective_start).days + 1
    unused = max((sub.commitment_end - now.date()).days, 0)
    return round(price.unit_price * sub.quantity * unused / month_days, 2)


def refund_data(sub: Subscription, now: datetime) -> list[dict[str, str]]:
    """Audit ``customizedData`` of an EST cancellation."""
    return [
        {"key": "ExtendedServiceTerm", "value": "true"},
        {"key": "ProratedRefund", "value": f"{prorated_refund(sub, now):.2f}"},
        {"key": "CancelledAt", "value": iso(now)},
    ]


def day_after(day: date) -> date:
    """The first day of the next term."""
    return day + timedelta(days=1)
