"""Quantity change benchmark: from the request to the change applied at Partner Center.

`python -m bench.changes [--quick] [--no-record]`

The emulator holds 10 customers x 20 subscriptions (quick: 2 x 10); the app syncs them into a
fresh migrated SQLite database. Real RQ workers (`flask --app wsgi worker`, as `make run`
starts them) apply the changes: first 1 worker, then 4. The bench process plays the people
clicking: it asks `licensing.request_change` (what the license page's POST calls: the rule
check, the outbox row, its audit event, the enqueue) for one seat more on a subscription,
one new change every 1/RATE s (an open loop: clicks do not wait for earlier changes), each
on a subscription with no change in flight, and polls the outbox every 10 ms until the
change is done. Reported, over 200 changes (quick: 20) per worker count: p50 / p95 / max
from the call to `request_change` to the moment the outbox row reads `done` (the job got
the subscription, checked the rule on fresh data, PATCHed it and read it back); split into
the request itself, the wait for a worker (RQ enqueued → started, which includes the fork of
the work horse) and the job (started → ended). The emulator has no latency.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import Flask
from rq import Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry
from sqlalchemy import insert, select

from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, StaffRole, User
from app.queue import get_queue, get_redis
from app.services import licensing, sync
from bench import common
from bench.sync import OFFERS
from tests.support import processes

FULL = {"customers": 10, "subscriptions": 20, "changes": 200}
QUICK = {"customers": 2, "subscriptions": 10, "changes": 20}
WORKERS = (1, 4)
RATE = 5.0  # changes asked a second (open loop)
POLL = 0.01  # seconds between two reads of the outbox
TARGET_P95_MS = 300.0
TIMEOUT = 120.0  # seconds a change may take before the run is declared stuck


# --- scenario ------------------------------------------------------------------------------


def scenario(customers: int, subscriptions: int) -> dict[str, Any]:
    """Customers with active NCE subscriptions of catalogue offers (increases are allowed)."""
    return {
        "customers": [
            {
                "id": f"chg{c:03d}",
                "name": f"Change Customer {c:03d}",
                "subscriptions": [
                    {
                        "id": f"chg{c:03d}-s{n:03d}",
                        "offer_id": OFFERS[n % len(OFFERS)][0],
                        "sku_id": OFFERS[n % len(OFFERS)][1],
                        "offer_name": OFFERS[n % len(OFFERS)][2],
                        "term": "P1Y",
                        "created": "-30d",
                        "term_start": "-30d",
                        "tranches": [{"quantity": 10, "added": "-30d"}],
                    }
                    for n in range(subscriptions)
                ],
            }
            for c in range(customers)
        ]
    }


def partner_admin(app: Flask) -> int:
    """The person who clicks: a partner admin (Admin on every customer)."""
    with app.app_context():
        conn = db.session.connection()
        user_id = conn.execute(
            insert(User.__table__).values(
                tid=app.config["PARTNER_TENANT_ID"],
                oid="bench-changes",
                email="pat@partner.example",
                name="Pat Partner",
                staff_role=StaffRole.PARTNER_ADMIN,
            )
        ).inserted_primary_key[0]
        db.session.commit()
        return int(user_id)


# --- workers -------------------------------------------------------------------------------


def worker_env(app: Flask) -> dict[str, str]:
    """The environment of `flask --app wsgi worker`: this app's database, queue and emulator."""
    config = app.config
    return {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"],
        "RQ_QUEUE": config["RQ_QUEUE"],
        "PARTNER_CENTER_URL": config["PARTNER_CENTER_URL"],
        "GRAPH_URL": config["GRAPH_URL"],
        "TOKEN_AUTHORITY": config["TOKEN_AUTHORITY"],
        "SECRET_KEY": config["SECRET_KEY"],
    }


@contextmanager
def workers(app: Flask, count: int) -> Iterator[list[int]]:
    """`count` worker processes on the app's queue, listening when the block starts; their
    process ids. Stopped (their process groups) at the end."""
    env = worker_env(app)
    with ExitStack() as stack:
        procs = [
            stack.enter_context(processes.worker_process(common.ROOT, env)) for _ in range(count)
        ]
        with app.app_context():
            queue = get_queue()
            deadline = time.monotonic() + 30
            while Worker.count(connection=get_redis(), queue=queue) < count:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{count} workers did not start listening within 30 s")
                time.sleep(0.05)
        yield [proc.pid for proc in procs]


# --- one run -------------------------------------------------------------------------------


@dataclass
class Timed:
    """One change: when it was asked, when its outbox row read done, and the job's times."""

    change_id: int
    subscription: str
    asked: float  # perf_counter before request_change
    accepted: float  # perf_counter after it returned
    seen_done: float | None = None
    state: str = "pending"
    enqueued_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def total(self) -> float:
        """Seconds from the request to `done` read in the outbox."""
        assert self.seen_done is not None
        return self.seen_done - self.asked

    @property
    def request(self) -> float:
        """Seconds `request_change` took (validate, outbox + audit, enqueue)."""
        return self.accepted - self.asked

    @property
    def pickup(self) -> float | None:
        """Seconds from the enqueue to a worker starting the job (RQ's clock)."""
        if self.enqueued_at is None or self.started_at is None:
            return None
        return (self.started_at - self.enqueued_at).total_seconds()

    @property
    def job(self) -> float | None:
        """Seconds the job ran (RQ's clock)."""
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


