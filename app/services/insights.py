"""Licence insights of a customer: refresh the activity data from Graph (a job), show the
insights with their savings (app.domain.insights), and release licences through the outbox.

Refresh (`refresh`, run by jobs.insights.refresh): subscribedSkus (part numbers), the users
with signInActivity (Entra ID P1/P2; without it the users' account state only, and the page
says the insights rest on the usage reports), then three usage reports. For 5,000 people:
1 + 42 + 3 Graph requests (bench/insights.py), within Graph's limits (docs/insights.md).

Release (`request_release`): one ChangeRequest per product (one open change per subscription
is the outbox's rule), listing the people; the job removes the licence person by person
through Graph's assignLicense, writing down who is done so a retry never repeats one.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.domain import insights as rules
from app.domain import nce
from app.domain.roles import Role
from app.extensions import db
from app.models import (
    ChangeRequest,
    Customer,
    DirectoryUser,
    InsightSettings,
    Subscription,
    User,
    UserActivity,
    UserLicense,
)
from app.models._types import utcnow
from app.services import access, audit, licensing, outbox, resellers, sync
from app.services.microsoft import factory
from app.services.microsoft.graph import GraphClient, PremiumMissing
from app.services.microsoft.http import MicrosoftError, Refused
from app.services.people_view import Product, products

KIND = "release"
REFRESH_JOB = "jobs.insights.refresh"
RECENT = timedelta(minutes=30)  # finished releases shown on the page this long
NO_PREMIUM_NOTE = (
    "This tenant has no Microsoft Entra ID P1 or P2, so Microsoft Graph gives no sign-in "
    "times: inactivity is judged on the Microsoft 365 usage reports only (Exchange, "
    "OneDrive, SharePoint, Teams, Office apps and Copilot)."
)
SIGN_IN_NOTE = "Last sign-in (Entra ID) and the Microsoft 365 usage reports."
CONCEALED_NOTE = (
    " The usage reports of this tenant hide user names, so none of their rows could be "
    "matched to a person: idle add-ons and activity per workload are not judged. Turn off "
    "“Display concealed user, group, and site names in all reports” (Microsoft 365 admin "
    "center → Settings → Org settings → Reports) and refresh."
)


class InsightRefused(Exception):
    """A release or setting that cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh read: people matched, where inactivity comes from, Graph requests."""

    people: int
    source: str
    requests: int


@dataclass(frozen=True)
class InsightsPage:
    """What the insights page shows."""

    customer: Customer
    settings: InsightSettings
    overview: rules.Overview
    pending: dict[tuple[int, str], ChangeRequest]  # (person, sku) -> open release
    recent: list[ChangeRequest]  # releases asked lately (open first)
    currency: str

    @property
    def busy(self) -> bool:
        """A release is being applied: the page polls."""
        return any(c.is_open for c in self.recent) or self.settings.refresh_state in (
            "queued",
            "running",
        )


# --- settings ---------------------------------------------------------------------------


def settings_of(customer: Customer) -> InsightSettings:
    """The customer's insight settings (created with the defaults on first use)."""
    found = db.session.scalar(
        select(InsightSettings).where(InsightSettings.customer_id == customer.id)
    )
    if found is None:
        found = InsightSettings(
            customer_id=customer.id,
            inactive_days=rules.DEFAULT_INACTIVE_DAYS,
            excluded_skus=[],
            excluded_people=[],
            sku_parts={},
            source="",
            refresh_state="never",
        )
        db.session.add(found)
        db.session.flush()
    return found


def change_settings(
    actor: User,
    role: Role,
    customer: Customer,
    *,
    inactive_days: int,
    excluded_skus: list[str],
    excluded_people: list[str],
) -> InsightSettings:
    """Set the inactivity threshold and the exclusions (audited)."""
    if role < Role.ADMIN:
        raise InsightRefused(f"Your role ({role.label}) cannot change insight settings.")
    try:
        days = rules.validate_inactive_days(inactive_days)
    except ValueError as refused:
        raise InsightRefused(str(refused)) from None
    known = {p.sku_id for p in products(customer)}
    unknown = [s for s in excluded_skus if s not in known]
    if unknown:
        raise InsightRefused("That product is not one the company has.")
    people = sorted({p.strip().lower() for p in excluded_people if p.strip()})
    for upn in people:
        if "@" not in upn or len(upn) > 320:
            raise InsightRefused(f"“{upn}” is not a sign-in name like ann@example.com.")
    settings = settings_of(customer)
    before = {
        "inactive_days": settings.inactive_days,
        "excluded_skus": list(settings.excluded_skus),
        "excluded_people": list(settings.excluded_people),
    }
    settings.inactive_days = days
    settings.excluded_skus = sorted(set(excluded_skus))
    settings.excluded_people = people
    audit.record(
        "insights.settings",
        actor=actor,
        customer_id=customer.id,
        object_type="customer",
        object_id=customer.pc_id,
        before=before,
        after={
            "inactive_days": days,
            "excluded_skus": settings.excluded_skus,
            "excluded_people": people,
        },
        message="Insight settings changed",
    )
    db.session.commit()
    return settings


