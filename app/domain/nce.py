"""Microsoft New Commerce (NCE) rules for one subscription, as pure functions.

Every rule of PRODUCT.md "The rules" lives here once; pages call these to decide what to
offer and services call them to refuse what a request asks. Times are timezone-aware UTC
and always passed in. Sources (Microsoft Learn, Partner Center docs): "Manage customer
subscriptions" (New Commerce license-based), change-the-quantity-of-a-subscription,
update-a-subscription-by-id, create-scheduled-changes, transition-a-new-commerce-subscription
and subscription-resources (see ../shared/NOTES.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from app.domain import money
from app.domain.decision import Code, Decision, RuleViolation, Verdict, allow, refuse

__all__ = [
    "Code",
    "Decision",
    "QuantityLimits",
    "Reducible",
    "RuleViolation",
    "Status",
    "SubscriptionFacts",
    "Tranche",
    "Verdict",
    "cancellation_deadline",
    "cancellation_refund",
    "check_auto_renew",
    "check_cancel",
    "check_quantity_change",
    "check_remove_scheduled_changes",
    "check_resume",
    "check_schedule_renewal_change",
    "check_suspend",
    "check_trial_conversion",
    "describe_reducible",
    "est_applies",
    "format_day",
    "format_when",
    "has_term_ended",
    "is_renewal_pending",
    "next_change",
    "open_tranches",
    "quantity_limits",
    "reducible_now",
    "reducible_total",
    "renewal_date",
    "schedule_refusal",
    "scheduled_changes_warnings",
    "seats",
    "status_refusal",
    "term_end",
    "update_cap_warnings",
    "update_refusal",
]

# Seats added (purchase, renewal or mid-term) can be reduced for 7 days (168 hours), and an
# NCE subscription can be cancelled for 7 days after the start of its term.
# Source: "Manage customer subscriptions" (NCE: reduce/cancel within 7 days),
# change-the-quantity-of-a-subscription (refundableQuantity.details[].allowedUntilDateTime).
WINDOW = timedelta(days=7)
# Renewal starts at 00:00 UTC the day after commitmentEndDate and may take up to 24 hours;
# meanwhile updates answer 409 Conflict: retry after about two minutes.
# Source: update-a-subscription-by-id, error-codes (409).
RENEWAL_PROCESSING = timedelta(hours=24)
RENEWAL_RETRY_AFTER = timedelta(minutes=2)
# A subscription fails after about 1,200 updates; warn well before.
# Source: "Manage customer subscriptions" (update limit of a subscription).
UPDATE_CAP = 1200
UPDATE_WARNING_FROM = 1000
# New Commerce trials: 25 seats, one month; conversion needs at least 25 seats.
# Source: transition-a-new-commerce-subscription (trial conversion).
TRIAL_MIN_SEATS = 25

# Extended Service Term (rule 14): auto-renew off without "cancel at end of term" continues
# month to month, for terms bought or renewed from 2025-04-01 and ending from 2026-05-04.
# Source: Microsoft Learn "Extended service terms (EST)"; app.domain.end_of_term.
EST_BOUGHT_FROM = date(2025, 4, 1)
EST_ENDING_FROM = date(2026, 5, 4)

TERM_MONTHS = {"P1M": 1, "P1Y": 12, "P3Y": 36}
BILLING_MONTHS = {"monthly": 1, "annual": 12, "triennial": 36}
BILLING_CYCLES = frozenset({"monthly", "annual", "triennial", "none", "one_time"})
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Status(StrEnum):
    """Partner Center's subscription status."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETED = "deleted"
    EXPIRED = "expired"
    PENDING = "pending"
    DISABLED = "disabled"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Tranche:
    """Seats added at one moment (purchase, renewal or mid-term); reducible for 7 days."""

    quantity: int
    added_at: datetime

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError("a tranche holds at least one seat")
        _require_aware(self.added_at, "added_at")

    @property
    def allowed_until(self) -> datetime:
        """The last moment (exclusive) at which these seats can still be reduced."""
        return self.added_at + WINDOW

    @classmethod
    def from_allowed_until(cls, quantity: int, allowed_until: datetime) -> Tranche:
        """A tranche from Partner Center's refundableQuantity detail."""
        return cls(quantity, allowed_until - WINDOW)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubscriptionFacts:
    """The plain facts of one subscription that the rules need.

    `term_start`: effective start of the current term. `commitment_end`: inclusive; the
    term ends at the end of that day (UTC). `tranches`: the seats added whose 7-day window
    may still be open (older, closed tranches may be left out; their sum never exceeds
    `quantity`). `assigned`: the seats of this subscription that people use — for a product
    held in several subscriptions, its assigned count minus the seats of the others (never
    below 0); the planner ignores it and takes counts per offer. `scheduled_quantity`: the
    quantity of the changes scheduled for renewal (scheduledNextTermInstructions.quantity);
    `scheduled_other_changes`: those instructions also change product, term or billing.
    `unit_price`: monthly price of one seat. `cancel_at_end`, `has_monthly_term`,
    `monthly_term_price`: what happens at the end of the term (app.domain.end_of_term).
    """

    id: str
    offer_id: str
    quantity: int
    term_start: datetime
    commitment_end: date
    created_at: datetime
    assigned: int = 0
    status: Status = Status.ACTIVE
    is_nce: bool = True
    is_trial: bool = False
    auto_renew: bool = True
    tranches: tuple[Tranche, ...] = ()
    has_scheduled_changes: bool = False
    scheduled_quantity: int | None = None
    scheduled_other_changes: bool = False
    update_count: int = 0
    unit_price: Decimal = field(default=Decimal(0))
    term_duration: str = "P1Y"
    billing_cycle: str = "monthly"
    cancel_at_end: bool = False  # auto-renew off with "cancel at end of term" (not EST)
    cancellation_allowed_until: datetime | None = None  # Partner Center's own date, if known
    product: str = ""  # the Entra SKU the subscription grants (the planner's grouping key)
    has_monthly_term: bool = True  # the offer is sold on a monthly term (EST pricing)
    monthly_term_price: Decimal | None = None  # that term's monthly seat price, when known

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "tranches", tuple(self.tranches))
        if self.quantity < 0 or self.assigned < 0 or self.update_count < 0:
            raise ValueError("quantity, assigned and update_count cannot be negative")
        if sum(t.quantity for t in self.tranches) > self.quantity:
            raise ValueError("tranches hold more seats than the subscription")
        _require_aware(self.term_start, "term_start")
        _require_aware(self.created_at, "created_at")
        if self.scheduled_quantity is not None and self.scheduled_quantity < 1:
            raise ValueError("a scheduled quantity is at least 1")
        if (
            self.scheduled_quantity is not None or self.scheduled_other_changes
        ) and not self.has_scheduled_changes:
            raise ValueError("scheduled details given but has_scheduled_changes is false")
        if self.term_duration not in TERM_MONTHS:
            raise ValueError(f"unknown term duration {self.term_duration!r}")
        if self.billing_cycle not in BILLING_CYCLES:
            raise ValueError(f"unknown billing cycle {self.billing_cycle!r}")

    @property
    def renewal_on(self) -> date:
        """The day the next term starts (the day after the commitment end date)."""
        return self.commitment_end + timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Reducible:
    """Seats that can be reduced now, as Partner Center's refundableQuantity.

    `details`: (quantity, allowed_until) per open tranche, earliest deadline first.
    """

    total: int
    details: tuple[tuple[int, datetime], ...]

    @property
    def next_deadline(self) -> datetime | None:
        """The earliest deadline of the open tranches."""
        return self.details[0][1] if self.details else None

    def deadline_for(self, seats_to_reduce: int) -> datetime | None:
        """Until when a reduction of `seats_to_reduce` seats stays possible (None: not now)."""
        if seats_to_reduce <= 0 or seats_to_reduce > self.total:
            return None
        covered = 0
        for quantity, until in reversed(self.details):
            covered += quantity
            if covered >= seats_to_reduce:
                return until
        return None  # pragma: no cover - total is the sum of the details


