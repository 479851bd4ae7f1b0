"""The periodic jobs, for exactly one `rq cron jobs.schedule` process.

A cron entry cannot set a job id, so each entry calls a small function that enqueues the
real job with a unique id per period: two schedulers by mistake still sync once.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from rq import cron
from rq.exceptions import DuplicateJobError

from jobs import app_context


def enqueue_hourly_sync() -> str:
    """Enqueue this hour's sync once (job id sync-all-YYYYMMDDHH): it imports the customer
    list and queues one job per customer, so the workers sync customers in parallel."""
    from jobs.sync import sync_directory

    return _once(sync_directory, f"sync-all-{datetime.now(UTC):%Y%m%d%H}")


def _once(job: Any, job_id: str, *args: Any, job_timeout: int = 600, retry: Any = None) -> str:
    """Enqueue `job(*args)` under `job_id` unless a job of that id is already queued."""
    from app.queue import enqueue

    with app_context():
        try:
            enqueue(job, *args, job_id=job_id, unique=True, job_timeout=job_timeout, retry=retry)
        except DuplicateJobError:
            return f"{job_id} already queued"
    return job_id


def _register(function: Any, name: str, cron_text: str, env: str | None = None) -> None:
    """A cron entry of the seatwise queue; `env` names the variable that may override when."""
    cron.register(
        function,
        queue_name=os.environ.get("RQ_QUEUE", "seatwise"),
        cron=os.environ.get(env, cron_text) if env else cron_text,
        name=name,
    )


def enqueue_nightly_adjustment() -> list[str]:
    """Enqueue tonight's reconciliation once per eligible customer (adjust-<customer>-<day>)."""
    from rq import Retry

    from app.queue import enqueue
    from app.services.adjustment import eligible_customers
    from jobs.adjustment import adjust_customer

    day = datetime.now(UTC).date().isoformat()
    queued = []
    with app_context():
        for customer in eligible_customers():
            job_id = f"adjust-{customer}-{day}".replace(":", "-")
            try:
                enqueue(
                    adjust_customer,
                    customer,
                    day,
                    job_id=job_id,
                    unique=True,
                    job_timeout=3600,
                    retry=Retry(max=2, interval=[300, 900]),
                )
            except DuplicateJobError:
                continue
            queued.append(job_id)
    return queued


def enqueue_daily_catalogue_refresh() -> str:
    """Once a day: the storefront's catalogue and prices from Partner Center (job id
    catalogue-YYYYMMDD, so two schedulers still refresh once)."""
    from jobs.catalogue import refresh_catalogue

    return _once(refresh_catalogue, f"catalogue-{datetime.now(UTC):%Y%m%d}")


def requeue_stuck_changes() -> list[int]:
    """Every few minutes: changes a dead worker left open go to a worker again."""
    from jobs.provisioning import requeue_stuck_changes as requeue

    return requeue()


_register(requeue_stuck_changes, "requeue-stuck-changes", "*/5 * * * *")
_register(enqueue_nightly_adjustment, "nightly-adjustment", "30 2 * * *", "ADJUSTMENT_CRON")
_register(enqueue_hourly_sync, "hourly-sync", "0 * * * *", "SYNC_CRON")
_register(
    enqueue_daily_catalogue_refresh, "daily-catalogue-refresh", "15 3 * * *", "CATALOGUE_CRON"
)


def enqueue_daily_snapshots() -> str:
    """Once a day: seats, assigned seats and cost per customer and product, for the reports
    (job id snapshots-YYYYMMDD; the job itself keeps one snapshot per product and day)."""
    from jobs.reports import snapshot_all

    today = datetime.now(UTC).date()
    return _once(snapshot_all, f"snapshots-{today:%Y%m%d}", today.isoformat(), job_timeout=1800)


_register(enqueue_daily_snapshots, "daily-usage-snapshots", "45 23 * * *", "SNAPSHOT_CRON")


def enqueue_daily_reminders() -> str:
    """Once a day: the renewal and end-of-term reminders due today (job id
    reminders-YYYYMMDD; retried when the SMTP server is down; docs/email.md)."""
    from jobs.mail import send_reminders

    today = datetime.now(UTC).date()
    return _once(
        send_reminders,
        f"reminders-{today:%Y%m%d}",
        today.isoformat(),
        job_timeout=1800,
        retry=_mail_retry(),
    )


def enqueue_monthly_summaries() -> str:
    """On the first of the month: last month's licence summary to the Admins who asked."""
    from jobs.mail import send_monthly_summaries

    first = datetime.now(UTC).date().replace(day=1)
    month = f"{(first - timedelta(days=1)):%Y-%m}"
    return _once(
        send_monthly_summaries, f"summaries-{month}", month, job_timeout=1800, retry=_mail_retry()
    )


def _mail_retry() -> Any:
    """Mail jobs wait out an SMTP server that is down: 1, 5, 15, 30 and 60 minutes."""
    from rq import Retry

    return Retry(max=5, interval=[60, 300, 900, 1800, 3600])


_register(enqueue_daily_reminders, "daily-mail-reminders", "0 7 * * *", "REMINDER_CRON")
_register(enqueue_monthly_summaries, "monthly-licence-summaries", "0 8 1 * *", "SUMMARY_CRON")


def enqueue_nightly_insights() -> list[str]:
    """Once a night, before the reconciliation: each customer's sign-ins and usage reports
    for the licence insights (insights-<customer>-<day>; 3 of Graph's 14 report requests per
    10 minutes per tenant)."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Customer
    from app.queue import enqueue
    from jobs.insights import refresh

    day = datetime.now(UTC).date().isoformat()
    queued = []
    with app_context():
        for customer_id in db.session.scalars(select(Customer.id).order_by(Customer.id)):
            job_id = f"insights-{customer_id}-{day}"
            try:
                enqueue(refresh, customer_id, job_id=job_id, unique=True, job_timeout=1800)
            except DuplicateJobError:
                continue
            queued.append(job_id)
    return queued


_register(enqueue_nightly_insights, "nightly-insights", "30 1 * * *", "INSIGHTS_CRON")


def enqueue_daily_azure_usage() -> str:
    """Once a day: the Azure usage of customers with Azure sync on (job id
    azure-usage-YYYYMMDD, so two schedulers still import once)."""
    from jobs.azure import import_azure_usage

    return _once(import_azure_usage, f"azure-usage-{datetime.now(UTC):%Y%m%d}")


_register(enqueue_daily_azure_usage, "daily-azure-usage", "0 4 * * *", "AZURE_USAGE_CRON")