@dataclass
class Run:
    """Changes applied with a number of workers."""

    workers: int
    changes: list[Timed] = field(default_factory=list)
    seconds: float = 0.0
    worker_cpu: float = 0.0
    emulator_cpu: float | None = None
    patches: int = 0

    def ms(self, attribute: str, p: float) -> float:
        """Percentile `p` of one of the per-change durations, in milliseconds."""
        values = [getattr(c, attribute) for c in self.changes]
        return common.percentile([v for v in values if v is not None], p) * 1000

    @property
    def failed(self) -> list[Timed]:
        """Changes that did not end `done`."""
        return [c for c in self.changes if c.state != "done"]


def apply_changes(
    app: Flask,
    emulator: common.Emulator,
    user_id: int,
    targets: list[tuple[str, str]],
    count: int,
    worker_pids: list[int],
) -> Run:
    """Ask `count` one-seat increases at RATE a second, round-robin over `targets`
    (customer, subscription), and wait until each is done."""
    run = Run(workers=len(worker_pids))
    interval = 1 / RATE
    patches_before = _patches(emulator)
    cpu_before = _cpu(worker_pids)
    emu_before = emulator.cpu_seconds()
    with app.app_context():
        user = db.session.get(User, user_id)
        customers = {c.pc_id: c for c in db.session.scalars(select(Customer))}
        open_: dict[int, Timed] = {}
        busy: set[str] = set()
        waiting = list(range(count))
        start = time.perf_counter()
        next_at = start
        while waiting or open_:
            now = time.perf_counter()
            if waiting and now >= next_at:
                customer_id, sub = _free_target(targets, busy, waiting.pop(0))
                asked = time.perf_counter()
                change = licensing.request_change(
                    user,
                    Role.ADMIN,
                    customers[customer_id],
                    sub,
                    "quantity",
                    {"quantity": _quantity(customers[customer_id], sub) + 1},
                    idempotency_key=uuid.uuid4().hex,
                    version=None,
                )
                timed = Timed(change.id, sub, asked, time.perf_counter())
                open_[change.id] = timed
                busy.add(sub)
                run.changes.append(timed)
                next_at += interval
            _poll(open_, busy)
            if now - start > TIMEOUT + count * interval:
                raise RuntimeError(f"changes still open after {now - start:.0f} s: {list(open_)}")
            time.sleep(POLL)
        run.seconds = time.perf_counter() - start
        _job_times(run)
    run.worker_cpu = _cpu(worker_pids) - cpu_before
    emu_after = emulator.cpu_seconds()
    run.emulator_cpu = emu_after - emu_before if emu_after is not None and emu_before else None
    run.patches = _patches(emulator) - patches_before
    return run


def _free_target(targets: list[tuple[str, str]], busy: set[str], n: int) -> tuple[str, str]:
    """The n-th target, or the next one without a change in flight."""
    for step in range(len(targets)):
        customer, sub = targets[(n + step) % len(targets)]
        if sub not in busy:
            return customer, sub
    raise RuntimeError("every subscription has a change in flight: add subscriptions")


def _quantity(customer: Customer, sub_pc_id: str) -> int:
    from app.models import Subscription

    quantity = db.session.scalar(
        select(Subscription.quantity).where(
            Subscription.customer_id == customer.id, Subscription.pc_id == sub_pc_id
        )
    )
    assert quantity is not None
    return int(quantity)


def _poll(open_: dict[int, Timed], busy: set[str]) -> None:
    """Read the open changes' states in one query; note when each finished."""
    if not open_:
        return
    rows = db.session.execute(
        select(ChangeRequest.id, ChangeRequest.state).where(ChangeRequest.id.in_(list(open_)))
    ).all()
    db.session.rollback()  # end the read transaction: the next poll sees new commits
    seen = time.perf_counter()
    for change_id, state in rows:
        if state in ("done", "failed"):
            timed = open_.pop(change_id)
            timed.seen_done, timed.state = seen, state
            busy.discard(timed.subscription)


def _job_times(run: Run) -> None:
    """RQ's enqueued / started / ended times of each change's job."""
    queue = get_queue()
    redis = get_redis()
    ids = (
        FinishedJobRegistry(queue=queue).get_job_ids()
        + FailedJobRegistry(queue=queue).get_job_ids()
    )
    by_change: dict[int, str] = {}
    for job_id in ids:
        if job_id.startswith("change-"):
            by_change[int(job_id.split("-")[1])] = job_id
    wanted = [c for c in run.changes if c.change_id in by_change]
    jobs = Job.fetch_many([by_change[c.change_id] for c in wanted], connection=redis)
    for timed, job in zip(wanted, jobs, strict=True):
        if job is not None:
            timed.enqueued_at, timed.started_at, timed.ended_at = (
                job.enqueued_at,
                job.started_at,
                job.ended_at,
            )