@dataclass(frozen=True, slots=True)
class QuantityLimits:
    """What the quantity control of a page may offer now.

    `lowest_now`: the lowest quantity a decrease may reach now (== quantity: none);
    `lowest_at_renewal`: the lowest quantity that can be scheduled for renewal (None: no
    scheduling); `floor`: never below this (1 seat, and not below assigned seats).
    """

    can_increase: bool
    lowest_now: int
    lowest_at_renewal: int | None
    floor: int
    reducible: Reducible
    renewal_on: date


# --- formatting -------------------------------------------------------------------------


def format_when(moment: datetime) -> str:
    """'24 Nov 2026 14:00 UTC'."""
    m = moment.astimezone(UTC)
    return f"{m.day} {_MONTHS[m.month - 1]} {m.year} {m.hour:02d}:{m.minute:02d} UTC"


def format_day(day: date) -> str:
    """'1 Jan 2027'."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def seats(count: int) -> str:
    """'1 seat', '3 seats'."""
    return f"{count} seat" if count == 1 else f"{count} seats"


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")


# --- dates of the term ------------------------------------------------------------------


def est_applies(facts: SubscriptionFacts) -> bool:
    """Does the Extended Service Term rule apply to this subscription's current term?"""
    return (
        facts.is_nce
        and not facts.is_trial
        and facts.term_start.astimezone(UTC).date() >= EST_BOUGHT_FROM
        and facts.commitment_end >= EST_ENDING_FROM
    )


