"""The reconciliation planner of auto license adjustment (issue 7), pure and deterministic.

For each offer a customer holds, it plans how to pay only for assigned seats within the New
Commerce rules (PRODUCT.md "Auto license adjustment"):

- duplicates of one offer merge onto the oldest eligible subscription; a newer one is merged
  only when all its seats but the last can be returned now (its last seat stays billed,
  suspended, until its term ends: suspending turns auto-renew off); the oldest buys only the
  seats the merged ones held and people need;
- excess seats are returned now where they sit in an open 7-day tranche (newest subscription
  first); the rest is scheduled as a reduction at renewal on subscriptions that renew, and
  what cannot be scheduled is reported as "cannot be saved before the term ends";
- an offer with no assigned seats has its subscriptions reduced as far as the window allows
  and suspended;
- trials, renewals in progress, subscriptions already changing, non-active ones and ones
  with changes scheduled for renewal the plan would delete are left alone and listed.

Assumptions where PRODUCT.md is silent (conservative: never fewer seats than assigned):
the eligible subscriptions of an offer alone must cover its assigned seats (seats of trials
and other left-alone subscriptions are not counted as cover); an offer missing from the
assigned counts, or with more seats assigned than its active subscriptions hold (stale or
inconsistent counts), is left alone; cancelled and expired subscriptions are skipped silently;
subscriptions with changes scheduled for renewal are not reduced now (a mid-term quantity
change deletes those changes) but their scheduled quantity may be lowered.

Applying the plan and planning again yields no changes (`Plan.changes` is empty); notes
(`left_alone`, `cannot_save`) are repeated on every run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from app.domain import money
from app.domain.nce import (
    UPDATE_CAP,
    Status,
    SubscriptionFacts,
    Tranche,
    cancellation_deadline,
    format_day,
    is_renewal_pending,
    reducible_total,
    seats,
    term_end,
)

ZERO = Decimal(0)


class ActionKind(StrEnum):
    """What the plan does to one subscription (or only reports about it)."""

    MERGE_INCREASE = "merge_increase"
    REDUCE_NOW = "reduce_now"
    CANCEL = "cancel"
    SUSPEND = "suspend"
    SCHEDULE_REDUCTION = "schedule_reduction"
    CANNOT_SAVE = "cannot_save"
    LEFT_ALONE = "left_alone"


CHANGING_KINDS = frozenset(
    {
        ActionKind.MERGE_INCREASE,
        ActionKind.REDUCE_NOW,
        ActionKind.CANCEL,
        ActionKind.SUSPEND,
        ActionKind.SCHEDULE_REDUCTION,
    }
)
IMMEDIATE_KINDS = frozenset(
    {ActionKind.MERGE_INCREASE, ActionKind.REDUCE_NOW, ActionKind.CANCEL, ActionKind.SUSPEND}
)


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan.

    `from_quantity`/`to_quantity`: seats before and after (for a scheduled reduction, the
    quantity it would renew with and the one it will); `when`: when the effect happens (now,
    or 00:00 UTC of the renewal day); `monthly_saving`: exact change of the monthly bill when
    it takes effect (negative when seats are bought).
    """

    kind: ActionKind
    subscription_id: str
    offer_id: str
    from_quantity: int
    to_quantity: int
    when: datetime
    reason: str
    monthly_saving: Decimal = ZERO

    @property
    def changes(self) -> bool:
        """True when applying this action changes something at Microsoft."""
        return self.kind in CHANGING_KINDS

    def as_dict(self) -> dict[str, str | int]:
        """JSON-ready fields (saving as a decimal string, when as ISO 8601)."""
        return {
            "subscription": self.subscription_id,
            "offer": self.offer_id,
            "kind": self.kind.value,
            "from_quantity": self.from_quantity,
            "to_quantity": self.to_quantity,
            "when": self.when.isoformat(),
            "reason": self.reason,
            "saving": str(self.monthly_saving),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions of one reconciliation run, in the order they are to be applied."""

    planned_at: datetime
    actions: tuple[Action, ...]

    @property
    def changes(self) -> tuple[Action, ...]:
        """The actions that change something (apply these, in order)."""
        return tuple(a for a in self.actions if a.changes)

    @property
    def notes(self) -> tuple[Action, ...]:
        """The subscriptions left alone or whose excess cannot be saved, with reasons."""
        return tuple(a for a in self.actions if not a.changes)

    @property
    def is_empty(self) -> bool:
        """True when the plan changes nothing."""
        return not any(a.changes for a in self.actions)

    @property
    def saving_now(self) -> Decimal:
        """Monthly saving of the actions that take effect now."""
        return sum((a.monthly_saving for a in self.actions if a.kind in IMMEDIATE_KINDS), ZERO)

    @property
    def saving_at_renewal(self) -> Decimal:
        """Monthly saving of the reductions scheduled for renewal."""
        return sum(
            (a.monthly_saving for a in self.actions if a.kind is ActionKind.SCHEDULE_REDUCTION),
            ZERO,
        )

    @property
    def monthly_saving(self) -> Decimal:
        """Total monthly saving once every action has taken effect."""
        return self.saving_now + self.saving_at_renewal

    def as_dict(self) -> dict[str, object]:
        """JSON-ready plan: when, the savings (decimal strings) and the actions."""
        return {
            "planned_at": self.planned_at.isoformat(),
            "saving_now": str(self.saving_now),
            "saving_at_renewal": str(self.saving_at_renewal),
            "monthly_saving": str(self.monthly_saving),
            "actions": [a.as_dict() for a in self.actions],
        }


# --- billing -------------------------------------------------------------------------------


def billed_quantity(facts: SubscriptionFacts) -> int:
    """Seats billed now: active ones, and suspended NCE ones (still billed while suspended)."""
    if facts.status is Status.ACTIVE:
        return facts.quantity
    if facts.status is Status.SUSPENDED and facts.is_nce:
        return facts.quantity
    return 0


def renewal_quantity(facts: SubscriptionFacts) -> int:
    """Seats the subscription renews with (0 when it does not renew)."""
    if facts.status is not Status.ACTIVE or not facts.auto_renew:
        return 0
    return facts.scheduled_quantity if facts.scheduled_quantity is not None else facts.quantity


def monthly_bill(subscriptions: Iterable[SubscriptionFacts]) -> Decimal:
    """The exact monthly bill of these subscriptions now."""
    return sum((money.monthly_cost(f.unit_price, billed_quantity(f)) for f in subscriptions), ZERO)


def renewal_bill(subscriptions: Iterable[SubscriptionFacts]) -> Decimal:
    """The exact monthly bill of these subscriptions after their next renewal."""
    return sum((money.monthly_cost(f.unit_price, renewal_quantity(f)) for f in subscriptions), ZERO)


# --- planning ------------------------------------------------------------------------------


def plan_adjustment(
    subscriptions: Iterable[SubscriptionFacts],
    assigned: Mapping[str, int],
    now: datetime,
    *,
    changing: Collection[str] = frozenset(),
) -> Plan:
    """Plan the reconciliation of one customer's subscriptions.

    `assigned`: seats assigned to people per product (`product_key`: the Entra SKU a
    subscription grants, else its offer id), counted over every subscription granting it,
    trials included: decisions are made per product, so an older trial never leaves the paid
    subscription looking unused. `changing`: ids of subscriptions with a change already in
    flight (left alone).
    """
    groups: dict[str, list[SubscriptionFacts]] = {}
    for facts in subscriptions:
        groups.setdefault(product_key(facts), []).append(facts)
    actions: list[Action] = []
    for offer_id in sorted(groups):
        count = assigned.get(offer_id)
        if count is not None and count < 0:
            raise ValueError(f"negative assigned count for {offer_id!r}")
        actions.extend(_plan_offer(groups[offer_id], count, now, changing))
    return Plan(now, tuple(actions))


def product_key(facts: SubscriptionFacts) -> str:
    """What the planner groups by and counts assigned seats of: the product granted."""
    return facts.product or facts.offer_id


def _why_left_alone(
    facts: SubscriptionFacts, now: datetime, changing: Collection[str]
) -> str | None:
    """Why the planner must not touch this subscription ('' = skip silently; None = eligible)."""
    status = facts.status
    if status is Status.DELETED or status is Status.EXPIRED:
        return ""
    if status is Status.SUSPENDED:
        return (
            f"Suspended: its seats are not usable; it ends on {format_day(facts.commitment_end)} "
            "unless resumed."
        )
    if status is not Status.ACTIVE:
        return f"Status is {status.value}: only active subscriptions are adjusted."
    if facts.is_trial:
        return f"Trial: left alone until it converts or ends on {format_day(facts.commitment_end)}."
    if facts.id in changing:
        return "A change to this subscription is already in progress."
    if now >= term_end(facts):
        if is_renewal_pending(facts, now):
            return "Renewal in progress at Microsoft; it is planned again on the next run."
        return (
            f"Its term ended on {format_day(facts.commitment_end)} and these details are out "
            "of date; it is planned again after the next sync."
        )
    if facts.update_count >= UPDATE_CAP:
        return "It has reached Microsoft's limit of about 1,200 updates."
    if facts.has_scheduled_changes and (
        facts.scheduled_other_changes
        or facts.scheduled_quantity is None
        or facts.scheduled_quantity > facts.quantity
    ):
        return "It has changes scheduled for renewal that adjusting it would delete or undo."
    return None


def _returnable_now(facts: SubscriptionFacts, now: datetime) -> int:
    """Seats that can be returned now, keeping one (legacy: any but one)."""
    if not facts.is_nce:
        return max(0, facts.quantity - 1)
    return max(0, min(reducible_total(facts, now), facts.quantity - 1))


def _plan_offer(
    subs: list[SubscriptionFacts],
    assigned: int | None,
    now: datetime,
    changing: Collection[str],
) -> list[Action]:
    eligible: list[SubscriptionFacts] = []
    notes: list[Action] = []
    for facts in sorted(subs, key=lambda f: (f.created_at, f.id)):
        why = _why_left_alone(facts, now, changing)
        if why is None:
            eligible.append(facts)
        elif why:
            notes.append(_note(ActionKind.LEFT_ALONE, facts, now, why))
    if not eligible:
        return notes
    if assigned is None:
        why = "No assigned-seat count is known for this product; it is left as it is."
        return [_note(ActionKind.LEFT_ALONE, f, now, why) for f in eligible] + notes
    seats_held = sum(f.quantity for f in subs if f.status is Status.ACTIVE)
    if assigned > seats_held:
        why = (
            f"{assigned} seats are assigned but the subscriptions hold only {seats_held}: "
            "nothing is changed until the counts agree (sync again)."
        )
        return [_note(ActionKind.LEFT_ALONE, f, now, why) for f in eligible] + notes
    if assigned == 0:
        return _plan_unused(eligible, now) + notes
    return _plan_used(eligible, assigned, now) + notes


def _note(kind: ActionKind, facts: SubscriptionFacts, when: datetime, reason: str) -> Action:
    q = facts.quantity
    return Action(kind, facts.id, facts.offer_id, q, q, when, reason)


def _suspend(facts: SubscriptionFacts, quantity: int, now: datetime, why: str) -> Action:
    end = format_day(facts.commitment_end)
    if facts.is_nce:
        consequence = (
            " Suspending turns auto-renew off, and it is set to cancel at the end of its term, "
            f"{end} (not to go on in the paid extended service term); it is billed for "
            f"{seats(quantity)} until then."
        )
        saving = ZERO
    else:
        consequence = " Billing stops while it is suspended."
        saving = money.monthly_saving(facts.unit_price, quantity)
    return Action(
        ActionKind.SUSPEND,
        facts.id,
        facts.offer_id,
        quantity,
        quantity,
        now,
        why + consequence,
        saving,
    )


def _reduce_now(facts: SubscriptionFacts, by: int, now: datetime, why: str) -> Action:
    return Action(
        ActionKind.REDUCE_NOW,
        facts.id,
        facts.offer_id,
        facts.quantity,
        facts.quantity - by,
        now,
        why,
        money.monthly_saving(facts.unit_price, by),
    )


def _retire(
    facts: SubscriptionFacts, now: datetime, why: str, *, cancel_in_window: bool = False
) -> list[Action]:
    """Return what can be returned now, then suspend it and set it to cancel at the end of
    its term (so it does not slide into the paid extended service term). With
    `cancel_in_window` (nobody uses it), cancel it instead while its 7-day cancellation
    window is open: refunded rather than paid for a whole term."""
    if cancel_in_window and facts.is_nce and now < cancellation_deadline(facts):
        return [
            Action(
                ActionKind.CANCEL,
                facts.id,
                facts.offer_id,
                facts.quantity,
                0,
                now,
                f"{why} Cancelled within its 7-day cancellation window (until "
                f"{format_day(cancellation_deadline(facts).date())}): refunded, not paid for "
                "a whole term.",
                money.monthly_saving(facts.unit_price, facts.quantity),
            )
        ]
    returnable = _returnable_now(facts, now)
    actions = []
    if returnable:
        actions.append(
            _reduce_now(
                facts,
                returnable,
                now,
                f"{why} {seats(returnable)} returned now, within the window.",
            )
        )
    actions.append(_suspend(facts, facts.quantity - returnable, now, f"{why} Suspended."))
    return actions


def _plan_unused(eligible: list[SubscriptionFacts], now: datetime) -> list[Action]:
    reduced: list[Action] = []
    suspended: list[Action] = []
    for facts in eligible:
        for action in _retire(
            facts, now, "No one is assigned this product.", cancel_in_window=True
        ):
            (reduced if action.kind is ActionKind.REDUCE_NOW else suspended).append(action)
    return reduced + suspended


def _plan_used(eligible: list[SubscriptionFacts], assigned: int, now: datetime) -> list[Action]:
    # Merge only onto a subscription that will renew, and only seats of the same term
    # length and billing frequency (never fold monthly seats into an annual commitment).
    # A quantity change deletes the changes scheduled for renewal, so neither the target nor a
    # merged one may have any (those are left for a person).
    renewing_targets = [f for f in eligible if f.auto_renew and not f.has_scheduled_changes]
    oldest = renewing_targets[0] if renewing_targets else eligible[0]
    returnable = {f.id: _returnable_now(f, now) for f in eligible}
    merged = [
        f
        for f in eligible
        if renewing_targets
        and f is not oldest
        and (f.term_duration, f.billing_cycle) == (oldest.term_duration, oldest.billing_cycle)
        and not f.has_scheduled_changes
        and f.quantity >= 2
        and returnable[f.id] >= f.quantity - 1
    ]
    merged_ids = {f.id for f in merged}
    remaining = [oldest] + [f for f in eligible if f is not oldest and f.id not in merged_ids]

    increases: list[Action] = []
    reductions: list[Action] = []
    suspensions: list[Action] = []
    schedules: list[Action] = []
    cannot: list[Action] = []

    # Merge: the oldest buys what people need of the seats the merged ones held.
    quantity = {f.id: f.quantity for f in remaining}
    scheduled = {f.id: f.scheduled_quantity for f in remaining}
    cover = sum(quantity.values())
    buy = min(max(0, assigned - cover), sum(f.quantity for f in merged))
    if buy:
        names = ", ".join(f.id for f in merged)
        increases.append(
            Action(
                ActionKind.MERGE_INCREASE,
                oldest.id,
                oldest.offer_id,
                oldest.quantity,
                oldest.quantity + buy,
                now,
                f"Duplicates of this product are merged onto the oldest subscription: "
                f"{seats(buy)} added here to replace those of {names}."
                + (
                    " This deletes its changes scheduled for renewal."
                    if oldest.has_scheduled_changes
                    else ""
                ),
                -money.monthly_saving(oldest.unit_price, buy),
            )
        )
        quantity[oldest.id] += buy
        scheduled[oldest.id] = None  # a quantity change deletes the scheduled changes
        cover += buy
    for facts in merged:
        for action in _retire(facts, now, f"Merged onto {oldest.id}, the oldest that renews."):
            (reductions if action.kind is ActionKind.REDUCE_NOW else suspensions).append(action)

    # Excess now: return seats of open tranches — first of subscriptions that end with their
    # term, then of renewing ones, newest first — never leaving the renewing ones with fewer
    # seats than people need after the term ends (one seat kept elsewhere would be lost).
    excess = cover - assigned
    renews = {f.id: f.auto_renew for f in remaining}
    renewing_seats = sum(
        quantity[f.id] if scheduled[f.id] is None else scheduled[f.id]  # type: ignore[misc]
        for f in remaining
        if renews[f.id]
    )
    spare_renewing = max(0, renewing_seats - assigned)
    order = [f for f in reversed(remaining) if not renews[f.id]]
    order += [f for f in reversed(remaining) if renews[f.id]]
    for facts in order:
        if excess <= 0:
            break
        if scheduled[facts.id] is not None:
            continue  # a mid-term quantity change would delete the scheduled changes
        take = min(excess, returnable[facts.id])
        if renews[facts.id]:
            take = min(take, spare_renewing)
            spare_renewing -= take
        if take:
            reductions.append(
                _reduce_now(
                    facts,
                    take,
                    now,
                    f"{seats(cover)} for {assigned} assigned: {seats(take)} returned now, "
                    "within the 7-day window.",
                )
            )
            quantity[facts.id] -= take
            excess -= take

    # Excess at renewal: subscriptions that renew must cover the assigned seats by themselves.
    renewing = [f for f in remaining if f.is_nce and f.auto_renew]
    renews_with = {f.id: scheduled[f.id] or quantity[f.id] for f in renewing}
    final = dict(renews_with)
    excess_next = sum(renews_with.values()) - assigned
    for facts in reversed(renewing):
        if excess_next <= 0:
            break
        cut = min(excess_next, renews_with[facts.id] - 1)
        if cut > 0:
            final[facts.id] -= cut
            excess_next -= cut
            schedules.append(
                Action(
                    ActionKind.SCHEDULE_REDUCTION,
                    facts.id,
                    facts.offer_id,
                    renews_with[facts.id],
                    final[facts.id],
                    term_end(facts),
                    f"Renews with {seats(final[facts.id])} instead of {renews_with[facts.id]} "
                    f"on {format_day(facts.renewal_on)}: {assigned} are assigned, and the "
                    f"{seats(cut)} more cannot be returned before then.",
                    money.monthly_saving(facts.unit_price, cut),
                )
            )

    # What neither now nor renewal saves: excess held by subscriptions that do not renew.
    ending = [f for f in remaining if f.is_nce and not f.auto_renew]
    unsaved = sum(final.values()) + sum(quantity[f.id] for f in ending) - assigned
    for facts in reversed(ending):
        if unsaved <= 0:
            break
        held = min(unsaved, quantity[facts.id])
        unsaved -= held
        cannot.append(
            Action(
                ActionKind.CANNOT_SAVE,
                facts.id,
                facts.offer_id,
                quantity[facts.id],
                quantity[facts.id],
                term_end(facts),
                f"{seats(held)} more than needed cannot be saved before the term ends on "
                f"{format_day(facts.commitment_end)}: added more than 7 days ago, and "
                "auto-renew is off.",
            )
        )
    return increases + reductions + suspensions + schedules + cannot


# --- applying (for tests, previews and the emulator-free checks) ----------------------------


def _without_seats(
    tranches: tuple[Tranche, ...], count: int, now: datetime, *, only_open: bool
) -> tuple[Tranche, ...]:
    """Take `count` seats out of the (open) tranches, latest deadline first."""
    left = [t.quantity for t in tranches]
    candidates = [i for i, t in enumerate(tranches) if not only_open or t.allowed_until > now]
    for i in sorted(candidates, key=lambda i: tranches[i].allowed_until, reverse=True):
        take = min(count, left[i])
        left[i] -= take
        count -= take
    return tuple(Tranche(n, t.added_at) for n, t in zip(left, tranches, strict=True) if n)


def _unscheduled(facts: SubscriptionFacts) -> SubscriptionFacts:
    return dataclasses.replace(
        facts, has_scheduled_changes=False, scheduled_quantity=None, scheduled_other_changes=False
    )


def apply_plan(
    subscriptions: Iterable[SubscriptionFacts], plan: Plan, now: datetime
) -> list[SubscriptionFacts]:
    """The subscriptions as they would be once the plan's changes are applied (pure)."""
    by_id = {f.id: f for f in subscriptions}
    for action in plan.changes:
        facts = by_id[action.subscription_id]
        if action.kind is ActionKind.MERGE_INCREASE:
            added = Tranche(action.to_quantity - facts.quantity, now)
            facts = dataclasses.replace(
                _unscheduled(facts),
                quantity=action.to_quantity,
                tranches=(*facts.tranches, added),
            )
        elif action.kind is ActionKind.REDUCE_NOW:
            by = facts.quantity - action.to_quantity
            tranches = _without_seats(facts.tranches, by, now, only_open=facts.is_nce)
            facts = dataclasses.replace(
                _unscheduled(facts), quantity=action.to_quantity, tranches=tranches
            )
        elif action.kind is ActionKind.CANCEL:
            facts = dataclasses.replace(
                _unscheduled(facts), status=Status.DELETED, auto_renew=False
            )
        elif action.kind is ActionKind.SUSPEND:
            facts = dataclasses.replace(
                _unscheduled(facts), status=Status.SUSPENDED, auto_renew=False, cancel_at_end=True
            )
        else:
            facts = dataclasses.replace(
                facts, has_scheduled_changes=True, scheduled_quantity=action.to_quantity
            )
        by_id[facts.id] = dataclasses.replace(facts, update_count=facts.update_count + 1)
    return list(by_id.values())
