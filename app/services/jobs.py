"""The jobs a partner admin watches: syncs, reconciliations and provisioning changes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from app.extensions import db
from app.models import AdjustmentRun, ChangeRequest, Customer, SyncRun, User
from app.services import access
from app.services.errors import NotFound

RUNNING = ("pending", "running", "applying", "planned")


@dataclass(frozen=True)
class JobLine:
    """One job as the Jobs page shows it."""

    kind: str  # sync | reconciliation | provisioning
    id: int
    customer: Customer
    title: str
    state: str
    progress: int | None  # percent; None when it cannot be measured
    message: str | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def running(self) -> bool:
        """Still queued or working."""
        return self.state in RUNNING

    @property
    def retryable(self) -> bool:
        """A failed sync or change can be tried again from the page."""
        return self.state == "failed" and self.kind in ("sync", "provisioning")


def recent(user: User, limit: int = 60) -> list[JobLine]:
    """The latest jobs of the companies `user` manages, newest first (three queries)."""
    visible = access.companies_query(user).with_only_columns(Customer.id).scalar_subquery()
    lines: list[JobLine] = []
    for run in db.session.scalars(
        select(SyncRun)
        .where(SyncRun.customer_id.in_(visible))
        .order_by(SyncRun.id.desc())
        .limit(limit)
    ):
        lines.append(
            JobLine(
                "sync",
                run.id,
                run.customer,
                "Partner Center sync",
                run.state,
                100 if run.state != "running" else None,
                run.error or run.summary,
                run.started_at,
                run.finished_at,
            )
        )
    for adj in db.session.scalars(
        select(AdjustmentRun)
        .where(AdjustmentRun.customer_id.in_(visible), AdjustmentRun.dry_run.is_(False))
        .order_by(AdjustmentRun.id.desc())
        .limit(limit)
    ):
        done = adj.actions_applied + adj.actions_failed
        progress = 100 if not adj.actions_total else round(100 * done / adj.actions_total)
        lines.append(
            JobLine(
                "reconciliation",
                adj.id,
                adj.customer,
                f"Auto license adjustment {adj.day.isoformat()}",
                adj.state,
                progress,
                adj.message,
                adj.started_at,
                adj.finished_at,
            )
        )
    for change in db.session.scalars(
        select(ChangeRequest)
        .where(ChangeRequest.customer_id.in_(visible))
        .order_by(ChangeRequest.id.desc())
        .limit(limit)
    ):
        customer = db.session.get(Customer, change.customer_id)
        assert customer is not None
        lines.append(
            JobLine(
                "provisioning",
                change.id,
                customer,
                change.summary,
                change.state,
                100 if not change.is_open else None,
                change.outcome,
                change.created_at,
                change.finished_at,
            )
        )
    lines.sort(key=lambda line: line.started_at, reverse=True)
    return lines[:limit]


def retry(user: User, kind: str, job_id: int) -> str:
    """Try a failed job again; return what happened, in words."""
    from app.queue import enqueue
    from app.services import licensing

    if kind == "sync":
        run = db.session.get(SyncRun, job_id)
        if run is None or access.role_on(user, run.customer) is None:
            raise NotFound(job_id)
        enqueue("jobs.sync.sync_customer", run.customer.pc_id)  # by name: no jobs import
        return f"A new sync of {run.customer.name} is queued."
    if kind == "provisioning":
        change = db.session.get(ChangeRequest, job_id)
        customer = db.session.get(Customer, change.customer_id) if change else None
        role = access.role_on(user, customer) if customer else None
        if change is None or customer is None or role is None:
            raise NotFound(job_id)
        licensing.retry_change(user, role, customer, change.id)
        return f"{change.summary}: queued again."
    raise NotFound(kind)