def _after_auto_renew_off(facts: SubscriptionFacts) -> str:
    """What turning auto-renew off leads to at the end of the term, in words."""
    end = format_day(facts.commitment_end)
    if facts.cancel_at_end or not est_applies(facts):
        return f"the subscription ends on {end}"
    return (
        f"unless it is set to cancel at the end of the term, the subscription goes on month to "
        f"month after {end} in the paid extended service term"
    )


def renewal_date(facts: SubscriptionFacts) -> date:
    """The day after the (inclusive) commitment end date."""
    return facts.renewal_on


def term_end(facts: SubscriptionFacts) -> datetime:
    """The first instant after the current term: 00:00 UTC of the renewal day."""
    return datetime.combine(facts.renewal_on, time(0), UTC)


def next_change(facts: SubscriptionFacts, now: datetime) -> datetime | None:
    """The next instant after `now` at which a rule may answer differently for these same
    facts (a tranche's window closes, the cancellation window closes, the term ends, the
    renewal's processing ends); None when no such instant lies ahead.

    What is shown from the rules at `now` stays true until then (unless the facts change).
    """
    end = term_end(facts)
    moments = [t.allowed_until for t in facts.tranches]
    moments += [end, end + RENEWAL_PROCESSING]
    if facts.is_nce:
        moments.append(cancellation_deadline(facts))
    ahead = [moment for moment in moments if moment > now]
    return min(ahead) if ahead else None


def has_term_ended(facts: SubscriptionFacts, now: datetime) -> bool:
    """True once the current term (as these facts know it) is over."""
    return now >= term_end(facts)


def is_renewal_pending(facts: SubscriptionFacts, now: datetime) -> bool:
    """True while Microsoft renews: from 00:00 UTC of the renewal day for up to 24 hours.

    The facts still show the old term (once renewed, commitment_end moves a term ahead).
    Source: update-a-subscription-by-id (409 Conflict while the renewal is processed).
    """
    if facts.status is not Status.ACTIVE or not facts.auto_renew:
        return False
    start = term_end(facts)
    return start <= now < start + RENEWAL_PROCESSING


# --- reducible seats --------------------------------------------------------------------


def reducible_now(facts: SubscriptionFacts, now: datetime) -> Reducible:
    """The seats whose 7-day window is still open at `now` (refundableQuantity)."""
    details = sorted(
        ((t.quantity, t.allowed_until) for t in facts.tranches if t.allowed_until > now),
        key=lambda d: (d[1], d[0]),
    )
    return Reducible(sum(q for q, _ in details), tuple(details))


def reducible_total(facts: SubscriptionFacts, now: datetime) -> int:
    """How many seats can be reduced now (`reducible_now(...).total`, without the details)."""
    cutoff = now - WINDOW  # added_at > now - 7 days  <=>  allowed_until > now
    return sum(t.quantity for t in facts.tranches if t.added_at > cutoff)


def _floor(facts: SubscriptionFacts) -> int:
    return max(1, facts.assigned)


def quantity_limits(facts: SubscriptionFacts, now: datetime) -> QuantityLimits:
    """The increase/decrease/schedule options a page can offer for this subscription now."""
    reducible = reducible_now(facts, now)
    floor = _floor(facts)
    can_change = check_quantity_change(facts, facts.quantity + 1, now).allowed
    if not can_change:
        lowest_now = facts.quantity
    elif not facts.is_nce:
        lowest_now = min(facts.quantity, floor)
    else:
        lowest_now = min(facts.quantity, max(floor, facts.quantity - reducible.total))
    lowest_at_renewal = floor if schedule_refusal(facts, now) is None else None
    return QuantityLimits(
        can_increase=can_change,
        lowest_now=lowest_now,
        lowest_at_renewal=lowest_at_renewal,
        floor=floor,
        reducible=reducible,
        renewal_on=facts.renewal_on,
    )


