"""Nightly adjustment benchmark: 1,000 customers reconciled end to end by 2 workers.

`python -m bench.adjustment [--quick] [--no-record]`

The emulator holds 1,000 customers (quick: 50) with auto increment and auto license
adjustment on, each with a mix of what the nightly run meets: excess seats in an open 7-day
tranche (returned now), excess seats outside the window (a reduction scheduled for the
renewal), duplicates of one offer (merged: the oldest buys the seats, the newer one is
reduced to one seat and suspended), an offer nobody uses, and subscriptions that are just
right (standalone offers only: no add-on such as Copilot, which needs base licences). The
app imports them (`sync_all`, not timed), then `jobs.schedule.enqueue_nightly_adjustment()`
queues one `adjust-<customer>-<day>` job per customer and two `flask --app wsgi worker`
processes run them. Measured until every adjust job has ended:
wall time, customers a second, Partner Center writes (PATCH and POST under /v1/ in the
emulator's log) against the changing actions of the persisted plans
(`AdjustmentRun.actions_total`; they must be equal: no wasted writes), runs and actions by
outcome, API requests, the CPU of the workers and of the emulator, and the peak memory of
the workers and their work horses (VmHWM in /proc, sampled every 20 ms).
"""

from __future__ import annotations

import os
import random
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from rq.job import Job
from sqlalchemy import select, update

from app.extensions import db
from app.models import AdjustmentRun, Customer
from app.queue import get_redis
from app.services import sync
from app.services.demo import COPILOT
from bench import common
from bench.changes import _cpu, workers
from bench.sync import OFFERS

SEED = 7
# Copilot is an add-on whose seats need as many base licences: a random mix would hold it
# without them, which Microsoft never allows, so the scenario leaves add-ons out.
STANDALONE = [offer for offer in OFFERS if offer[0] != COPILOT]
FULL = 1_000
QUICK = 50
WORKERS = 2
TARGET_MEMORY_MIB = 300.0
TIMEOUT = 1_800.0  # seconds for the whole night's run


# --- scenario ------------------------------------------------------------------------------


def customer(rng: random.Random, cid: str) -> dict[str, Any]:
    """One customer: a deterministic mix of excess inside and outside the window, duplicates,
    an unused offer and right-sized subscriptions (catalogue offers, monthly billing)."""
    subs: list[dict[str, Any]] = []
    assigned: dict[str, int] = {}
    offers = rng.sample(STANDALONE, 6)

    def add(offer: tuple[str, str, str], n: int, **extra: Any) -> None:
        subs.append(
            {
                "id": f"{cid}-s{n}",
                "offer_id": offer[0],
                "sku_id": offer[1],
                "offer_name": offer[2],
                "term": "P1Y",
                "billing_cycle": "monthly",
                **extra,
            }
        )

    # Excess in an open tranche: seats bought this week and not assigned.
    base, extra = rng.randint(3, 10), rng.randint(1, 3)
    add(
        offers[0],
        0,
        created="-60d",
        term_start="-60d",
        tranches=[{"quantity": base, "added": "-60d"}, {"quantity": extra, "added": "-2d"}],
    )
    assigned[offers[0][1]] = base
    # Excess outside the window: reduce at renewal.
    if rng.random() < 0.7:
        held = rng.randint(5, 12)
        add(offers[1], 1, created="-100d", term_start="-100d", quantity=held)
        assigned[offers[1][1]] = held - rng.randint(1, 4)
    # Duplicates of one offer: the newer one was bought this week.
    if rng.random() < 0.4:
        old, new = rng.randint(3, 8), rng.randint(2, 4)
        add(offers[2], 2, created="-200d", term_start="-200d", quantity=old)
        add(offers[2], 3, created="-3d", term_start="-3d", quantity=new)
        assigned[offers[2][1]] = old + new - 1
    # An offer nobody uses, bought this week.
    if rng.random() < 0.2:
        add(offers[3], 4, created="-1d", term_start="-1d", quantity=rng.randint(1, 3))
        assigned[offers[3][1]] = 0
    # Right-sized: nothing to do.
    held = rng.randint(2, 8)
    add(offers[4], 5, created="-150d", term_start="-150d", quantity=held)
    assigned[offers[4][1]] = held
    return {
        "id": cid,
        "name": f"Adjusted Customer {cid}",
        "subscriptions": subs,
        "assigned": {sku: n for sku, n in assigned.items() if n},
    }


def book(count: int) -> list[dict[str, Any]]:
    """`count` customers, the same for the same count."""
    rng = random.Random(SEED)
    return [customer(rng, f"adj{n:04d}") for n in range(count)]


# --- memory --------------------------------------------------------------------------------


