"""Upgrading a subscription (PRODUCT.md rule 9): what Partner Center offers, the request
through the outbox, and the job that carries it out.

The upgrade page reads the subscription's transition eligibilities from Partner Center
(`options`) and keeps what it offered; `request_upgrade` accepts only one of those (a
crafted form naming anything else is refused before any Partner Center request), checks it
with the domain rules, and writes an outbox row of kind "upgrade" with its audit event. The
job (`apply_upgrade`, dispatched by provisioning) checks the eligibility again, marks the
change sent, and posts the transition with the change's own request id: run again, it sends
the same id, which Partner Center answers with the first outcome (one transition).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain import upgrades as rules
from app.domain.nce import seats
from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, Subscription, User
from app.models._types import utcnow
from app.services import licensing, outbox, sync
from app.services.microsoft import factory
from app.services.microsoft.http import MicrosoftError
from app.services.microsoft.partner_center import (
    Eligibility,
    PartnerCenterClient,
    offer_key,
    transition_status,
)
from app.services.orders import reseller_refusal

KIND = "upgrade"
KINDS = (KIND, "convert_trial", "schedule_conversion")  # the transitions a job carries out
TRANSITION_TYPE = "transition_with_license_transfer"  # licences follow the seats


class UpgradeRefused(Exception):
    """The upgrade cannot be accepted; the message says why in words a person understands."""


@dataclass(frozen=True)
class Target:
    """An existing subscription of the upgraded product that could receive the seats."""

    subscription_id: str
    name: str


@dataclass(frozen=True)
class Choice:
    """One product a subscription can move up to (or could, but not now: `reasons`)."""

    catalog_item_id: str
    offer_id: str
    title: str
    eligible: bool
    reasons: tuple[str, ...] = ()
    targets: tuple[Target, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """What the page keeps of an offered upgrade (in the signed session)."""
        return {
            "catalog_item_id": self.catalog_item_id,
            "offer_id": self.offer_id,
            "title": self.title,
            "targets": [[t.subscription_id, t.name] for t in self.targets],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Choice:
        """An offered upgrade kept by the page."""
        return cls(
            catalog_item_id=str(data["catalog_item_id"]),
            offer_id=str(data["offer_id"]),
            title=str(data["title"]),
            eligible=True,
            targets=tuple(Target(str(i), str(n)) for i, n in data.get("targets", [])),
        )


@dataclass(frozen=True)
class Options:
    """What the upgrade page shows for one subscription."""

    sub: Subscription
    choices: tuple[Choice, ...]  # possible now
    not_now: tuple[Choice, ...]  # offered by Microsoft, but not possible now (reasons)
    unsupported: tuple[str, ...]  # expected paths Microsoft does not support, explained
    refusal: str | None = None  # why nothing can be upgraded at all


WARNINGS = (
    "An upgrade cannot be undone: the seats cannot be moved back to the current product.",
    "There is no cancellation window after an upgrade: the upgraded seats cannot be "
    "returned for a refund.",
)
PARTIAL_WARNING = (
    "Upgrading only some seats creates a new subscription (or adds to the one chosen): "
    "reassign the licences of the people who should have the upgraded product."
)


def _refusal_before_asking(customer: Customer, sub: Subscription) -> str | None:
    if sub.is_trial:
        return "A trial is converted to a paid subscription, not upgraded."
    if sub.status != "active":
        return f"Only active subscriptions can be upgraded; this one is {sub.status}."
    return reseller_refusal(customer)


def options(
    customer: Customer, sub: Subscription, *, pc: PartnerCenterClient | None = None
) -> Options:
    """The upgrades Partner Center offers the subscription now, and why others are missing."""
    unsupported = tuple(rules.unsupported_explanations(sub.offer_id))
    refusal = _refusal_before_asking(customer, sub)
    if refusal is not None:
        return Options(sub, (), (), unsupported, refusal)
    client = pc or factory.partner_center()
    try:
        found = client.transition_eligibilities(customer.pc_id, sub.pc_id)
    finally:
        if pc is None:
            client.close()
    choices = [_choice(e) for e in found]
    return Options(
        sub,
        tuple(c for c in choices if c.eligible),
        tuple(c for c in choices if not c.eligible),
        unsupported,
    )


def _choice(found: Eligibility) -> Choice:
    return Choice(
        catalog_item_id=found.catalog_item_id,
        offer_id=offer_key(found.catalog_item_id),
        title=found.title or found.catalog_item_id,
        eligible=found.eligible,
        reasons=tuple(dict.fromkeys(e for e in found.errors if e)),
        targets=tuple(
            Target(t.subscription_id, t.friendly_name or t.subscription_id)
            for t in found.target_subscriptions
            if t.eligible
        ),
    )


def request_upgrade(
    user: User,
    role: Role,
    customer: Customer,
    subscription_pc_id: str,
    offered: Sequence[Choice],
    *,
    to_catalog_item_id: str,
    quantity: int,
    to_subscription_id: str | None,
    idempotency_key: str,
    now: datetime | None = None,
) -> ChangeRequest:
    """Accept an upgrade the page offered for the worker, or refuse it with the reason
    (nothing is written but the audit of the refusal). No Partner Center request here."""
    now = now or utcnow()
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    sub = licensing.subscription_of(customer, subscription_pc_id)
    params: dict[str, Any] = {
        "to_catalog_item_id": to_catalog_item_id,
        "quantity": quantity,
        "to_subscription_id": to_subscription_id,
    }
    try:
        choice = _check(role, customer, sub, offered, params, now)
    except UpgradeRefused as refused:
        outbox.refuse(
            event=f"change.{KIND}",
            actor=user,
            customer=customer,
            object_type="subscription",
            object_id=sub.pc_id,
            params=params,
            reason=str(refused),
        )
        raise
    params |= {
        "to_offer_id": choice.offer_id,
        "title": choice.title,
        "from_title": sub.offer_name,
        "partial": quantity < sub.quantity or to_subscription_id is not None,
    }
    try:
        return outbox.create(
            customer=customer,
            sub=sub,
            actor=user,
            kind=KIND,
            params=params,
            key=idempotency_key,
            summary=summary(params),
            audit_event={
                "kind": f"change.{KIND}",
                "object_type": "subscription",
                "object_id": sub.pc_id,
                "before": {"offer": sub.offer_name, "quantity": sub.quantity},
                "after": params,
                "outcome": "requested",
            },
        )
    except outbox.ChangeBusy as busy:
        raise UpgradeRefused(str(busy)) from None


def summary(params: Mapping[str, Any]) -> str:
    """'Upgrade 3 seats of Microsoft 365 Business Standard to Microsoft 365 Business Premium'."""
    return (
        f"Upgrade {seats(int(params['quantity']))} of {params.get('from_title', '')} to "
        f"{params['title']}"
    )


def _check(
    role: Role,
    customer: Customer,
    sub: Subscription,
    offered: Sequence[Choice],
    params: Mapping[str, Any],
    now: datetime,
) -> Choice:
    if role < Role.ADMIN:
        raise UpgradeRefused(f"Your role ({role.label}) cannot upgrade subscriptions; Admin can.")
    early = _refusal_before_asking(customer, sub)
    if early is not None:
        raise UpgradeRefused(early)
    if outbox.open_change(sub) is not None:
        raise UpgradeRefused(str(outbox.ChangeBusy()))
    to_item = str(params["to_catalog_item_id"])
    choice = next((c for c in offered if c.catalog_item_id == to_item), None)
    table = rules.offered_table(sub.offer_id, {c.offer_id: c.title for c in offered})
    facts = licensing.facts_of(sub)
    if choice is None:
        path = rules.check_upgrade(facts, offer_key(to_item), 1, now, table)
        reason = path.reason if not path.allowed else ""
        raise UpgradeRefused(
            f"{sub.offer_name} cannot be upgraded to that product: Partner Center does not "
            f"offer it for this subscription. {reason}".strip()
        )
    target_id = params.get("to_subscription_id")
    target = None
    if target_id:
        if target_id not in {t.subscription_id for t in choice.targets}:
            raise UpgradeRefused(
                f"The seats can only move into a new subscription or one of the {choice.title} "
                "subscriptions listed."
            )
        target = licensing.facts_of(licensing.subscription_of(customer, str(target_id)))
    decision = rules.check_upgrade(
        facts, choice.offer_id, int(params["quantity"]), now, table, target=target
    )
    if not decision.allowed:
        raise UpgradeRefused(decision.reason)
    return choice


def apply(change_id: int, *, pc: PartnerCenterClient | None = None) -> ChangeRequest:
    """The job's entry for the kinds above: an upgrade, or a trial's conversion."""
    from app.services import trials  # trials needs nothing from here; kept one way

    change = db.session.get(ChangeRequest, change_id)
    if change is not None and change.kind in trials.KINDS:
        return trials.apply_trial_change(change_id, pc=pc)
    return apply_upgrade(change_id, pc=pc)


def apply_upgrade(change_id: int, *, pc: PartnerCenterClient | None = None) -> ChangeRequest:
    """Carry an accepted upgrade out at Partner Center and record the outcome (safe to
    repeat: a change marked sent is posted again with the same request id)."""
    change, started = outbox.start(change_id)
    if not started:
        return change
    sub = change.subscription
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    params = dict(change.params)
    client = pc or factory.partner_center()
    moved_to: str | None = None
    try:
        with outbox.settles(change, (UpgradeRefused,), _microsoft_text):
            refusal = reseller_refusal(customer)
            if refusal is not None:
                raise UpgradeRefused(refusal)
            if not outbox.was_sent(change):
                _still_eligible(client, customer, sub, params)
            outbox.mark_sent(change)
            db.session.commit()  # written down before the call that changes Partner Center
            result = client.transition(
                customer.pc_id,
                sub.pc_id,
                to_catalog_item_id=str(params["to_catalog_item_id"]),
                quantity=int(params["quantity"]),
                request_id=change.request_id,
                transition_type=TRANSITION_TYPE,
                to_subscription_id=params.get("to_subscription_id") or None,
            )
            if transition_status(result) == "Failed":
                raise UpgradeRefused(
                    "Microsoft reports that the upgrade failed; nothing was changed."
                )
            moved_to = str(result.get("toSubscriptionId") or "") or None
            sync.sync_customer(customer.pc_id, pc=client, with_users=False)
            change = db.session.get(ChangeRequest, change_id) or change
            outbox.finish(change, "done", _done_text(params, moved_to, sub.pc_id))
    finally:
        if pc is None:
            client.close()
    return outbox.record_outcome(
        change,
        event=f"change.{KIND}",
        object_type="subscription",
        object_id=sub.pc_id,
        after={**params, "to_subscription": moved_to},
    )


def _still_eligible(
    client: PartnerCenterClient, customer: Customer, sub: Subscription, params: Mapping[str, Any]
) -> None:
    """Partner Center's eligibilities again, just before the transition."""
    wanted = str(params["to_catalog_item_id"])
    found = next(
        (
            e
            for e in client.transition_eligibilities(customer.pc_id, sub.pc_id)
            if e.catalog_item_id == wanted
        ),
        None,
    )
    if found is None:
        raise UpgradeRefused(
            f"Partner Center no longer offers this upgrade to {params.get('title', wanted)}; "
            "nothing was changed."
        )
    if not found.eligible:
        reasons = " ".join(dict.fromkeys(e for e in found.errors if e))
        raise UpgradeRefused(
            f"Partner Center does not allow this upgrade now: {reasons} Nothing was changed."
        )
    target = params.get("to_subscription_id")
    if target and not any(
        t.subscription_id == target and t.eligible for t in found.target_subscriptions
    ):
        raise UpgradeRefused(
            "The chosen subscription can no longer receive the seats; nothing was changed."
        )


def _done_text(params: Mapping[str, Any], moved_to: str | None, source: str) -> str:
    count = seats(int(params["quantity"]))
    if not params.get("partial"):
        return f"Done: all {count} are now {params['title']} (same subscription)."
    where = f"subscription {moved_to}" if moved_to and moved_to != source else "a new subscription"
    return (
        f"Done: {count} moved to {params['title']} in {where}. Reassign the licences of the "
        "people who should have it."
    )


def _microsoft_text(error: MicrosoftError, sent: bool) -> str:
    if sent:
        return (
            f"Microsoft did not answer clearly ({error}); the upgrade may or may not have been "
            "made. Retry sends the same request again; Microsoft carries it out at most once."
        )
    if error.status == 429:
        return "Microsoft is busy (too many requests); nothing was changed. Try again shortly."
    return f"Microsoft refused the upgrade: {error}. Nothing was changed."