def describe_reducible(
    facts: SubscriptionFacts, now: datetime, limits: QuantityLimits | None = None
) -> str:
    """One sentence for the page: how many seats can be reduced now and until when.

    `limits`: `quantity_limits(facts, now)` when the caller has it already.
    """
    limits = limits or quantity_limits(facts, now)
    can_reduce = facts.quantity - limits.lowest_now
    if not facts.is_nce and can_reduce > 0:
        return f"{seats(can_reduce)} can be reduced now."
    if can_reduce > 0:
        return (
            f"{seats(can_reduce)} can be reduced now, {_until_text(limits.reducible, can_reduce)}."
        )
    if limits.lowest_at_renewal is not None and limits.lowest_at_renewal < facts.quantity:
        return (
            "No seats can be reduced now; a reduction can be scheduled for renewal on "
            f"{format_day(facts.renewal_on)}."
        )
    return "No seats can be reduced now."


def _until_text(reducible: Reducible, count: int) -> str:
    """'until X' or '2 until X and 1 until Y' for the first `count` reducible seats."""
    parts: list[tuple[int, datetime]] = []
    left = count
    for quantity, until in reversed(reducible.details):  # latest deadlines serve first
        if left <= 0:
            break
        take = min(quantity, left)
        parts.append((take, until))
        left -= take
    parts.reverse()
    if len(parts) == 1:
        return f"until {format_when(parts[0][1])}"
    return " and ".join(f"{q} until {format_when(u)}" for q, u in parts)


# --- shared guards ----------------------------------------------------------------------

_NOT_ACTIVE = {
    Status.SUSPENDED: "This subscription is suspended: resume it first.",
    Status.DELETED: "This subscription has been cancelled.",
    Status.EXPIRED: "This subscription has expired.",
    Status.PENDING: "Microsoft is still setting this subscription up; try again in a few minutes.",
    Status.DISABLED: "Microsoft has disabled this subscription; it cannot be changed.",
    Status.NONE: "This subscription has no usable status yet; refresh it and try again.",
}


def status_refusal(facts: SubscriptionFacts) -> Decision | None:
    """Why a non-active subscription cannot be changed (None when active)."""
    if facts.status is Status.ACTIVE:
        return None
    return refuse(Code.NOT_ACTIVE, _NOT_ACTIVE[facts.status])


def update_refusal(facts: SubscriptionFacts, now: datetime) -> Decision | None:
    """Refusals common to every update: renewal in progress, stale term, update cap."""
    if is_renewal_pending(facts, now):
        return Decision(
            Verdict.REFUSED,
            "Renewal in progress: Microsoft is renewing this subscription (this can take up "
            f"to 24 hours from {format_when(term_end(facts))}). Try again in a few minutes.",
            Code.RENEWAL_PENDING,
            retry_after=RENEWAL_RETRY_AFTER,
        )
    if has_term_ended(facts, now):
        return refuse(
            Code.TERM_ENDED,
            f"This subscription's term ended on {format_day(facts.commitment_end)} and these "
            "details are out of date; refresh it and try again.",
        )
    if facts.update_count >= UPDATE_CAP:
        return refuse(
            Code.UPDATE_CAP,
            f"This subscription has had {facts.update_count:,} updates and Microsoft accepts "
            f"about {UPDATE_CAP:,}: it cannot be changed any more. Buy a new subscription "
            "for further changes.",
        )
    return None


def update_cap_warnings(facts: SubscriptionFacts) -> list[str]:
    """A warning once the subscription nears Microsoft's update cap."""
    if facts.update_count >= UPDATE_WARNING_FROM:
        return [
            f"This subscription has had {facts.update_count:,} updates; Microsoft stops "
            f"accepting changes at about {UPDATE_CAP:,}."
        ]
    return []