@dataclass
class MemoryWatch:
    """Samples VmHWM of the worker processes and their children (the work horses)."""

    pids: list[int]
    interval: float = 0.02
    peak_kib: int = 0
    peak_process: str = ""
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> MemoryWatch:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._sample()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        self.samples += 1
        for pid in self.pids:
            self._read(pid, "worker")
            for child in _children(pid):
                self._read(child, "work horse")

    def _read(self, pid: int, what: str) -> None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    kib = int(line.split()[1])
                    if kib > self.peak_kib:
                        self.peak_kib, self.peak_process = kib, what
                    return
        except (OSError, ValueError):
            return


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


# --- the run -------------------------------------------------------------------------------


@dataclass
class Night:
    """What the night's run did."""

    customers: int
    jobs: int
    seconds: float
    statuses: Counter[str]
    runs: Counter[str]
    actions_total: int
    actions_applied: int
    actions_failed: int
    kinds: Counter[str]
    writes: int
    requests: int
    worker_cpu: float
    emulator_cpu: float | None
    peak_mib: float
    peak_process: str
    answers: Counter[str] = field(default_factory=Counter)  # "METHOD status" of every request
    outcomes: Counter[str] = field(default_factory=Counter)  # of actions that did not end done


def night(app: Flask, emulator: common.Emulator, count: int) -> Night:
    """Enqueue tonight's adjustment and wait with 2 workers until every job has ended."""
    from jobs.schedule import enqueue_nightly_adjustment

    log_before = len(emulator.request_log())
    with workers(app, WORKERS) as pids, MemoryWatch(pids) as memory:
        cpu_before, emu_before = _cpu(pids), emulator.cpu_seconds()
        with app.app_context():
            start = time.perf_counter()
            job_ids = enqueue_nightly_adjustment()
            statuses = _wait(job_ids, start)
            seconds = time.perf_counter() - start
        worker_cpu = _cpu(pids) - cpu_before
        emu_after = emulator.cpu_seconds()
    log = emulator.request_log()[log_before:]
    writes = sum(
        1 for r in log if r["method"] in ("PATCH", "POST") and r["path"].startswith("/v1/")
    )
    with app.app_context():
        records = db.session.scalars(
            select(AdjustmentRun).where(AdjustmentRun.dry_run.is_(False))
        ).all()
        kinds: Counter[str] = Counter()
        outcomes: Counter[str] = Counter()
        for record in records:
            for action in record.plan.get("actions", []):
                kinds[action["kind"]] += 1
                outcome = str(action.get("outcome", ""))
                if outcome and not outcome.startswith("Done"):
                    outcomes[f"{action['kind']}: {outcome}"] += 1
        result = Night(
            customers=count,
            jobs=len(job_ids),
            seconds=seconds,
            statuses=statuses,
            runs=Counter(r.state for r in records),
            actions_total=sum(r.actions_total for r in records),
            actions_applied=sum(r.actions_applied for r in records),
            actions_failed=sum(r.actions_failed for r in records),
            kinds=kinds,
            writes=writes,
            requests=len(log),
            worker_cpu=worker_cpu,
            emulator_cpu=emu_after - emu_before
            if emu_after is not None and emu_before is not None
            else None,
            peak_mib=memory.peak_kib / 1024,
            peak_process=memory.peak_process,
            answers=Counter(f"{r['method']} {r['status']}" for r in log),
            outcomes=outcomes,
        )
    return result


def _wait(job_ids: list[str], start: float) -> Counter[str]:
    """Poll RQ until every job has finished or failed (retries count as not yet ended)."""
    redis = get_redis()
    ended = ("finished", "failed", "canceled", "stopped")
    while True:
        jobs = Job.fetch_many(job_ids, connection=redis)
        statuses = Counter(
            str(job.get_status(refresh=False).value) if job is not None else "missing"
            for job in jobs
        )
        if sum(statuses[s] for s in (*ended, "missing")) == len(job_ids):
            return statuses
        if time.perf_counter() - start > TIMEOUT:
            raise RuntimeError(f"adjust jobs still running after {TIMEOUT:.0f} s: {statuses}")
        time.sleep(0.2)


# --- the benchmark -------------------------------------------------------------------------


