"""Sync jobs: the partner's customer list, then one job per customer (run in parallel by
the workers, each under its customer's lock)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rq.exceptions import DuplicateJobError

from app.services import locks, sync
from jobs import app_context


def sync_customer(customer_pc_id: str) -> dict[str, Any]:
    """Sync one customer with Partner Center and Graph."""
    with app_context(), locks.customer_lock(customer_pc_id, wait=60):
        return sync.sync_customer(customer_pc_id).as_dict()


def sync_directory() -> list[str]:
    """Import resellers and customers, then queue this hour's sync of each customer once;
    forget sync runs past their keeping time."""
    from app.queue import enqueue

    hour = f"{datetime.now(UTC):%Y%m%d%H}"
    queued = []
    with app_context():
        sync.prune_runs()
        for customer in sync.import_customers():
            job_id = f"sync-{customer}-{hour}".replace(":", "-")
            try:
                enqueue(sync_customer, customer, job_id=job_id, unique=True, job_timeout=1800)
            except DuplicateJobError:
                continue
            queued.append(job_id)
    return queued


def sync_all() -> dict[str, Any]:
    """Sync every customer in this process (the command line's way)."""
    with app_context():
        return sync.sync_all().as_dict()