def scheduled_changes_warnings(facts: SubscriptionFacts) -> list[str]:
    """A warning that the action deletes the changes scheduled for renewal, if any."""
    # Source: create-scheduled-changes — a mid-term cancel, auto-renew off, quantity change,
    # upgrade or trial conversion deletes the changes scheduled for renewal.
    if not facts.has_scheduled_changes:
        return []
    detail = (
        f" ({seats(facts.scheduled_quantity)} at renewal)"
        if facts.scheduled_quantity is not None
        else ""
    )
    return [f"This deletes the changes scheduled for renewal{detail}."]


def _first(*refusals: Decision | None) -> Decision | None:
    return next((r for r in refusals if r is not None), None)


# --- quantity ---------------------------------------------------------------------------


def check_quantity_change(facts: SubscriptionFacts, new_quantity: int, now: datetime) -> Decision:
    """May the seat count change to `new_quantity` now, only at renewal, or not at all?

    Increases: any time on an active, non-trial subscription. Decreases (NCE): only seats
    of a tranche whose 7-day window is open, never below 1 seat nor below assigned seats;
    otherwise only at renewal (when a scheduled change is possible). Legacy (non-NCE)
    subscriptions may be reduced any time, down to the same floor.
    Source: change-the-quantity-of-a-subscription, "Manage customer subscriptions".
    """
    if facts.is_trial:
        return refuse(
            Code.TRIAL,
            "The number of seats of a trial cannot be changed; convert the trial to a paid "
            f"subscription (at least {TRIAL_MIN_SEATS} seats) to choose the seat count.",
        )
    early = _first(status_refusal(facts), update_refusal(facts, now))
    if early is not None:
        return early
    q = facts.quantity
    if new_quantity == q:
        return refuse(Code.NO_CHANGE, f"No change: the subscription already has {seats(q)}.")
    if new_quantity < 1:
        return refuse(
            Code.BELOW_MINIMUM,
            "A subscription keeps at least 1 seat; to stop paying for it, cancel it (within "
            "its cancellation window) or turn auto-renew off.",
        )
    warnings = tuple(scheduled_changes_warnings(facts) + update_cap_warnings(facts))
    if new_quantity > q:
        return allow(f"{seats(new_quantity - q)} will be added now.", warnings)
    if new_quantity < facts.assigned:
        return refuse(
            Code.BELOW_ASSIGNED,
            f"{facts.assigned} people use this license: unassign people first to go below "
            f"{seats(facts.assigned)}.",
        )
    reduce_by = q - new_quantity
    if not facts.is_nce:
        return Decision(
            Verdict.ALLOWED,
            f"{seats(reduce_by)} will be removed now.",
            warnings=warnings,
            lowest_quantity_now=_floor(facts),
        )
    reducible = reducible_now(facts, now)
    lowest_now = min(q, max(_floor(facts), q - reducible.total))
    if reduce_by <= reducible.total:
        deadline = reducible.deadline_for(reduce_by)
        return Decision(
            Verdict.ALLOWED,
            f"{seats(reduce_by)} will be removed now (possible until "
            f"{format_when(deadline or now)}).",
            warnings=warnings,
            lowest_quantity_now=lowest_now,
            deadline=deadline,
        )
    if reducible.total:
        now_text = (
            f"Only {seats(reducible.total)} can be reduced now, "
            f"{_until_text(reducible, reducible.total)}"
        )
        rest = f"the other {reduce_by - reducible.total} can be reduced"
    else:
        now_text = (
            "No seats can be reduced now: seats can only be reduced within 7 days of being added"
        )
        rest = f"the reduction to {seats(new_quantity)} can be scheduled"
    schedule = check_schedule_renewal_change(facts, new_quantity, now)
    if schedule.allowed:
        return Decision(
            Verdict.AT_RENEWAL_ONLY,
            f"{now_text}; {rest} at renewal on {format_day(facts.renewal_on)}.",
            Code.OUTSIDE_WINDOW,
            warnings=schedule.warnings,
            lowest_quantity_now=lowest_now,
            deadline=reducible.next_deadline,
            renewal_on=facts.renewal_on,
        )
    return Decision(
        Verdict.REFUSED,
        f"{now_text}. {schedule.reason}",
        Code.OUTSIDE_WINDOW,
        lowest_quantity_now=lowest_now,
        deadline=reducible.next_deadline,
    )


# --- scheduled changes at renewal ---------------------------------------------------------