# --- refresh ----------------------------------------------------------------------------


def request_refresh(customer: Customer) -> InsightSettings:
    """Hand a refresh of the customer's activity data to a worker (one at a time)."""
    from app.queue import enqueue

    settings = settings_of(customer)
    if settings.refresh_state == "queued":
        db.session.commit()
        return settings
    settings.refresh_state, settings.refresh_message = "queued", None
    db.session.commit()
    try:
        enqueue(REFRESH_JOB, customer.id, job_id=f"insights-{customer.id}-{uuid.uuid4().hex[:8]}")
    except Exception:  # Redis unreachable: say so rather than stay "queued" forever
        current_app.logger.exception("could not enqueue the insights refresh of %s", customer.id)
        settings.refresh_state = "failed"
        settings.refresh_message = "The job queue cannot be reached just now; try again later."
        db.session.commit()
    return settings


def refresh_busy(customer_id: int) -> None:
    """The customer stayed busy (a sync or a change): the refresh did not run."""
    customer = db.session.get(Customer, customer_id)
    if customer is not None:
        settings = settings_of(customer)
        settings.refresh_state = "failed"
        settings.refresh_message = "The company was busy with another job; try again."
        db.session.commit()


def refresh(customer_id: int, *, graph: GraphClient | None = None) -> RefreshReport:
    """Read sign-ins, account states and usage reports from Graph and store them."""
    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(customer_id)
    settings = settings_of(customer)
    settings.refresh_state = "running"
    db.session.commit()
    client = graph or factory.graph(customer.tenant_id)
    try:
        parts = {s.sku_id: s.part_number for s in client.subscribed_skus()}
        try:
            users = list(client.sign_ins())
            source, note = "sign_in", SIGN_IN_NOTE
        except PremiumMissing:
            users = list(client.sign_ins(with_activity=False))
            source, note = "reports", NO_PREMIUM_NOTE
        activity = {a.upn: a.last for a in client.workload_activity()}
        requests = client.caller.calls
        names = {u.upn.lower() for u in users}
        concealed = bool(activity) and not names & activity.keys()
        if concealed:
            note += CONCEALED_NOTE
            activity = {}
    except MicrosoftError as error:
        db.session.rollback()
        settings = settings_of(customer)
        settings.refresh_state = "failed"
        settings.refresh_message = f"Microsoft Graph answered: {error}. Try again later."
        db.session.commit()
        raise
    finally:
        if graph is None:
            client.close()
    people = {
        u.graph_id: u
        for u in db.session.scalars(
            select(DirectoryUser).where(DirectoryUser.customer_id == customer.id)
        )
    }
    kept = {
        a.directory_user_id: a
        for a in db.session.scalars(
            select(UserActivity).where(UserActivity.customer_id == customer.id)
        )
    }
    matched = 0
    now = utcnow()
    for user in users:
        person = people.get(user.id)
        if person is None:  # not imported yet: the next sync brings them
            continue
        matched += 1
        person.enabled = user.enabled
        person.disabled_since = rules.seen_disabled_since(person.disabled_since, user.enabled, now)
        row = kept.get(person.id)
        if row is None:
            row = UserActivity(directory_user_id=person.id, customer_id=customer.id)
            db.session.add(row)
        row.last_sign_in = user.last_sign_in if source == "sign_in" else None
        last = activity.get(user.upn.lower(), {})
        for workload in rules.WORKLOADS:
            setattr(row, workload, last.get(workload))
    settings.sku_parts = parts
    settings.source = f"{source}-concealed" if concealed else source
    settings.source_note = note
    settings.refresh_state, settings.refresh_message = "done", None
    settings.refreshed_at = utcnow()
    db.session.commit()
    return RefreshReport(matched, source, requests)


# --- read-model -------------------------------------------------------------------------


