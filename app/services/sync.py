"""Partner Center sync: keep customers, subscriptions, seats and directory users in step.

Idempotent: running it twice changes nothing the second time. It never deletes what a
person made in Seatwise (invitations, settings, billing flags); a subscription that
Partner Center no longer lists is kept and marked deleted. What changed is audited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import selectinload

from app.domain import sku_names
from app.domain.insights import seen_disabled_since
from app.domain.money import to_cents
from app.domain.storefront import billing_uplift_percent
from app.extensions import db
from app.models import (
    CatalogueItem,
    Customer,
    DirectoryUser,
    Partner,
    Reseller,
    Subscription,
    SyncRun,
    Tranche,
    UnmanagedSku,
    UserLicense,
)
from app.models._types import utcnow
from app.services import audit, catalogue
from app.services.microsoft import factory
from app.services.microsoft.graph import GraphSku, GraphUser
from app.services.microsoft.http import MicrosoftError
from app.services.microsoft.partner_center import (
    PartnerCenterClient,
    PcCustomer,
    PcSubscription,
)

REFUND_WINDOW = timedelta(days=7)
SYNCED_FIELDS = (
    "offer_id",
    "offer_name",
    "friendly_name",
    "quantity",
    "status",
    "is_nce",
    "is_trial",
    "auto_renew",
    "term_duration",
    "billing_cycle",
    "term_start",
    "commitment_end",
    "reseller_pc_id",
    "etag",
    "scheduled_quantity",
    "sku_id",
    "assigned",
)


@dataclass
class SyncReport:
    """What one sync did, for the command line, the job result and the audit log."""

    customers: int = 0
    customers_created: int = 0
    subscriptions_created: int = 0
    subscriptions_changed: int = 0
    subscriptions_gone: int = 0
    users: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    def merge(self, other: SyncReport) -> None:
        """Add another report's counts to this one."""
        for name in (
            "customers",
            "customers_created",
            "subscriptions_created",
            "subscriptions_changed",
            "subscriptions_gone",
            "users",
            "requests",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped += other.skipped
        self.failed.update(other.failed)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for JSON and job results)."""
        return dict(vars(self))


def sync_all(
    *,
    pc: PartnerCenterClient | None = None,
    with_users: bool = True,
    concurrency: int | None = None,
) -> SyncReport:
    """Import every customer of the partner, then sync those with Partner Center sync on.

    Customers are synced `concurrency` at a time (SYNC_CONCURRENCY), each in a thread with
    its own database session: Partner Center limits requests per customer tenant, so a
    throttled customer waits for its own tenant while the others go on.
    """
    client = pc or factory.partner_center()
    report = SyncReport()
    workers = max(concurrency or current_app.config["SYNC_CONCURRENCY"], 1)
    try:
        partner = _partner()
        resellers = _sync_resellers(client, partner)
        ids = []
        for pc_customer in client.customers():
            customer, created = _upsert_customer(partner, resellers, pc_customer)
            report.customers_created += created
            ids.append(customer.id)
        db.session.commit()
        app = current_app._get_current_object()  # type: ignore[attr-defined]

        def one(customer_id: int) -> SyncReport:
            with app.app_context():
                customer = db.session.get(Customer, customer_id)
                assert customer is not None
                return _sync_one(client, customer, with_users=with_users)

        if workers == 1:
            for part in map(one, ids):
                report.merge(part)
        else:
            with ThreadPoolExecutor(workers, thread_name_prefix="sync") as pool:
                for part in pool.map(one, ids):
                    report.merge(part)
    finally:
        report.requests = client.calls
        if pc is None:
            client.close()
    return report


def prune_runs(now: datetime | None = None) -> int:
    """Forget finished sync runs older than SYNC_RUNS_KEEP_DAYS (one is added per customer
    and hour); running ones stay. Returns how many were deleted."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["SYNC_RUNS_KEEP_DAYS"])
    result = db.session.execute(
        delete(SyncRun).where(SyncRun.started_at < cutoff, SyncRun.state != "running")
    )
    db.session.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def import_customers(*, pc: PartnerCenterClient | None = None) -> list[str]:
    """Import the resellers and customers (not their subscriptions); return the ids of the
    customers whose Partner Center sync is on, for one sync job each."""
    client = pc or factory.partner_center()
    try:
        partner = _partner()
        resellers = _sync_resellers(client, partner)
        wanted = []
        for pc_customer in client.customers():
            customer, _ = _upsert_customer(partner, resellers, pc_customer)
            if customer.partner_center_sync:
                wanted.append(customer.pc_id)
        db.session.commit()
    finally:
        if pc is None:
            client.close()
    return wanted