def schedule_refusal(facts: SubscriptionFacts, now: datetime) -> Decision | None:
    """Why no change can be scheduled for renewal (None: it can)."""
    # Source: create-scheduled-changes — needs status active and autoRenewEnabled true.
    if not facts.is_nce:
        return refuse(
            Code.NOT_NCE, "Changes at renewal can only be scheduled on New Commerce subscriptions."
        )
    if facts.is_trial:
        return refuse(
            Code.TRIAL,
            "A trial's paid seat count is chosen by converting the trial (now or at its end).",
        )
    early = _first(status_refusal(facts), update_refusal(facts, now))
    if early is not None:
        return early
    if not facts.auto_renew:
        return refuse(
            Code.AUTO_RENEW_OFF,
            "Changes at renewal need auto-renew on: turn auto-renew on first.",
        )
    return None


def check_schedule_renewal_change(
    facts: SubscriptionFacts, new_quantity: int, now: datetime
) -> Decision:
    """May the quantity at renewal be set to `new_quantity` (up or down)?

    Needs an active NCE subscription with auto-renew on. The quantity at renewal is at
    least 1 and not below the seats assigned now (unassign people first), so nobody loses a
    license at renewal by surprise.
    """
    refusal = schedule_refusal(facts, now)
    if refusal is not None:
        return refusal
    renews_with = (
        facts.scheduled_quantity if facts.scheduled_quantity is not None else facts.quantity
    )
    if new_quantity == renews_with:
        return refuse(
            Code.NO_CHANGE, f"No change: the subscription already renews with {seats(renews_with)}."
        )
    if new_quantity < 1:
        return refuse(Code.BELOW_MINIMUM, "A subscription renews with at least 1 seat.")
    if new_quantity < facts.assigned:
        return refuse(
            Code.BELOW_ASSIGNED,
            f"{facts.assigned} people use this license: unassign people first to renew with "
            f"fewer than {seats(facts.assigned)}.",
        )
    warnings = update_cap_warnings(facts)
    if facts.scheduled_quantity is not None:
        warnings.insert(
            0, f"This replaces the scheduled quantity of {seats(facts.scheduled_quantity)}."
        )
    return Decision(
        Verdict.ALLOWED,
        f"The subscription will renew with {seats(new_quantity)} on "
        f"{format_day(facts.renewal_on)}.",
        warnings=tuple(warnings),
        renewal_on=facts.renewal_on,
    )


def check_remove_scheduled_changes(facts: SubscriptionFacts, now: datetime) -> Decision:
    """May the changes scheduled for renewal be removed?"""
    if not facts.has_scheduled_changes:
        return refuse(Code.NO_SCHEDULED_CHANGES, "No changes are scheduled for renewal.")
    early = _first(status_refusal(facts), update_refusal(facts, now))
    if early is not None:
        return early
    return Decision(
        Verdict.ALLOWED,
        f"The subscription will renew unchanged, with {seats(facts.quantity)}, on "
        f"{format_day(facts.renewal_on)}.",
        warnings=tuple(update_cap_warnings(facts)),
        renewal_on=facts.renewal_on,
    )


# --- cancellation -----------------------------------------------------------------------


def cancellation_deadline(facts: SubscriptionFacts) -> datetime:
    """Until when (exclusive) an NCE subscription can be cancelled: Partner Center's
    cancellationAllowedUntilDate when known, else term start + 7 days."""
    if facts.cancellation_allowed_until is not None:
        return facts.cancellation_allowed_until
    return facts.term_start + WINDOW


def _billing_period(facts: SubscriptionFacts, on: date) -> tuple[date, date, int]:
    """(start, inclusive end, months) of the billing period containing `on`."""
    term_months = TERM_MONTHS[facts.term_duration]
    months = min(BILLING_MONTHS.get(facts.billing_cycle, term_months), term_months)
    start_day = facts.term_start.astimezone(UTC).date()
    k = 0
    while money.add_months(start_day, (k + 1) * months) <= on:
        k += 1
    start = money.add_months(start_day, k * months)
    end = min(
        money.add_months(start_day, (k + 1) * months) - timedelta(days=1), facts.commitment_end
    )
    return start, max(start, end), months


def cancellation_refund(facts: SubscriptionFacts, now: datetime) -> Decimal:
    """The prorated refund of cancelling now: the unused days of the billing period paid.

    Prorated daily over the billing period that contains `now` (the first one, inside the
    NCE cancellation window); the day of cancellation is paid for.
    """
    today = now.astimezone(UTC).date()
    start, end, months = _billing_period(facts, today)
    charged = money.monthly_cost(facts.unit_price, facts.quantity) * months
    return money.prorated_refund(charged, start, end, today)


