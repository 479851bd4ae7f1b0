"""Restart safety (issue 16): the database is the truth, not Redis. The worker is killed in
the middle of work and Redis comes back empty (a restart without persistence); once
Seatwise runs again, every pending change resumes and completes, each applied once."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, User
from app.queue import get_queue, get_redis
from app.services import licensing
from tests.support.processes import Emulator, kill_worker, spawn_worker, worker_env

# Monthly-term subscriptions of the demo's Northwind (increases are always allowed).
ASKED = {"sub-nw-exo1": 24}


def pc_quantities(emulator: Emulator) -> dict[str, int]:
    return {
        s["id"]: int(s["quantity"])
        for c in emulator.state()["customers"]
        for s in c["subscriptions"]
    }


def wipe_redis_of(app: Flask) -> None:
    """Redis restarted with nothing kept: the queue, its registries and locks are gone."""
    redis = get_redis()
    queue = app.config["RQ_QUEUE"]
    for pattern in (f"rq:queue:{queue}", f"rq:*:{queue}*", "seatwise:lock:*"):
        for key in redis.scan_iter(pattern):
            redis.delete(key)
    assert get_queue().count == 0


def test_changes_pending_when_everything_stopped_complete_after_a_restart(
    app: Flask,
    demo: dict[str, int],
    emulator: Emulator,
    repo_root: Path,
    work: Callable[[], None],
) -> None:
    # Partner Center is slow to answer: the worker is caught in the middle of the PATCH.
    emulator.faults(
        {"method": "PATCH", "path": "sub-nw-exo1", "status": "timeout", "times": 1, "delay": 20}
    )
    with app.app_context():
        pat = db.session.scalar(select(User).where(User.email == "pat@partner.example"))
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert pat is not None and customer is not None
        ids = [
            licensing.request_change(
                pat, Role.ADMIN, customer, sub, "quantity", {"quantity": quantity},
                idempotency_key=uuid.uuid4().hex, version=None,
            ).id
            for sub, quantity in ASKED.items()
        ]  # fmt: skip
        ids.append(
            licensing.request_change(
                pat, Role.ADMIN, customer, "sub-nw-bp", "auto_renew", {"enable": False},
                idempotency_key=uuid.uuid4().hex, version=None,
            ).id
        )  # fmt: skip
    worker = spawn_worker(repo_root, worker_env(app.config, emulator.url, MICROSOFT_TIMEOUT="60"))
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and pc_quantities(emulator)["sub-nw-exo1"] != 24:
            time.sleep(0.1)
    finally:
        kill_worker(worker)  # everything stops: the worker mid-PATCH ...
    with app.app_context():
        wipe_redis_of(app)  # ... and Redis, which comes back empty
        states = {c.state for c in db.session.scalars(select(ChangeRequest))}
        assert states <= {"pending", "running"}  # nothing finished, nothing forgotten
        # Seatwise runs again: its cron hands what the database holds open to a worker.
        assert sorted(
            licensing.requeue_stuck_changes(timedelta(0), running_for=timedelta(0))
        ) == sorted(ids)
    emulator.faults([])
    work()
    with app.app_context():
        changes = db.session.scalars(select(ChangeRequest).order_by(ChangeRequest.id)).all()
        assert [(c.state, c.outcome) for c in changes] == [
            ("done", "Done: 24 seats."),
            ("done", "Done: auto-renew is off."),
        ]
    held = pc_quantities(emulator)
    assert held["sub-nw-exo1"] == 24
    applied = [
        r
        for r in emulator.state()["requests"]
        if r["method"] == "PATCH" and r["path"].endswith("sub-nw-exo1") and not r["replayed"]
    ]
    assert len(applied) == 1  # the PATCH caught mid-answer was the only one carried out
