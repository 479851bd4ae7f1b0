"""The change pipeline under faults: Partner Center conflicts, outages and a killed worker."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, User
from app.services import licensing
from tests.support.processes import Emulator, kill_worker, spawn_worker, worker_env


def request(app: Flask, sub: str, kind: str, **params: Any) -> int:
    """Ask for a change as the partner admin; return the change id."""
    with app.app_context():
        pat = db.session.scalar(select(User).where(User.email == "pat@partner.example"))
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert pat is not None and customer is not None
        change = licensing.request_change(
            pat,
            Role.ADMIN,
            customer,
            sub,
            kind,
            params,
            idempotency_key=uuid.uuid4().hex,
            version=None,
        )
        return int(change.id)


def state_of(app: Flask, change_id: int) -> tuple[str, str | None]:
    with app.app_context():
        change = db.session.get(ChangeRequest, change_id)
        assert change is not None
        return change.state, change.outcome


def pc_quantity(emulator: Emulator, sub: str) -> int:
    for customer in emulator.state()["customers"]:
        for item in customer["subscriptions"]:
            if item["id"] == sub:
                return int(item["quantity"])
    raise AssertionError(sub)


def patch_log(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]


def test_a_409_then_success_completes_the_change_once(
    app: Flask,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    emulator.faults({"method": "PATCH", "path": "sub-nw-exo1", "status": 409, "times": 1})
    change = request(app, "sub-nw-exo1", "quantity", quantity=21)
    work()
    assert state_of(app, change) == ("done", "Done: 21 seats.")
    assert pc_quantity(emulator, "sub-nw-exo1") == 21
    log = patch_log(emulator)
    assert [r["status"] for r in log] == [409, 200]
    assert len({r["request_id"] for r in log}) == 1  # the retry is the same operation


def test_500s_until_the_budget_is_spent_fail_with_the_reason_and_retry_completes(
    app: Flask,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    emulator.faults({"method": "PATCH", "path": "sub-nw-exo1", "status": 500})
    app.config["MICROSOFT_RETRY_SECONDS"] = 2.0
    try:
        change = request(app, "sub-nw-exo1", "quantity", quantity=22)
        work()
    finally:
        app.config["MICROSOFT_RETRY_SECONDS"] = 30.0
    state, outcome = state_of(app, change)
    assert state == "failed"
    assert outcome is not None and "HTTP 500" in outcome and "so it was not made" in outcome
    assert pc_quantity(emulator, "sub-nw-exo1") == 20
    httpx_delete(emulator)
    with app.app_context():
        pat = db.session.scalar(select(User).where(User.email == "pat@partner.example"))
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        licensing.retry_change(pat, Role.ADMIN, customer, change)
    work()
    assert state_of(app, change) == ("done", "Done: 22 seats.")
    assert pc_quantity(emulator, "sub-nw-exo1") == 22


def httpx_delete(emulator: Emulator) -> None:
    import httpx

    httpx.delete(f"{emulator.url}/_emulator/faults", timeout=10).raise_for_status()


def test_a_worker_killed_mid_change_is_recovered_and_the_change_applied_exactly_once(
    app: Flask,
    demo: dict[str, int],
    emulator: Emulator,
    repo_root: Path,
    work: Callable[[], None],
) -> None:
    # The PATCH is carried out at Partner Center but its answer never comes back in time.
    emulator.faults(
        {"method": "PATCH", "path": "sub-nw-exo1", "status": "timeout", "times": 1, "delay": 30}
    )
    change = request(app, "sub-nw-exo1", "quantity", quantity=23)
    env = worker_env(app.config, emulator.url, MICROSOFT_TIMEOUT="60")
    worker = spawn_worker(repo_root, env)
    try:
        deadline = time.monotonic() + 30
        while not patch_log_pending(emulator) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state_of(app, change)[0] == "running"
        while pc_quantity(emulator, "sub-nw-exo1") != 23 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        kill_worker(worker)  # the worker and its work horse, mid-PATCH
    assert state_of(app, change)[0] == "running"  # the dead worker left it open
    with app.app_context():
        assert licensing.requeue_stuck_changes(timedelta(0), running_for=timedelta(0)) == [change]
    work()
    assert state_of(app, change) == ("done", "Done: 23 seats.")
    assert pc_quantity(emulator, "sub-nw-exo1") == 23
    applied = [r for r in patch_log(emulator) if r["status"] == 200]
    assert applied == []  # the only PATCH was the one whose answer was lost


def patch_log_pending(emulator: Emulator) -> bool:
    """True once the emulator has received the PATCH (it logs it while holding the answer)."""
    return pc_quantity(emulator, "sub-nw-exo1") == 23 or bool(patch_log(emulator))