def check_cancel(facts: SubscriptionFacts, now: datetime) -> Decision:
    """May the subscription be cancelled now, and what is refunded?

    NCE: only within 7 days (168 hours) of the start of the current term (purchase or
    renewal), refund prorated daily; afterwards it cannot be cancelled — turning auto-renew
    off lets it end with the term. Legacy: any time, prorated. Trials: refused (their status
    cannot change; turning auto-renew off ends them without converting). Only active
    subscriptions are cancelled here (resume a suspended one first).
    Source: "Manage customer subscriptions" (cancel within 7 days), update-a-subscription-by-id
    (status: deleted), subscription-resources (cancellationAllowedUntilDate).
    """
    if facts.is_trial:
        return refuse(
            Code.TRIAL,
            "A trial cannot be cancelled; turn auto-renew off and it ends on "
            f"{format_day(facts.commitment_end)} without converting to a paid subscription.",
        )
    early = _first(status_refusal(facts), update_refusal(facts, now))
    if early is not None:
        return early
    deadline: datetime | None = None
    if facts.is_nce:
        deadline = cancellation_deadline(facts)
        if now >= deadline:
            end = format_day(facts.commitment_end)
            if facts.auto_renew and est_applies(facts):
                advice = f" Choose “cancel at the end of the term” and it ends on {end}."
            elif facts.auto_renew:
                advice = f" Turn auto-renew off and it ends on {end}."
            elif facts.cancel_at_end or not est_applies(facts):
                advice = f" It ends on {end} (auto-renew is off)."
            else:
                advice = (
                    f" With auto-renew off it goes on after {end} in the paid extended service "
                    "term: choose “cancel at the end of the term” to end it then."
                )
            return refuse(
                Code.OUTSIDE_WINDOW,
                "A New Commerce subscription can only be cancelled within 7 days of the start "
                f"of its term; that ended on {format_when(deadline)}.{advice}",
            )
    refund = cancellation_refund(facts, now)
    warnings = scheduled_changes_warnings(facts)
    if facts.assigned:
        warnings.append(f"{facts.assigned} people lose this license.")
    window = f" (possible until {format_when(deadline)})" if deadline is not None else ""
    return Decision(
        Verdict.ALLOWED,
        f"The subscription will be cancelled now{window}; refund: {refund}.",
        warnings=tuple(warnings + update_cap_warnings(facts)),
        deadline=deadline,
        refund=refund,
    )


# --- suspend, resume, auto-renew ----------------------------------------------------------


def check_suspend(facts: SubscriptionFacts, now: datetime) -> Decision:
    """May the subscription be suspended? Warns of what suspending does under NCE.

    Source: "Manage customer subscriptions" — suspending an NCE subscription turns
    auto-renew off; the partner is still billed; data is deleted if it is not resumed
    before the term ends.
    """
    if facts.is_trial:
        return refuse(Code.TRIAL, "The status of a trial cannot be changed.")
    if facts.status is Status.SUSPENDED:
        return refuse(Code.NO_CHANGE, "No change: the subscription is already suspended.")
    early = _first(status_refusal(facts), update_refusal(facts, now))
    if early is not None:
        return early
    warnings: list[str] = []
    if facts.assigned:
        warnings.append(f"{facts.assigned} people lose access while it is suspended.")
    if facts.is_nce:
        end = format_day(facts.commitment_end)
        if facts.auto_renew:
            warnings.append(
                f"Suspending turns auto-renew off: {_after_auto_renew_off(facts)}, unless it "
                "is resumed and auto-renew is turned back on."
            )
        warnings.append("It is still billed while suspended.")
        warnings.append(f"Its data is deleted if it is not resumed before {end}.")
        warnings.extend(scheduled_changes_warnings(facts))
    warnings.extend(update_cap_warnings(facts))
    return allow("The subscription will be suspended now.", tuple(warnings))