def _catalogue(customer: Customer, settings: InsightSettings) -> tuple[list[rules.Product], str]:
    """The products with a seat price (from the subscription seats are bought on)."""
    found = []
    currency = "USD"
    for product in products(customer):
        target = product.target
        if target is None:
            continue
        currency = target.currency or currency
        found.append(
            rules.Product(
                sku_id=product.sku_id,
                name=product.name,
                part_number=str(settings.sku_parts.get(product.sku_id, "")),
                seat_price=Decimal(target.unit_price or 0),
                currency=target.currency or "USD",
            )
        )
    return found, currency


def people_of(customer: Customer) -> list[rules.Person]:
    """Every person of the company with their licences and activity (three queries)."""
    rows = db.session.execute(
        select(
            DirectoryUser.id,
            DirectoryUser.name,
            DirectoryUser.upn,
            DirectoryUser.enabled,
            DirectoryUser.disabled_since,
        )
        .where(DirectoryUser.customer_id == customer.id)
        .order_by(DirectoryUser.id)
    ).all()
    held: dict[int, list[str]] = defaultdict(list)
    for user_id, sku in db.session.execute(
        select(UserLicense.directory_user_id, UserLicense.sku_id)
        .join(DirectoryUser, DirectoryUser.id == UserLicense.directory_user_id)
        .where(DirectoryUser.customer_id == customer.id)
        .order_by(UserLicense.id)
    ):
        held[user_id].append(sku)
    activity = {
        a.directory_user_id: a
        for a in db.session.scalars(
            select(UserActivity).where(UserActivity.customer_id == customer.id)
        )
    }
    people = []
    for user_id, name, upn, enabled, disabled_since in rows:
        row = activity.get(user_id)
        last = {}
        if row is not None:
            last = {w: getattr(row, w) for w in rules.WORKLOADS if getattr(row, w) is not None}
        people.append(
            rules.Person(
                id=user_id,
                name=name or upn,
                upn=upn,
                enabled=enabled,
                sku_ids=tuple(held.get(user_id, ())),
                last_sign_in=row.last_sign_in if row is not None else None,
                activity=last,
                disabled_since=disabled_since,
            )
        )
    return people


def overview(customer: Customer, now: datetime | None = None) -> rules.Overview:
    """The customer's insights as of the last refresh (nothing before a first refresh)."""
    settings = settings_of(customer)
    if settings.refreshed_at is None:
        return rules.Overview(tuple(rules.Insight(kind, ()) for kind in rules.Kind))
    catalogue, _currency = _catalogue(customer, settings)
    return rules.find(
        people_of(customer),
        catalogue,
        rules.Rules(
            inactive_days=settings.inactive_days,
            excluded_skus=frozenset(settings.excluded_skus),
            excluded_people=frozenset(settings.excluded_people),
            with_sign_in=settings.source.startswith("sign_in"),
            reports_known=not settings.source.endswith("concealed"),
        ),
        now or utcnow(),
    )


def page(customer: Customer, now: datetime | None = None) -> InsightsPage:
    """The insights page: settings, insights, releases in flight and just finished."""
    now = now or utcnow()
    settings = settings_of(customer)
    found = overview(customer, now)
    _products, currency = _catalogue(customer, settings)
    recent = list(
        db.session.scalars(
            select(ChangeRequest)
            .where(
                ChangeRequest.customer_id == customer.id,
                ChangeRequest.kind == KIND,
                ChangeRequest.created_at >= now - RECENT,
            )
            .order_by(ChangeRequest.id.desc())
            .limit(20)
        )
    )
    recent.sort(key=lambda c: (not c.is_open, -c.id))
    pending = {
        (int(p["directory_user_id"]), str(c.params["sku_id"])): c
        for c in recent
        if c.is_open
        for p in c.params.get("people", [])
    }
    db.session.commit()  # the settings row, when created just now
    return InsightsPage(customer, settings, found, pending, recent, currency)


@dataclass(frozen=True)
class Ranked:
    """One customer of the partner-wide view."""

    customer: Customer
    overview: rules.Overview
    refreshed_at: datetime | None


def ranking(user: User, now: datetime | None = None) -> tuple[list[Ranked], Decimal]:
    """The customers this staff member manages, most waste first, and the sum."""
    now = now or utcnow()
    ranked = []
    for customer in access.companies(user):
        settings = settings_of(customer)
        ranked.append(Ranked(customer, overview(customer, now), settings.refreshed_at))
    db.session.commit()
    ranked.sort(key=lambda r: (-r.overview.saving, r.customer.name))
    return ranked, sum((r.overview.saving for r in ranked), Decimal(0))


# --- release (unassign) through the outbox ----------------------------------------------