def sync_customer(
    customer_pc_id: str, *, pc: PartnerCenterClient | None = None, with_users: bool = True
) -> SyncReport:
    """Sync one customer (it must be known, or it is imported first)."""
    client = pc or factory.partner_center()
    try:
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == customer_pc_id))
        if customer is None:
            resellers = {r.pc_id: r for r in db.session.scalars(select(Reseller))}
            customer, _ = _upsert_customer(_partner(), resellers, client.customer(customer_pc_id))
            db.session.commit()
        report = _sync_one(client, customer, with_users=with_users)
    finally:
        if pc is None:
            client.close()
    report.requests = client.calls
    return report


def _sync_one(client: PartnerCenterClient, customer: Customer, *, with_users: bool) -> SyncReport:
    """Sync one customer's subscriptions and users; failures are recorded, not raised."""
    report = SyncReport(customers=1)
    if not customer.partner_center_sync:
        report.skipped.append(customer.pc_id)
        return report
    run = SyncRun(customer_id=customer.id, state="running")
    db.session.add(run)
    db.session.commit()
    run_id = run.id
    try:
        _sync_subscriptions(client, customer, report)
        db.session.commit()  # keep write transactions short: Graph is called next
        if with_users:
            _sync_users(customer, report)
        customer.last_synced_at = utcnow()
        customer.last_sync_error = None
        run.state, run.finished_at = "done", utcnow()
        run.summary = (
            f"{report.subscriptions_created} subscriptions added, "
            f"{report.subscriptions_changed} changed, {report.subscriptions_gone} gone, "
            f"{report.users} users."
        )
        db.session.commit()
    except MicrosoftError as error:
        db.session.rollback()
        message = f"Sync failed: {error}"
        customer.last_sync_error = message
        failed = db.session.get(SyncRun, run_id)
        if failed is not None:
            failed.state, failed.finished_at, failed.error = "failed", utcnow(), message
        audit.record(
            "sync.failed",
            actor="job:sync",
            customer_id=customer.id,
            object_type="customer",
            object_id=customer.pc_id,
            outcome="failed",
            message=message,
        )
        db.session.commit()
        report.failed[customer.pc_id] = message
        current_app.logger.warning("sync of %s failed: %s", customer.pc_id, error)
    return report


def _partner() -> Partner:
    partner = db.session.scalar(select(Partner))
    if partner is None:
        tenant = current_app.config["PARTNER_TENANT_ID"]
        partner = Partner(name="Partner", tenant_id=tenant)
        db.session.add(partner)
        db.session.flush()
    return partner


def _sync_resellers(client: PartnerCenterClient, partner: Partner) -> dict[str, Reseller]:
    """Import the indirect resellers with their names and relationship state."""
    resellers = {r.pc_id: r for r in db.session.scalars(select(Reseller))}
    for pc in client.resellers():
        row = resellers.get(pc.id)
        if row is None:
            row = Reseller(partner_id=partner.id, pc_id=pc.id, name=pc.name)
            db.session.add(row)
            resellers[pc.id] = row
        row.name, row.mpn_id = pc.name, pc.mpn_id
        row.relationship_status = pc.state[:20]  # Microsoft's spelling: "Active", ...
    db.session.flush()
    return resellers


def _upsert_customer(
    partner: Partner, resellers: dict[str, Reseller], pc: PcCustomer
) -> tuple[Customer, int]:
    reseller = None
    if pc.reseller_id:
        reseller = resellers.get(pc.reseller_id)
        if reseller is None:
            reseller = Reseller(partner_id=partner.id, pc_id=pc.reseller_id, name=pc.reseller_id)
            db.session.add(reseller)
            db.session.flush()
            resellers[pc.reseller_id] = reseller
    customer = db.session.scalar(select(Customer).where(Customer.pc_id == pc.id))
    created = 0
    if customer is None:
        customer = Customer(
            partner_id=partner.id,
            pc_id=pc.id,
            name=pc.name,
            domain=pc.domain,
            tenant_id=pc.tenant_id,
        )
        db.session.add(customer)
        created = 1
    customer.name, customer.domain, customer.tenant_id = pc.name, pc.domain, pc.tenant_id
    customer.reseller_id = reseller.id if reseller else None
    db.session.flush()
    return customer, created