def check_resume(facts: SubscriptionFacts, now: datetime) -> Decision:
    """May a suspended subscription be resumed? Resuming does not turn auto-renew back on."""
    if facts.status is not Status.SUSPENDED:
        return refuse(Code.NOT_SUSPENDED, "Only a suspended subscription can be resumed.")
    early = update_refusal(facts, now)
    if early is not None:
        return early
    warnings = update_cap_warnings(facts)
    if facts.is_nce and not facts.auto_renew:
        warnings.insert(
            0,
            f"Resuming does not turn auto-renew back on: {_after_auto_renew_off(facts)}, "
            "unless you turn auto-renew on.",
        )
    return allow("The subscription will be resumed now.", tuple(warnings))


def check_auto_renew(facts: SubscriptionFacts, enable: bool, now: datetime) -> Decision:
    """May auto-renew be turned on (`enable`) or off? Turning it off deletes scheduled changes."""
    if facts.auto_renew == enable:
        state = "on" if enable else "off"
        return refuse(Code.NO_CHANGE, f"No change: auto-renew is already {state}.")
    early = _first(status_refusal(facts), update_refusal(facts, now))
    if early is not None:
        return early
    end = format_day(facts.commitment_end)
    warnings = update_cap_warnings(facts)
    if enable:
        what = "convert to a paid subscription" if facts.is_trial else "renew"
        return allow(
            f"Auto-renew will be on: it will {what} on {format_day(facts.renewal_on)}.",
            tuple(warnings),
        )
    head = scheduled_changes_warnings(facts)
    if facts.is_trial:
        reason = f"Auto-renew will be off: the trial ends on {end} without converting."
    else:
        reason = f"Auto-renew will be off: {_after_auto_renew_off(facts)}."
    if facts.assigned:
        head.append(f"{facts.assigned} people lose this license when it ends.")
    return allow(reason, tuple(head + warnings))


# --- trials -----------------------------------------------------------------------------


def check_trial_conversion(
    trial: SubscriptionFacts,
    quantity: int,
    now: datetime,
    *,
    target: SubscriptionFacts | None = None,
    at_trial_end: bool = False,
) -> Decision:
    """May the trial convert to paid with `quantity` seats, now or at the end of the trial?

    Now: at least 25 seats, into a new subscription or into `target` (an existing paid,
    active subscription whose end date is not earlier than the trial's); converting now
    deletes the trial's scheduled changes. At the end of the trial: any quantity from 1,
    and auto-renew must be on. Source: transition-a-new-commerce-subscription.
    """
    if not trial.is_trial:
        return refuse(Code.NOT_TRIAL, "Only a trial can be converted.")
    early = _first(status_refusal(trial), update_refusal(trial, now))
    if early is not None:
        return early
    if quantity < 1:
        return refuse(Code.BELOW_MINIMUM, "A trial converts to at least 1 seat.")
    if quantity < TRIAL_MIN_SEATS and not at_trial_end:
        return refuse(
            Code.TRIAL_MINIMUM,
            f"A trial converts now to at least {seats(TRIAL_MIN_SEATS)}; schedule the "
            "conversion for the end of the trial to choose fewer.",
        )
    if target is not None:
        if target.is_trial or target.status is not Status.ACTIVE:
            return refuse(
                Code.TARGET_NOT_USABLE, "A trial converts only into an active, paid subscription."
            )
        if target.commitment_end < trial.commitment_end:
            return refuse(
                Code.TARGET_ENDS_EARLIER,
                f"That subscription ends on {format_day(target.commitment_end)}, before the "
                f"trial ends on {format_day(trial.commitment_end)}: choose one that ends later "
                "or a new subscription.",
            )
    into = "a new subscription" if target is None else "the chosen subscription"
    if at_trial_end:
        if not trial.auto_renew:
            return refuse(
                Code.AUTO_RENEW_OFF,
                "A conversion at the end of the trial needs auto-renew on: turn it on first.",
            )
        return Decision(
            Verdict.ALLOWED,
            f"The trial will convert to {seats(quantity)} in {into} on "
            f"{format_day(trial.renewal_on)}.",
            warnings=tuple(update_cap_warnings(trial)),
            renewal_on=trial.renewal_on,
        )
    return allow(
        f"The trial will convert now to {seats(quantity)} in {into}.",
        tuple(scheduled_changes_warnings(trial) + update_cap_warnings(trial)),
    )


def open_tranches(tranches: Iterable[Tranche], now: datetime) -> tuple[Tranche, ...]:
    """The tranches whose 7-day window is still open at `now`."""
    return tuple(t for t in tranches if t.allowed_until > now)