def _patches(emulator: common.Emulator) -> int:
    return sum(1 for r in emulator.request_log() if r["method"] == "PATCH")


def _cpu(pids: list[int]) -> float:
    """CPU of the worker processes and their (finished, waited-for) work horses."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: the horses are children the worker waits for
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


# --- the benchmark ---------------------------------------------------------------------------


def run(*, quick: bool = False, record: bool = True, changes: int | None = None) -> common.Result:
    """Run the change benchmark, print it, and (if `record`) add it to BENCHMARKS.md.
    `changes` overrides the number of changes per worker count (the smoke test asks few)."""
    size = dict(QUICK if quick else FULL)
    if changes is not None:
        size["changes"] = changes
    result = common.Result(
        "changes",
        f"{size['changes']} one-seat increases per worker count, asked with "
        f"`licensing.request_change` at {RATE:g} a second and applied by "
        f"{' and then '.join(str(n) for n in WORKERS)} `flask --app wsgi worker` processes "
        f"against the emulator ({size['customers']} customers × {size['subscriptions']} "
        "subscriptions, no latency); time from the request to the outbox row reading done",
        quick=quick,
    )
    runs: list[Run] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-changes-")))
        emulator = stack.enter_context(common.emulator())
        redis_url = stack.enter_context(common.redis(tmp))
        app = stack.enter_context(common.seatwise(tmp, emulator.url, redis_url))
        emulator.reset()
        emulator.load(scenario(size["customers"], size["subscriptions"]))
        with app.app_context():
            report = sync.sync_all(with_users=False)
        if report.failed:
            raise RuntimeError(f"the sync failed: {report.failed}")
        user_id = partner_admin(app)
        targets = [
            (f"chg{c:03d}", f"chg{c:03d}-s{n:03d}")
            for n in range(size["subscriptions"])
            for c in range(size["customers"])
        ]
        for count in WORKERS:
            with workers(app, count) as pids:
                # Warm-up (not timed): one change per worker.
                apply_changes(app, emulator, user_id, targets, count, pids)
                runs.append(apply_changes(app, emulator, user_id, targets, size["changes"], pids))
        emulator.reset()
    _report(result, size, runs)
    common.publish(result, record=record)
    return result


def _report(result: common.Result, size: dict[str, int], runs: list[Run]) -> None:
    for r in runs:
        n = len(r.changes)
        ok = not r.failed and r.patches == n
        result.add(
            f"{r.workers} worker{'s' if r.workers > 1 else ''}: request → done, p50 / p95 / max "
            f"({n} changes)",
            f"{r.ms('total', 50):.0f} / {r.ms('total', 95):.0f} / {r.ms('total', 100):.0f} ms",
            f"p95 < {TARGET_P95_MS:.0f} ms",
            r.ms("total", 95) < TARGET_P95_MS and ok,
        )
        result.add(
            f"{r.workers} worker{'s' if r.workers > 1 else ''}: request / wait for a worker / "
            "job, p50 (p95)",
            f"{r.ms('request', 50):.0f} ({r.ms('request', 95):.0f}) / "
            f"{r.ms('pickup', 50):.0f} ({r.ms('pickup', 95):.0f}) / "
            f"{r.ms('job', 50):.0f} ({r.ms('job', 95):.0f}) ms",
        )
        result.add(
            f"{r.workers} worker{'s' if r.workers > 1 else ''}: failed; PATCHes at Partner Center",
            f"{len(r.failed)}; {r.patches} for {n} changes",
            "0; one each",
            ok,
        )
        result.notes.append(
            f"{r.workers} worker{'s' if r.workers > 1 else ''}: {n} changes in {r.seconds:.1f} s; "
            f"CPU of the workers and their work horses {r.worker_cpu:.1f} s "
            f"({r.worker_cpu / max(n, 1) * 1000:.0f} ms a change), of the emulator "
            + (f"{r.emulator_cpu:.1f} s." if r.emulator_cpu is not None else "n/a.")
        )
    result.notes.append(
        f"Each change is a one-seat increase of a subscription with no change in flight "
        f"({size['customers'] * size['subscriptions']} subscriptions, taken in turn). The "
        "latency is read by polling the outbox every 10 ms from the bench process (up to 10 "
        "ms of it is the poll); 'wait for a worker' and 'job' are RQ's own timestamps. One "
        "warm-up change per worker ran first (not counted). The license page shows the "
        'outcome on its next poll (`hx-trigger="every 1s"`), so a person sees it up to 1 s '
        "later than measured here."
    )
    result.data["runs"] = runs


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.changes [--quick] [--no-record]`."""
    args = common.arguments(__doc__.splitlines()[0] if __doc__ else None, argv)
    run(quick=args.quick, record=args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