def run(*, quick: bool = False, record: bool = True, customers: int | None = None) -> common.Result:
    """Run the adjustment benchmark, print it, and (if `record`) add it to BENCHMARKS.md."""
    count = customers or (QUICK if quick else FULL)
    result = common.Result(
        "adjustment",
        f"The nightly auto license adjustment of {count:,} customers end to end: "
        "`enqueue_nightly_adjustment()` and 2 `flask --app wsgi worker` processes against the "
        "emulator (no latency, no throttle)",
        quick=quick,
    )
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-adjust-")))
        emulator = stack.enter_context(common.emulator())
        redis_url = stack.enter_context(common.redis(tmp))
        app = stack.enter_context(common.seatwise(tmp, emulator.url, redis_url))
        emulator.reset()
        book_ = book(count)
        with common.Stopwatch() as preparing:
            for start in range(0, count, 100):
                emulator.load({"customers": book_[start : start + 100]})
            with app.app_context():
                report = sync.sync_all(with_users=False)
                if report.failed:
                    raise RuntimeError(f"the import failed: {report.failed}")
                db.session.execute(
                    update(Customer).values(auto_increment=True, auto_license_adjustment=True)
                )
                db.session.commit()
        done = night(app, emulator, count)
        emulator.reset()
    _report(result, done, preparing.seconds, sum(len(c["subscriptions"]) for c in book_))
    common.publish(result, record=record)
    return result


def _report(result: common.Result, n: Night, preparing: float, subscriptions: int) -> None:
    clean = n.statuses.get("finished", 0) == n.jobs == n.customers
    result.add(
        f"{n.customers:,} customers ({subscriptions:,} subscriptions), {WORKERS} workers: "
        "wall time",
        f"{n.seconds:.1f} s ({n.customers / n.seconds:.1f} customers/s, "
        f"{n.requests / n.seconds:.0f} API requests/s)",
        "bounded by the API",
        None,
    )
    result.add(
        "jobs by status; runs by state",
        f"{_counts(n.statuses)}; {_counts(n.runs)}",
        f"{n.customers:,} finished, all done",
        clean and n.runs.get("done", 0) == n.customers,
    )
    result.add(
        "Partner Center writes (PATCH/POST) vs changing actions in the plans",
        f"{n.writes:,} vs {n.actions_total:,} (applied {n.actions_applied:,}, "
        f"failed or skipped {n.actions_failed:,})",
        "equal",
        n.writes == n.actions_total,
    )
    result.add(
        "peak memory of a worker or work horse (VmHWM)",
        f"{n.peak_mib:.0f} MiB ({n.peak_process})",
        f"< {TARGET_MEMORY_MIB:.0f} MB",
        n.peak_mib * 1.048576 < TARGET_MEMORY_MIB,
    )
    cores = os.cpu_count() or 1
    busy = n.worker_cpu / (n.seconds * cores)
    api = (n.emulator_cpu or 0.0) / n.seconds
    result.add(
        "what bounds it: the emulator (the API) busy / our workers busy",
        f"{api:.0%} of the wall time / {busy:.0%} of {cores} cores "
        f"({n.worker_cpu:.1f} s of CPU in {n.seconds:.1f} s); "
        f"{WORKERS * n.seconds - n.worker_cpu:.0f} worker-seconds neither computing nor "
        "waiting for the API",
        "bounded by the API",
        api > 0.5,
    )
    result.add(
        "CPU of the workers and their horses / of the emulator",
        f"{n.worker_cpu:.1f} s ({n.worker_cpu / n.customers * 1000:.0f} ms a customer) / "
        + (f"{n.emulator_cpu:.1f} s" if n.emulator_cpu is not None else "n/a"),
    )
    result.notes.append(
        f"Planned actions by kind: {_counts(Counter(dict(sorted(n.kinds.items()))))}. "
        f"{n.requests:,} API requests in all ({n.requests / n.customers:.1f} a customer: the "
        "fresh sync of the customer before planning, with its users, and per change a GET, "
        "the write and a GET back; token requests are not in the log)."
    )
    result.notes.append(
        "API answers by method and status: "
        + _counts(Counter(dict(sorted(n.answers.items()))))
        + "."
    )
    if n.outcomes:
        result.notes.append(
            "Actions that did not end done, by outcome: "
            + "; ".join(f"{count:,} × {text}" for text, count in n.outcomes.most_common(6))
            + "."
        )
    result.notes.append(
        f"Preparation (not timed): scenario load and the import sync, {preparing:.1f} s. "
        "Memory: VmHWM of each worker process and of each work horse (the child RQ forks per "
        "job), sampled every 20 ms; a horse shares most of its pages with its worker."
    )
    result.data["night"] = n


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} {value:,}" for key, value in counter.items()) or "none"


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.adjustment [--quick] [--no-record]`."""
    args = common.arguments(
        __doc__.splitlines()[0] if __doc__ else None,
        argv,
        lambda parser: parser.add_argument(
            "--customers", type=int, help=f"customers (default {FULL:,}, quick {QUICK})"
        ),
    )
    run(quick=args.quick, record=args.record, customers=args.customers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