def _sync_subscriptions(
    client: PartnerCenterClient, customer: Customer, report: SyncReport
) -> None:
    listed = client.subscriptions(customer.pc_id)
    # Refundable seats are only on GET-by-id; only active NCE subscriptions can have any.
    fresh = [
        client.subscription(customer.pc_id, s.id) if s.is_nce and s.status == "active" else s
        for s in listed
    ]
    skus = client.subscribed_skus(customer.pc_id)
    consumed = {sku.sku_id: sku.consumed for sku in skus}
    by_name = {sku.name.casefold(): sku.sku_id for sku in skus}
    # Catalogue first; offers outside it (legacy) are matched to their SKU by name.
    sku_of = {s.id: _azure_sku(client, s) or by_name.get(s.offer_name.casefold()) for s in fresh}
    assigned = _allocate_assigned(fresh, sku_of, consumed)
    existing = {
        s.pc_id: s
        for s in db.session.scalars(
            select(Subscription)
            .where(Subscription.customer_id == customer.id)
            .options(selectinload(Subscription.tranches))
        )
    }
    # New subscriptions take the price of their own term and billing frequency from the
    # cached catalogue (a seat billed monthly costs 5 % more than one paid upfront).
    priced = catalogue.by_offer(s.offer_id for s in fresh if s.id not in existing)
    now = utcnow()
    for pc_sub in fresh:
        row = existing.pop(pc_sub.id, None)
        values = _values(pc_sub, sku_of[pc_sub.id], assigned.get(pc_sub.id, 0))
        if row is None:
            row = Subscription(
                customer_id=customer.id,
                pc_id=pc_sub.id,
                creation_date=pc_sub.creation_date,
                **values,
            )
            row.unit_price = _price(client, pc_sub, priced.get(pc_sub.offer_id))
            db.session.add(row)
            report.subscriptions_created += 1
            audit.record(
                "sync.subscription_added",
                actor="job:sync",
                customer_id=customer.id,
                object_type="subscription",
                object_id=pc_sub.id,
                after={"offer": pc_sub.offer_name, "quantity": pc_sub.quantity},
            )
        else:
            before = {k: getattr(row, k) for k in values}
            changed = {k: v for k, v in values.items() if before[k] != v}
            if changed:
                for key, value in changed.items():
                    setattr(row, key, value)
                report.subscriptions_changed += 1
                audit.record(
                    "sync.subscription_changed",
                    actor="job:sync",
                    customer_id=customer.id,
                    object_type="subscription",
                    object_id=pc_sub.id,
                    before={k: _plain(before[k]) for k in changed},
                    after={k: _plain(v) for k, v in changed.items()},
                )
        _set_tranches(row, pc_sub, now)
        row.synced_at = now
    for gone in existing.values():
        if gone.status != "deleted":
            audit.record(
                "sync.subscription_gone",
                actor="job:sync",
                customer_id=customer.id,
                object_type="subscription",
                object_id=gone.pc_id,
                before={"status": gone.status},
                after={"status": "deleted"},
            )
            gone.status = "deleted"
            gone.assigned = 0
            report.subscriptions_gone += 1


def refresh_subscription(row: Subscription, pc: PcSubscription) -> dict[str, tuple[Any, Any]]:
    """Copy Partner Center's view of one subscription onto its row (its SKU and assigned
    seats stay as the last sync found them); return what changed as (before, after)."""
    values = _values(pc, row.sku_id, row.assigned)
    changed = {k: (getattr(row, k), v) for k, v in values.items() if getattr(row, k) != v}
    for key, (_, value) in changed.items():
        setattr(row, key, value)
    now = utcnow()
    _set_tranches(row, pc, now)
    row.synced_at = now
    return changed


