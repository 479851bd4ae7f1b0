"""Upgrades (PRODUCT.md rule 9): only up, full or partial, some paths unsupported.

Offer identities stay with the caller, which passes an `UpgradeTable`: a rank per offer
(higher is more), optionally the exact targets of each offer (a catalogue's
upgradeTargetOffers, or Partner Center's transitionEligibilities), and the paths Microsoft
does not support although one would expect them (EMS E3 → EMS E5, Windows Enterprise E3 →
Microsoft 365 E5, Defender for Endpoint P1 → P2).
Source: transition-a-new-commerce-subscription (eligibility errors: 1 not active, 2 in
cancellation window, 3 shorter term, 4 earlier end date), create-scheduled-changes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from app.domain.decision import Code, Decision, Verdict, refuse
from app.domain.nce import (
    TERM_MONTHS,
    Status,
    SubscriptionFacts,
    cancellation_deadline,
    format_day,
    format_when,
    schedule_refusal,
    scheduled_changes_warnings,
    seats,
    status_refusal,
    update_cap_warnings,
    update_refusal,
)


@dataclass(frozen=True)
class UpgradeTable:
    """Which offers upgrade to which: ranks, optional explicit paths, unsupported pairs.

    `names`: display names for the reasons (the offer id is shown otherwise).
    """

    rank: Mapping[str, int]
    paths: Mapping[str, Collection[str]] | None = None
    unsupported: Collection[tuple[str, str]] = frozenset()
    names: Mapping[str, str] = field(default_factory=dict)

    def name(self, offer_id: str) -> str:
        """The display name of an offer."""
        return self.names.get(offer_id, offer_id)


def upgrade_targets(table: UpgradeTable, offer_id: str) -> list[str]:
    """The offers `offer_id` can be upgraded to, lowest rank first."""
    if offer_id not in table.rank:
        return []
    return sorted(
        (to for to in table.rank if _path_refusal(table, offer_id, to) is None),
        key=lambda to: (table.rank[to], to),
    )


def _path_refusal(table: UpgradeTable, from_offer: str, to_offer: str) -> Decision | None:
    if from_offer not in table.rank or to_offer not in table.rank:
        return refuse(Code.UNKNOWN_OFFER, "There is no upgrade information for this product.")
    source, target = table.name(from_offer), table.name(to_offer)
    if from_offer == to_offer:
        return refuse(Code.NO_CHANGE, f"No change: the subscription is already {source}.")
    if table.rank[to_offer] <= table.rank[from_offer]:
        return refuse(Code.NOT_AN_UPGRADE, f"Upgrades only go up: {target} is not above {source}.")
    if (from_offer, to_offer) in table.unsupported:
        return refuse(
            Code.UNSUPPORTED_PATH,
            f"Microsoft does not support upgrading {source} to {target}: buy {target} as a new "
            f"subscription and reduce {source} at renewal.",
        )
    if table.paths is not None and to_offer not in table.paths.get(from_offer, ()):
        return refuse(Code.UNSUPPORTED_PATH, f"{source} cannot be upgraded to {target}.")
    return None


def check_upgrade(
    facts: SubscriptionFacts,
    to_offer: str,
    quantity: int,
    now: datetime,
    table: UpgradeTable,
    *,
    target: SubscriptionFacts | None = None,
    to_term: str | None = None,
    at_renewal: bool = False,
) -> Decision:
    """May `quantity` seats of the subscription move up to `to_offer`, now or at renewal?

    Now: all seats (full: same subscription id) or some (partial: into a new co-terminous
    subscription, or into `target`, an active subscription of `to_offer` that does not end
    earlier); only active, non-trial subscriptions, after the NCE cancellation window; never
    to a shorter term. At renewal: a scheduled change (needs auto-renew on) that renews the
    subscription as `to_offer` with `quantity` seats.
    """
    if facts.is_trial:
        return refuse(Code.TRIAL, "A trial is converted to a paid subscription, not upgraded.")
    early = status_refusal(facts) or update_refusal(facts, now)
    if early is not None:
        if early.code is Code.NOT_ACTIVE:
            return refuse(
                Code.NOT_ACTIVE, f"Only active subscriptions can be upgraded. {early.reason}"
            )
        return early
    path = _path_refusal(table, facts.offer_id, to_offer)
    if path is not None:
        return path
    if to_term is not None and TERM_MONTHS.get(to_term, 0) < TERM_MONTHS[facts.term_duration]:
        return refuse(
            Code.NOT_AN_UPGRADE,
            f"The new term ({to_term}) cannot be shorter than the current one "
            f"({facts.term_duration}).",
        )
    if quantity < 1:
        return refuse(Code.BELOW_MINIMUM, "An upgrade moves at least 1 seat.")
    name = table.name(to_offer)
    if at_renewal:
        return _check_upgrade_at_renewal(facts, name, quantity, now)
    return _check_upgrade_now(facts, to_offer, name, quantity, now, target)


def _check_upgrade_at_renewal(
    facts: SubscriptionFacts, name: str, quantity: int, now: datetime
) -> Decision:
    refusal = schedule_refusal(facts, now)
    if refusal is not None:
        return refusal
    if quantity < facts.assigned:
        return refuse(
            Code.BELOW_ASSIGNED,
            f"{facts.assigned} people use this license: renew with at least "
            f"{seats(facts.assigned)}, or unassign people first.",
        )
    warnings = update_cap_warnings(facts)
    if facts.has_scheduled_changes:
        warnings.insert(0, "This replaces the changes already scheduled for renewal.")
    return Decision(
        Verdict.ALLOWED,
        f"The subscription will renew as {name} with {seats(quantity)} on "
        f"{format_day(facts.renewal_on)}.",
        warnings=tuple(warnings),
        renewal_on=facts.renewal_on,
    )


def _check_upgrade_now(
    facts: SubscriptionFacts,
    to_offer: str,
    name: str,
    quantity: int,
    now: datetime,
    target: SubscriptionFacts | None,
) -> Decision:
    if quantity > facts.quantity:
        return refuse(
            Code.BELOW_MINIMUM,
            f"The subscription has {seats(facts.quantity)}: an upgrade moves at most that many.",
        )
    if facts.is_nce and now < cancellation_deadline(facts):
        return Decision(
            Verdict.REFUSED,
            "The subscription is in its 7-day cancellation window; it can be upgraded from "
            f"{format_when(cancellation_deadline(facts))}, or the upgrade can be scheduled "
            "for renewal.",
            Code.OUTSIDE_WINDOW,
            deadline=cancellation_deadline(facts),
        )
    if target is not None:
        if target.offer_id != to_offer or target.status is not Status.ACTIVE or target.is_trial:
            return refuse(
                Code.TARGET_NOT_USABLE,
                f"The seats can only move into an active {name} subscription.",
            )
        if target.commitment_end < facts.commitment_end:
            return refuse(
                Code.TARGET_ENDS_EARLIER,
                f"That subscription ends on {format_day(target.commitment_end)}, before this one "
                f"({format_day(facts.commitment_end)}): choose one that ends later or a new one.",
            )
    warnings = [
        "An upgrade cannot be undone: there is no cancellation window after it.",
        *scheduled_changes_warnings(facts),
        *update_cap_warnings(facts),
    ]
    if target is not None:
        reason = f"{seats(quantity)} move to {name} in subscription {target.id}."
    elif quantity == facts.quantity:
        reason = f"All {seats(quantity)} move to {name}; the subscription keeps its id."
    else:
        reason = (
            f"{seats(quantity)} move to {name} in a new subscription ending with this one on "
            f"{format_day(facts.commitment_end)}; {seats(facts.quantity - quantity)} stay."
        )
    return Decision(Verdict.ALLOWED, reason, warnings=tuple(warnings))


# Upward moves Microsoft does not support although one would expect them (PRODUCT.md rule 9):
# from offer -> (to offer, from name, to name). Partner Center does not list them among a
# subscription's transition eligibilities; the upgrade page explains why they are missing.
# Offer ids as in docs/partner-center.md ("Catalogue identity"; some SKUs unverified).
KNOWN_UNSUPPORTED: Mapping[str, tuple[tuple[str, str, str], ...]] = {
    "CFQ7TTC0LHT4:0001": (
        (
            "CFQ7TTC0LFJ1:0001",
            "Enterprise Mobility + Security E3",
            "Enterprise Mobility + Security E5",
        ),
    ),
    "CFQ7TTC0LGTX:0004": (("CFQ7TTC0LFLZ:0001", "Windows Enterprise E3", "Microsoft 365 E5"),),
    "CFQ7TTC0J1GB:0001": (
        (
            "CFQ7TTC0LGV0:0001",
            "Microsoft Defender for Endpoint P1",
            "Microsoft Defender for Endpoint P2",
        ),
    ),
}


def unsupported_explanations(offer_id: str) -> list[str]:
    """Why the upgrades one would expect from `offer_id` are not offered (none for most)."""
    explained = []
    for to_offer, source, target in KNOWN_UNSUPPORTED.get(offer_id, ()):
        table = UpgradeTable(
            rank={offer_id: 0, to_offer: 1},
            unsupported={(offer_id, to_offer)},
            names={offer_id: source, to_offer: target},
        )
        refusal = _path_refusal(table, offer_id, to_offer)
        if refusal is not None:
            explained.append(refusal.reason)
    return explained


def offered_table(offer_id: str, targets: Mapping[str, str]) -> UpgradeTable:
    """The upgrade table of one subscription from what Partner Center offers it: the
    targets (offer id -> name) are the only paths, each one step up."""
    return UpgradeTable(
        rank={offer_id: 0, **{to: 1 for to in targets}},
        paths={offer_id: tuple(targets)},
        unsupported={
            (offer_id, to) for to, _source, _target in KNOWN_UNSUPPORTED.get(offer_id, ())
        },
        names=dict(targets),
    )