def request_release(
    actor: User,
    role: Role,
    customer: Customer,
    items: list[tuple[int, str]],
    *,
    idempotency_key: str,
) -> list[ChangeRequest]:
    """Remove licences from people (one click for one, or a selection): one change per
    product, each with its people, through the outbox (audited, applied by a job)."""
    resellers.require_active(customer, InsightRefused)
    if role < Role.ADMIN:
        raise InsightRefused(f"Your role ({role.label}) cannot unassign licences; Admin can.")
    if not items:
        raise InsightRefused("Choose at least one licence to unassign.")
    return _request(actor, customer, items, idempotency_key=idempotency_key, enqueue_now=True)


def _request(
    actor: User | str,
    customer: Customer,
    items: list[tuple[int, str]],
    *,
    idempotency_key: str,
    enqueue_now: bool,
) -> list[ChangeRequest]:
    """The release changes of these (person, product) pairs, all or nothing (audited)."""
    by_sku: dict[str, list[int]] = defaultdict(list)
    for person_id, sku in dict.fromkeys(items):
        by_sku[sku].append(person_id)
    catalogue = {p.sku_id: p for p in products(customer)}
    planned: list[tuple[Product, list[DirectoryUser], str]] = []
    for index, (sku, person_ids) in enumerate(sorted(by_sku.items())):
        key = f"{idempotency_key[:48]}-{index}"
        product = catalogue.get(sku)
        if product is None or product.target is None:
            raise InsightRefused("That product is not one the company has.")
        people = []
        for person_id in person_ids:
            person = db.session.get(DirectoryUser, person_id)
            if person is None or person.customer_id != customer.id:
                raise InsightRefused("That person is not in the company's directory.")
            if sku not in {lic.sku_id for lic in person.licenses}:
                raise InsightRefused(f"{person.name} does not have {product.name} any more.")
            people.append(person)
        planned.append((product, people, key))
    done = [c for c in (outbox.find(key, customer) for _p, _u, key in planned) if c is not None]
    if done:
        return done
    for product, _people, _key in planned:  # all or nothing: check every product first
        assert product.target is not None
        if outbox.open_change(product.target) is not None:
            raise InsightRefused(
                f"Another change of {product.name} is being applied; wait for it and try again."
            )
    changes = []
    for product, people, key in planned:
        assert product.target is not None
        names = ", ".join(p.name for p in people)
        params: dict[str, Any] = {
            "sku_id": product.sku_id,
            "product": product.name,
            "people": [
                {"directory_user_id": p.id, "graph_user_id": p.graph_id, "user_name": p.name}
                for p in people
            ],
            "done": [],
        }
        try:
            changes.append(
                outbox.create(
                    customer=customer,
                    sub=product.target,
                    actor=actor,
                    kind=KIND,
                    params=params,
                    key=key,
                    enqueue_now=enqueue_now,
                    summary=f"Unassign {product.name} from {names}",
                    audit_event={
                        "kind": "license.release",
                        "object_type": "subscription",
                        "object_id": product.target.pc_id,
                        "after": {"sku": product.sku_id, "people": [p.id for p in people]},
                        "outcome": "requested",
                    },
                )
            )
        except outbox.ChangeBusy:
            raise InsightRefused(
                f"Another change of {product.name} is being applied; wait for it."
            ) from None
    return changes


def disabled_to_unassign(customer: Customer, now: datetime) -> list[rules.Unassignment]:
    """The licences the reconciliation unassigns: of people seen disabled for more than the
    customer's `unassign_disabled_after_days` (0: off, nothing), only products bought through
    CSP for this customer, never a person or product excluded in the insight settings."""
    days = customer.unassign_disabled_after_days or 0
    if days <= 0:
        return []
    settings = settings_of(customer)
    return rules.disabled_to_unassign(
        people_of(customer),
        after_days=days,
        managed_skus={p.sku_id for p in products(customer) if p.target is not None},
        excluded_people=settings.excluded_people,
        excluded_skus=settings.excluded_skus,
        now=now,
    )