def reallocate_assigned(customer_id: int, sku_id: str | None) -> None:
    """Spread a SKU's assigned seats again over its subscriptions after their seat counts
    changed (oldest first), so each subscription's share stays within its seats."""
    if not sku_id:
        return
    rows = db.session.scalars(
        select(Subscription)
        .where(Subscription.customer_id == customer_id, Subscription.sku_id == sku_id)
        .order_by(Subscription.creation_date, Subscription.pc_id)
    ).all()
    left = sum(r.assigned for r in rows)
    active = [r for r in rows if r.status == "active"]
    for row in rows:
        if row.status != "active":
            row.assigned = 0
    for i, row in enumerate(active):
        share = left if i == len(active) - 1 else min(left, row.quantity)
        row.assigned = share
        left -= share


def _values(pc: PcSubscription, sku_id: str | None, assigned: int) -> dict[str, Any]:
    return {
        "offer_id": pc.offer_id,
        "offer_name": pc.offer_name,
        "friendly_name": pc.friendly_name,
        "quantity": pc.quantity,
        "status": pc.status,
        "is_nce": pc.is_nce,
        "is_trial": pc.is_trial,
        "auto_renew": pc.auto_renew,
        "cancel_at_end": pc.cancel_at_end,
        "term_duration": pc.term_duration,
        "billing_cycle": pc.billing_cycle,
        "term_start": pc.effective_start,
        "commitment_end": pc.commitment_end,
        "cancellation_allowed_until": _cancellable_until(pc),
        "reseller_pc_id": pc.partner_id,
        "etag": pc.etag,
        "scheduled_quantity": pc.scheduled_quantity,
        "sku_id": sku_id,
        "assigned": assigned,
    }


def _cancellable_until(pc: PcSubscription) -> datetime | None:
    """Until when Partner Center lets the subscription be cancelled: its own date; the start
    of the term (passed) when it names none for a New Commerce subscription; else unknown."""
    if pc.cancellation_allowed_until is not None:
        return pc.cancellation_allowed_until
    if pc.is_nce and not pc.is_trial and "cancellationAllowedUntilDate" in pc.raw:
        return pc.effective_start
    return None


def _set_tranches(row: Subscription, pc: PcSubscription, now: datetime) -> None:
    """Rebuild the seat tranches: the refundable ones as Partner Center lists them, the rest
    as one tranche added at the start of the term. When Partner Center listed refundable
    seats, the rest are not refundable even on a young subscription: their tranche is dated
    a window earlier, so its window is closed."""
    wanted: list[tuple[int, datetime, datetime]] = []
    open_total = 0
    # Never more refundable seats than the subscription has (a list not yet updated after a
    # reduction): the earliest windows are kept, so fewer seats look returnable, not more.
    for tranche in sorted(pc.refundable or (), key=lambda t: t.allowed_until):
        quantity = min(tranche.quantity, pc.quantity - open_total)
        if tranche.allowed_until > now and quantity > 0:
            wanted.append((quantity, tranche.allowed_until - REFUND_WINDOW, tranche.allowed_until))
            open_total += quantity
    rest = pc.quantity - open_total
    if rest > 0:
        start = pc.effective_start
        if pc.refundable is not None and start + REFUND_WINDOW > now:
            start -= REFUND_WINDOW  # Partner Center: these seats cannot be returned
        wanted.append((rest, start, start + REFUND_WINDOW))
    current = sorted((t.quantity, t.added_at, t.allowed_until) for t in row.tranches)
    if current == sorted(wanted):
        return
    row.tranches.clear()
    for quantity, added, until in sorted(wanted, key=lambda t: t[1]):
        row.tranches.append(Tranche(quantity=quantity, added_at=added, allowed_until=until))


def _allocate_assigned(
    subs: Iterable[PcSubscription], sku_of: dict[str, str | None], consumed: dict[str, int]
) -> dict[str, int]:
    """Spread each SKU's assigned seats over its active subscriptions, oldest first (the same
    order the reconciliation merges onto and new seats are assigned from)."""
    by_sku: dict[str, list[PcSubscription]] = defaultdict(list)
    for sub in subs:
        sku = sku_of.get(sub.id)
        if sku and sub.status == "active":
            by_sku[sku].append(sub)
    result: dict[str, int] = {}
    for sku, group in by_sku.items():
        left = consumed.get(sku, 0)
        ordered = sorted(group, key=lambda s: (s.creation_date, s.id))
        for i, sub in enumerate(ordered):
            share = left if i == len(ordered) - 1 else min(left, sub.quantity)
            result[sub.id] = share
            left -= share
    return result


