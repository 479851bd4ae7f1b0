"""Jobs run on real RQ workers against real Redis, inside an app context."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from flask import Flask
from rq.job import Job, JobStatus
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Subscription
from app.queue import enqueue, get_queue, get_redis
from jobs.system import heartbeat
from tests.support.processes import Emulator


def test_job_enqueued_through_the_app_queue_runs_on_a_real_worker_in_an_app_context(
    app: Flask,
    work: Callable[[], None],
) -> None:
    with app.app_context():
        job = enqueue(heartbeat, "hello from the queue")
        work()
        job.refresh()
        assert job.get_status() == JobStatus.FINISHED
        result = job.return_value()
        assert result["note"] == "hello from the queue"
        event = db.session.get(AuditEvent, result["event_id"])
        assert event is not None
        assert event.kind == "system.heartbeat"
        assert event.actor == f"job:{job.id}"


def test_the_worker_command_runs_queued_jobs_in_forked_processes(
    app: Flask,
    repo_root: object,
) -> None:
    with app.app_context():
        job = enqueue(heartbeat, "forked")
        env = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": app.config["REDIS_URL"],
            "RQ_QUEUE": app.config["RQ_QUEUE"],
        }
        flask = os.path.join(os.path.dirname(sys.executable), "flask")
        done = subprocess.run(
            [flask, "--app", "wsgi", "worker", "--burst"],
            cwd=str(repo_root),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        fresh = Job.fetch(job.id, connection=get_redis())
        assert fresh.get_status() == JobStatus.FINISHED, done.stderr
        assert db.session.get(AuditEvent, fresh.return_value()["event_id"]) is not None


def test_the_hourly_cron_entry_queues_one_sync_per_customer_and_the_workers_run_them(
    app: Flask,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    from app.services.demo import SCENARIO
    from jobs.schedule import enqueue_hourly_sync

    emulator.load(SCENARIO)
    with app.app_context():
        first = enqueue_hourly_sync()
        again = enqueue_hourly_sync()
        assert again == f"{first} already queued"
        assert get_queue().count == 1
        work()
        job = Job.fetch(first, connection=get_redis())
        assert job.get_status() == JobStatus.FINISHED
        assert len(job.return_value()) == 2  # one sync job per customer, run by the worker
        assert db.session.scalar(select(func.count()).select_from(Subscription)) == 12


def test_the_daily_cron_entry_refreshes_the_catalogue_once(
    app: Flask,
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    from app.models import CatalogueItem
    from jobs.schedule import enqueue_daily_catalogue_refresh

    with app.app_context():
        first = enqueue_daily_catalogue_refresh()
        assert enqueue_daily_catalogue_refresh() == f"{first} already queued"
        assert get_queue().count == 1
        work()
        job = Job.fetch(first, connection=get_redis())
        assert job.get_status() == JobStatus.FINISHED
        assert job.return_value()["items"] > 0
        assert db.session.scalar(select(func.count()).select_from(CatalogueItem)) > 0
