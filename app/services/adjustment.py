"""Auto license adjustment: plan from fresh Partner Center data, preview, apply once a day.

Shape (ARCHITECTURE.md): plan (pure, `app.domain.adjustment`) → persist the run → apply
each change through the same outbox as a person's change → record the outcome. A real run
happens at most once per customer and day (`AdjustmentRun.run_key`), under a per-customer
Redis lock so two workers never work on one customer at once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.domain.adjustment import ActionKind, Plan, plan_adjustment
from app.domain.insights import Unassignment
from app.extensions import db
from app.models import AdjustmentRun, ChangeRequest, Customer, Subscription, User
from app.models._types import utcnow
from app.queue import enqueue
from app.services import access, audit, insights, licensing, locks, offers, sync
from app.services.errors import NotFound
from app.services.microsoft import factory
from app.services.microsoft.partner_center import PartnerCenterClient

ACTOR = "job:adjustment"
_CHANGE_OF = {
    ActionKind.MERGE_INCREASE: "quantity",
    ActionKind.REDUCE_NOW: "quantity",
    ActionKind.CANCEL: "cancel",
    ActionKind.SUSPEND: "suspend",
    ActionKind.SCHEDULE_REDUCTION: "schedule_quantity",
}


class AdjustmentError(Exception):
    """The reconciliation cannot run for this customer now; the message says why."""


@dataclass
class Outcome:
    """What one run did (for the command line and the job result)."""

    customer: str
    run_id: int
    state: str
    dry_run: bool
    saving_now: Decimal
    saving_at_renewal: Decimal
    actions: list[dict[str, Any]]
    message: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "customer": self.customer,
            "run": self.run_id,
            "state": self.state,
            "dry_run": self.dry_run,
            "saving_now": str(self.saving_now),
            "saving_at_renewal": str(self.saving_at_renewal),
            "monthly_saving": str(self.saving_now + self.saving_at_renewal),
            "actions": self.actions,
            "message": self.message,
        }


def eligible_customers() -> list[str]:
    """Customers whose reconciliation runs: adjustment on (which needs auto increment)."""
    return list(
        db.session.scalars(
            select(Customer.pc_id)
            .where(
                Customer.auto_license_adjustment.is_(True),
                Customer.auto_increment.is_(True),
                Customer.partner_center_sync.is_(True),
            )
            .order_by(Customer.pc_id)
        )
    )


def plan_for(customer: Customer, now: datetime, freed: Mapping[str, int] | None = None) -> Plan:
    """The plan for a customer from the subscriptions as the database holds them now;
    `freed` (product -> seats) are assigned seats about to be unassigned (the preview of
    unassigning people disabled for long), counted as free."""
    subs = db.session.scalars(
        select(Subscription).where(
            Subscription.customer_id == customer.id, Subscription.status != "deleted"
        )
    ).all()
    # Assigned seats per product (Entra SKU) over every active subscription granting it,
    # trials included: the planner decides per product (product_key).
    assigned: dict[str, int] = {}
    for sub in subs:
        if sub.status == "active":
            key = sub.sku_id or sub.offer_id
            assigned[key] = assigned.get(key, 0) + sub.assigned
    for key, seats in (freed or {}).items():
        if key in assigned:
            assigned[key] = max(assigned[key] - seats, 0)
    _keep_base_for_addons(subs, assigned)
    changing = set(
        db.session.scalars(
            select(Subscription.pc_id)
            .join(ChangeRequest, ChangeRequest.subscription_id == Subscription.id)
            .where(
                ChangeRequest.customer_id == customer.id,
                ChangeRequest.state.in_(("pending", "running")),
            )
        )
    )
    return plan_adjustment([licensing.facts_of(s) for s in subs], assigned, now, changing=changing)


PREVIEW_JOB = "jobs.adjustment.preview_customer"  # enqueued by name: services never import jobs
PREVIEW_OPEN = ("queued", "running")


def request_preview(customer: Customer) -> AdjustmentRun:
    """Ask a worker for a preview (it talks to Partner Center, which a web request must not);
    the page shows its progress. A preview still queued or running is returned as it is."""
    waiting = db.session.scalar(
        select(AdjustmentRun).where(
            AdjustmentRun.customer_id == customer.id,
            AdjustmentRun.dry_run.is_(True),
            AdjustmentRun.state.in_(PREVIEW_OPEN),
        )
    )
    if waiting is not None:
        return waiting  # type: ignore[no-any-return]
    record = AdjustmentRun(customer_id=customer.id, day=utcnow().date(), dry_run=True)
    record.state = "queued"
    db.session.add(record)
    db.session.commit()
    try:
        enqueue(PREVIEW_JOB, customer.pc_id, record.id, job_id=f"preview-{record.id}")
    except Exception as error:  # Redis unreachable: say so rather than wait forever
        record.state, record.finished_at = "failed", utcnow()
        record.message = f"The preview could not be queued ({type(error).__name__}); try again."
        db.session.commit()
    return record


def preview_run(customer: Customer, run_id: int) -> AdjustmentRun:
    """One preview of this customer (for the page that polls it); NotFound otherwise."""
    record = db.session.get(AdjustmentRun, run_id)
    if record is None or record.customer_id != customer.id or not record.dry_run:
        raise NotFound(run_id)
    return record


def _keep_base_for_addons(subs: Sequence[Subscription], assigned: dict[str, int]) -> None:
    """An add-on and its base move together (rule 8): the qualifying base products keep at
    least as many seats, together, as the customer has Copilot seats — counted as needed
    seats, so the planner returns base seats only down to that floor."""
    copilot, base = offers.copilot_seats(subs)
    if not copilot:
        return
    slack = base - copilot
    seats: dict[str, int] = {}
    for sub in subs:
        if sub.status == "active" and offers.is_copilot_base(sub.offer_id):
            key = sub.sku_id or sub.offer_id
            seats[key] = seats.get(key, 0) + sub.quantity
    for key in sorted(seats):
        cut = min(max(seats[key] - assigned.get(key, 0), 0), max(slack, 0))
        slack -= cut
        assigned[key] = max(assigned.get(key, 0), seats[key] - cut)


def preview(
    customer_pc_id: str, *, pc: PartnerCenterClient | None = None, run_id: int | None = None
) -> Outcome:
    """A dry run: re-sync the customer, plan, keep the plan for the preview page. With
    `run_id`, fill in that queued preview (the worker's job), recording a failure in it."""
    customer = _customer(customer_pc_id)
    record = preview_run(customer, run_id) if run_id is not None else None
    if record is not None:
        if record.state not in PREVIEW_OPEN:
            return _outcome(record)
        record.state = "running"
        db.session.commit()
    try:
        _fresh(customer, pc)
    except AdjustmentError as error:
        if record is None:
            raise
        db.session.rollback()
        record.state, record.message, record.finished_at = "failed", str(error), utcnow()
        db.session.commit()
        return _outcome(record)
    now = utcnow()
    found = insights.disabled_to_unassign(customer, now)
    plan = plan_for(customer, now, freed=Counter(f.sku_id for f in found))
    if record is None:
        record = _new_run(customer, plan, now.date(), dry_run=True)
    else:
        _fill(record, plan)
    record.plan = {**record.plan, "unassign": _unassign_lines(customer, found, None)}
    record.state = "previewed"
    record.finished_at = utcnow()
    db.session.commit()
    return _outcome(record)


def run(
    customer_pc_id: str, day: date | None = None, *, pc: PartnerCenterClient | None = None
) -> Outcome:
    """The day's real run for one customer: applied at most once (a repeat returns it)."""
    customer = _customer(customer_pc_id)
    day = day or utcnow().date()
    done = db.session.scalar(
        select(AdjustmentRun).where(AdjustmentRun.run_key == _key(customer, day))
    )
    if done is not None:
        return _outcome(done)
    if not (customer.auto_license_adjustment and customer.auto_increment):
        raise AdjustmentError(f"Auto license adjustment is off for {customer.name}.")
    client = pc or factory.partner_center()
    try:
        with locks.customer_lock(customer.pc_id):
            _fresh(customer, client)
            now = utcnow()
            unassigned = _unassign_disabled(customer, now, day)
            plan = plan_for(customer, now)
            try:
                record = _new_run(customer, plan, day, dry_run=False)
                record.plan = {**record.plan, "unassign": unassigned}
                db.session.commit()
            except IntegrityError:  # another worker recorded the day's run first
                db.session.rollback()
                again = db.session.scalar(
                    select(AdjustmentRun).where(AdjustmentRun.run_key == _key(customer, day))
                )
                assert again is not None
                return _outcome(again)
            _apply(customer, record, plan, client)
    except locks.Busy as busy:
        raise AdjustmentError(str(busy)) from None
    finally:
        if pc is None:
            client.close()
    return _outcome(record)


def _unassign_disabled(customer: Customer, now: datetime, day: date) -> list[dict[str, str]]:
    """Before seats are returned: unassign the licences of people disabled for longer than
    the customer's setting (off: nothing), through the outbox's release change (audited),
    so the seats they held are free for the plan. Once a day (the keys carry the day)."""
    found = insights.disabled_to_unassign(customer, now)
    if not found:
        return []
    outcomes = insights.release_disabled(
        customer, found, actor=ACTOR, key=f"disabled-{customer.pc_id}-{day.isoformat()}"
    )
    lines = _unassign_lines(customer, found, outcomes)
    done = sum(1 for line in lines if line["outcome"] == "unassigned")
    audit.record(
        "adjustment.unassign_disabled",
        actor=ACTOR,
        customer_id=customer.id,
        object_type="customer",
        object_id=customer.pc_id,
        after={"after_days": customer.unassign_disabled_after_days, "licences": lines},
        outcome="ok" if done == len(lines) else ("partial" if done else "failed"),
        message=f"Unassigned {done} of {len(lines)} licences of people disabled for more than "
        f"{customer.unassign_disabled_after_days} days.",
    )
    db.session.commit()
    return lines


def _unassign_lines(
    customer: Customer,
    found: list[Unassignment],
    outcomes: Mapping[tuple[int, str], str] | None,
) -> list[dict[str, str]]:
    """What the run shows: who, which product, disabled since when, and (real run) how it
    ended; the preview says what it would do."""
    names = {s.sku_id: s.offer_name for s in customer.subscriptions if s.sku_id}
    lines = []
    for item in found:
        product = names.get(item.sku_id, item.sku_id)
        since = item.disabled_since.date().isoformat()
        lines.append(
            {
                "person": item.person.name,
                "upn": item.person.upn,
                "sku": item.sku_id,
                "product": product,
                "disabled_since": since,
                "text": (
                    f"Would unassign {product} from {item.person.name}, disabled since {since}"
                    if outcomes is None
                    else f"Unassign {product} from {item.person.name}, disabled since {since}"
                ),
                "outcome": ""
                if outcomes is None
                else outcomes.get((item.person.id, item.sku_id), ""),
            }
        )
    return lines


def _apply(
    customer: Customer, record: AdjustmentRun, plan: Plan, client: PartnerCenterClient
) -> None:
    """Apply the plan's changes in order through the outbox; a failure stops that offer."""
    actions = [dict(a) for a in record.plan["actions"]]
    blocked: set[str] = set()
    subs = {
        s.pc_id: s
        for s in db.session.scalars(
            select(Subscription).where(Subscription.customer_id == customer.id)
        )
    }
    record.state = "applying"
    db.session.commit()
    for index, (action, shown) in enumerate(zip(plan.actions, actions, strict=True)):
        if not action.changes:
            continue
        if action.offer_id in blocked:
            shown["outcome"] = "skipped: an earlier step for this product failed"
            record.actions_failed += 1
            continue
        params: dict[str, Any] = {}
        if action.kind is ActionKind.SUSPEND:
            params["end_of_term"] = "cancel"  # never slide into the paid extended term
        elif action.kind is not ActionKind.CANCEL:
            params["quantity"] = action.to_quantity
        try:
            change = licensing.system_change(
                customer,
                subs[action.subscription_id],
                _CHANGE_OF[action.kind],
                params,
                key=f"adjust-{record.id}-{index}",
                actor=ACTOR,
            )
        except licensing.ChangeRefused as refused:  # a person's change is being applied
            shown["outcome"] = f"skipped: {refused}"
            record.actions_failed += 1
            blocked.add(action.offer_id)
            continue
        result = licensing.apply_change(change.id, pc=client)
        shown["outcome"] = result.outcome or result.state
        if result.state == "done":
            record.actions_applied += 1
        else:
            record.actions_failed += 1
            blocked.add(action.offer_id)
    record.plan = {**record.plan, "actions": actions}
    record.state = (
        "done" if not record.actions_failed else ("partial" if record.actions_applied else "failed")
    )
    record.finished_at = utcnow()
    record.message = f"{record.actions_applied} of {record.actions_total} changes applied" + (
        f", {record.actions_failed} failed or skipped." if record.actions_failed else "."
    )
    audit.record(
        "adjustment.run",
        actor=ACTOR,
        customer_id=customer.id,
        object_type="adjustment_run",
        object_id=str(record.id),
        after={
            "saving_now": str(record.saving_now),
            "saving_at_renewal": str(record.saving_at_renewal),
        },
        outcome=record.state if record.state != "done" else "ok",
        message=record.message,
    )
    db.session.commit()


def overview_for(user: User) -> tuple[list[CustomerSummary], Decimal, list[AdjustmentRun]]:
    """The all-customers page of `user`: each customer with the setting on (latest preview
    and run), the total the latest previews would save a month, and the recent runs."""
    eligible = set(eligible_customers())
    customers = [c for c in access.companies(user, limit=10_000) if c.pc_id in eligible]
    lines = overview(customers)
    total = sum(
        (line.latest_preview.monthly_saving for line in lines if line.latest_preview),
        Decimal(0),
    )
    visible = {c.id for c in customers}
    runs = [r for r in history(limit=200) if r.customer_id in visible][:50]
    return lines, total, runs


def history(customer: Customer | None = None, limit: int = 50) -> list[AdjustmentRun]:
    """Recent runs (and previews), newest first."""
    query = select(AdjustmentRun).order_by(AdjustmentRun.id.desc()).limit(limit)
    if customer is not None:
        query = query.where(AdjustmentRun.customer_id == customer.id)
    return list(db.session.scalars(query))


def _new_run(customer: Customer, plan: Plan, day: date, *, dry_run: bool) -> AdjustmentRun:
    record = AdjustmentRun(
        customer_id=customer.id,
        day=day,
        dry_run=dry_run,
        run_key=None if dry_run else _key(customer, day),
        state="planned",
    )
    _fill(record, plan)
    db.session.add(record)
    db.session.flush()
    return record


def _fill(record: AdjustmentRun, plan: Plan) -> None:
    record.plan = plan.as_dict()
    record.saving_now = plan.saving_now.quantize(Decimal("0.01"))
    record.saving_at_renewal = plan.saving_at_renewal.quantize(Decimal("0.01"))
    record.actions_total = len(plan.changes)


def _fresh(customer: Customer, pc: PartnerCenterClient | None) -> None:
    """Plans are made from fresh Partner Center data, never from a stale cache."""
    report = sync.sync_customer(customer.pc_id, pc=pc)
    if report.failed:
        raise AdjustmentError(next(iter(report.failed.values())))


def _customer(customer_pc_id: str) -> Customer:
    customer: Customer | None = db.session.scalar(
        select(Customer).where(Customer.pc_id == customer_pc_id)
    )
    if customer is None:
        raise AdjustmentError(f"No customer with id {customer_pc_id!r}.")
    return customer


def _key(customer: Customer, day: date) -> str:
    return f"{customer.pc_id}-{day.isoformat()}"


def _outcome(record: AdjustmentRun) -> Outcome:
    return Outcome(
        customer=record.customer.pc_id,
        run_id=record.id,
        state=record.state,
        dry_run=record.dry_run,
        saving_now=record.saving_now,
        saving_at_renewal=record.saving_at_renewal,
        actions=list(record.plan.get("actions", [])),
        message=record.message,
    )


@dataclass(frozen=True)
class CustomerSummary:
    """One line of the all-customers preview page."""

    customer: Customer
    latest_preview: AdjustmentRun | None
    latest_run: AdjustmentRun | None


def overview(customers: list[Customer]) -> list[CustomerSummary]:
    """The latest preview and real run of each customer, in two queries."""
    ids = [c.id for c in customers]
    latest: dict[tuple[int, bool], AdjustmentRun] = {}
    if ids:
        newest = (
            select(
                AdjustmentRun.customer_id,
                AdjustmentRun.dry_run,
                func.max(AdjustmentRun.id).label("id"),
            )
            .where(AdjustmentRun.customer_id.in_(ids))
            .group_by(AdjustmentRun.customer_id, AdjustmentRun.dry_run)
            .subquery()
        )
        for run_row in db.session.scalars(
            select(AdjustmentRun).join(newest, AdjustmentRun.id == newest.c.id)
        ):
            latest[(run_row.customer_id, run_row.dry_run)] = run_row
    return [
        CustomerSummary(c, latest.get((c.id, True)), latest.get((c.id, False))) for c in customers
    ]