def _azure_sku(client: PartnerCenterClient, sub: PcSubscription) -> str | None:
    """The Entra SKU id a subscription licenses, from the catalogue."""
    item = client.catalogue_sku(sub.product_id, sub.sku) if sub.sku else None
    return item.azure_sku_id if item else None


def _price(
    client: PartnerCenterClient, sub: PcSubscription, listed: CatalogueItem | None
) -> Decimal:
    """One seat's monthly price on the subscription's own term and billing frequency: the
    catalogue's price for that option; else the SKU's list price (annual, paid upfront) with
    Microsoft's uplift for paying a long term monthly; else 0 (unknown)."""
    if listed is not None:
        for option in catalogue.options_of(listed):
            if (option.term, option.billing) == (sub.term_duration, sub.billing_cycle):
                return option.monthly.amount
    item = client.catalogue_sku(sub.product_id, sub.sku) if sub.sku else None
    if item is None or item.unit_price is None:
        return Decimal(0)
    uplift = billing_uplift_percent(sub.term_duration, sub.billing_cycle)
    return to_cents(Decimal(str(item.unit_price)) * (100 + uplift) / 100)


def _sync_users(customer: Customer, report: SyncReport) -> None:
    """Import the customer's directory users and their licenses from Graph."""
    graph = factory.graph(customer.tenant_id)
    try:
        users: list[GraphUser] = list(graph.users())
        # The tenant's products with their units, for the licences bought outside CSP:
        # asked only while Unmanaged license sync is on.
        skus = graph.subscribed_skus() if customer.unmanaged_license_sync else []
        report.requests += graph.caller.calls
    finally:
        graph.close()
    existing = {
        u.graph_id: u
        for u in db.session.scalars(
            select(DirectoryUser).where(DirectoryUser.customer_id == customer.id)
        )
    }
    # Licences of SKUs no CSP subscription of the customer grants (an Enterprise Agreement,
    # say) are imported only while Unmanaged license sync is on; switched off, they go.
    csp = set(
        db.session.scalars(
            select(Subscription.sku_id).where(
                Subscription.customer_id == customer.id, Subscription.sku_id.is_not(None)
            )
        )
    )
    managed = None if customer.unmanaged_license_sync else csp
    now = utcnow()
    _sync_unmanaged_skus(customer, [s for s in skus if s.sku_id not in csp], now)
    for g in users:
        row = existing.pop(g.id, None)
        if row is None:
            row = DirectoryUser(customer_id=customer.id, graph_id=g.id, upn=g.upn)
            db.session.add(row)
        row.upn, row.name, row.enabled, row.synced_at = g.upn, g.name, g.enabled, now
        row.disabled_since = seen_disabled_since(row.disabled_since, g.enabled, now)
        held = set(g.sku_ids) if managed is None else set(g.sku_ids) & managed
        have = {lic.sku_id: lic for lic in row.licenses}
        for sku in held - have.keys():
            row.licenses.append(UserLicense(sku_id=sku))
        for sku in have.keys() - held:
            row.licenses.remove(have[sku])
    for gone in existing.values():
        db.session.delete(gone)
    report.users += len(users)


def _sync_unmanaged_skus(customer: Customer, skus: list[GraphSku], now: datetime) -> None:
    """Keep the customer's products bought outside CSP (name, units) as Graph counts them;
    none while Unmanaged license sync is off (`skus` is then empty)."""
    kept = {
        row.sku_id: row
        for row in db.session.scalars(
            select(UnmanagedSku).where(UnmanagedSku.customer_id == customer.id)
        )
    }
    for sku in skus:
        row = kept.pop(sku.sku_id, None)
        if row is None:
            row = UnmanagedSku(customer_id=customer.id, sku_id=sku.sku_id)
            db.session.add(row)
        row.part_number = sku.part_number[:100]
        row.name = sku_names.product_name(sku.part_number, sku.sku_id)[:200]
        row.total, row.assigned, row.synced_at = sku.enabled, sku.consumed, now
    for gone in kept.values():
        db.session.delete(gone)


def _plain(value: Any) -> Any:
    """JSON-safe audit values."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value