def release_disabled(
    customer: Customer, found: list[rules.Unassignment], *, actor: str, key: str
) -> dict[tuple[int, str], str]:
    """Unassign these licences now (the reconciliation, inside its job): one release change
    per product through the outbox, applied here. The same key never releases twice.
    Returns the outcome per (person, product)."""
    outcomes: dict[tuple[int, str], str] = {}
    by_sku: dict[str, list[rules.Unassignment]] = defaultdict(list)
    for item in found:
        by_sku[item.sku_id].append(item)
    for index, (sku, items) in enumerate(sorted(by_sku.items())):
        pairs = [(i.person.id, sku) for i in items]
        try:
            changes = _request(
                actor, customer, pairs, idempotency_key=f"{key[:40]}-{index}", enqueue_now=False
            )
        except InsightRefused as refused:
            db.session.rollback()
            for pair in pairs:
                outcomes[pair] = f"skipped: {refused}"
            continue
        for change in changes:
            done = apply_release(change.id)
            for pair in pairs:
                person_id = pair[0]
                outcomes[pair] = (
                    "unassigned"
                    if person_id in done.params.get("done", [])
                    else f"failed: {done.outcome or done.state}"
                )
    return outcomes


def apply_release(change_id: int) -> ChangeRequest:
    """Remove the licence from each person of the change not yet done (safe to repeat)."""
    change, started = outbox.start(change_id)
    if not started:
        return change
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    sku = str(change.params["sku_id"])
    graph = factory.graph(customer.tenant_id)
    removed: list[str] = []
    error: MicrosoftError | None = None
    try:
        for entry in change.params.get("people", []):
            person_id = int(entry["directory_user_id"])
            if person_id in change.params.get("done", []):
                continue
            try:
                graph.assign_license(
                    entry["graph_user_id"],
                    remove=(sku,),
                    request_id=str(uuid.uuid5(uuid.UUID(change.request_id), str(person_id))),
                )
            except Refused as refused:
                if "does not have a corresponding license" not in str(refused):
                    raise
                # already removed (an earlier attempt whose answer was lost, or by hand)
            _record_removal(customer, person_id, sku)
            change.params = {**change.params, "done": [*change.params["done"], person_id]}
            removed.append(entry["user_name"])
            db.session.commit()  # progress is kept, whatever happens next
    except MicrosoftError as failed:
        db.session.rollback()
        error = failed
    except Exception:  # a bug or an outage of ours: never leave the change open
        outbox.finish_unexpected(change)
        _audit(change)
        return change
    finally:
        graph.close()
    sub = change.subscription
    if error is None:
        outbox.finish(change, "done", _done_text(change, customer, sub))
    else:
        left = [
            e["user_name"]
            for e in change.params.get("people", [])
            if int(e["directory_user_id"]) not in change.params.get("done", [])
        ]
        outbox.finish(
            change,
            "failed",
            (f"Unassigned from {', '.join(removed)}; " if removed else "")
            + f"not from {', '.join(left)}: {error}. Unassign them again to retry.",
        )
    _audit(change)
    return change


def _audit(change: ChangeRequest) -> None:
    audit.record(
        "license.release",
        actor=f"job:change-{change.id}",
        customer_id=change.customer_id,
        object_type="subscription",
        object_id=change.subscription.pc_id if change.subscription_id else str(change.id),
        after={"sku": change.params.get("sku_id"), "done": change.params.get("done", [])},
        outcome=change.state,
        message=change.outcome,
    )
    db.session.commit()


def _record_removal(customer: Customer, person_id: int, sku: str) -> None:
    """The licence is gone: from the person, and one assigned seat less on the product."""
    person = db.session.get(DirectoryUser, person_id)
    if person is not None:
        for lic in list(person.licenses):
            if lic.sku_id == sku:
                person.licenses.remove(lic)
    subs = db.session.scalars(
        select(Subscription)
        .where(
            Subscription.customer_id == customer.id,
            Subscription.sku_id == sku,
            Subscription.status == "active",
        )
        .order_by(Subscription.creation_date)
    ).all()
    if subs:
        subs[-1].assigned = max(subs[-1].assigned - 1, 0)
        sync.reallocate_assigned(customer.id, sku)


def seat_return(customer: Customer, sub: Subscription, now: datetime | None = None) -> str:
    """When a seat freed on this subscription leaves the bill (the NCE rules)."""
    now = now or utcnow()
    facts = licensing.facts_of(sub)
    limits = nce.quantity_limits(facts, now)
    return rules.seat_return(
        auto_adjustment=customer.auto_license_adjustment,
        reducible_now=facts.quantity - limits.lowest_now,
        renewal_on=nce.renewal_date(facts),
        is_nce=facts.is_nce,
    ).text


def _done_text(change: ChangeRequest, customer: Customer, sub: Subscription) -> str:
    names = ", ".join(e["user_name"] for e in change.params.get("people", []))
    count = len(change.params.get("people", []))
    seats = "seat is" if count == 1 else f"{count} seats are"
    return (
        f"Done: {change.params.get('product')} unassigned from {names}; the {seats} free. "
        + seat_return(customer, sub)
    )
