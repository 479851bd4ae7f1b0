"""Planner benchmark: 100,000 subscriptions through the pure reconciliation planner.

`python -m bench.planner [--quick] [--no-record]`

The subscriptions belong to 10,000-odd customers (1 to 25 each, as a partner's book looks)
with a deterministic mix of what the planner meets: duplicates of one offer, excess seats,
offers nobody uses, trials, open 7-day tranches, scheduled changes, suspended, expired,
legacy (non-NCE), renewals in progress, changes in flight and inconsistent seat counts.
`plan_adjustment` runs once per customer, as the nightly adjustment calls it. Measured:
wall time (best of 3), memory the planning allocates (tracemalloc peak), and the process's
peak resident memory; plus how the time grows with the number of subscriptions.
"""

from __future__ import annotations

import gc
import random
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.adjustment import Plan, plan_adjustment
from app.domain.nce import Status, SubscriptionFacts, Tranche
from bench import common

SEED = 20261117
NOW = datetime(2026, 11, 17, 14, 0, tzinfo=UTC)
FULL = 100_000
QUICK = 2_000
TARGET_SECONDS = 2.0
TARGET_MEMORY_MIB = 300.0

# Catalogue offers (emulator/catalogue.py) and their monthly seat prices.
OFFERS = {
    "CFQ7TTC0LCHC:0002": "22.00",  # Business Premium
    "CFQ7TTC0LDPB:0001": "12.50",  # Business Standard
    "CFQ7TTC0LH18:0001": "6.00",  # Business Basic
    "CFQ7TTC0LFLX:0001": "36.00",  # E3
    "CFQ7TTC0LFLZ:0001": "57.00",  # E5
    "CFQ7TTC0LH16:0001": "4.00",  # Exchange Online P1
    "CFQ7TTC0RM8K:0001": "10.00",  # Teams Premium
    "CFQ7TTC0HD32:0002": "15.00",  # Visio Plan 2
    "CFQ7TTC0MM8R:0001": "30.00",  # Copilot
    "CFQ7TTC0J1GB:0001": "3.00",  # Defender for Endpoint P1
}
TRIAL_OFFER = "CFQ7TTC0LCHC:0001"
SIZES = (1, 2, 3, 4, 5, 6, 8, 10, 10, 12, 12, 14, 15, 16, 18, 20, 25)  # subscriptions each


@dataclass(frozen=True)
class Customer:
    """One customer's input to the planner."""

    subscriptions: tuple[SubscriptionFacts, ...]
    assigned: dict[str, int]
    changing: frozenset[str]


def book(total: int, seed: int = SEED) -> list[Customer]:
    """Customers holding `total` subscriptions in all, the same for the same seed."""
    rng = random.Random(seed)
    customers: list[Customer] = []
    made = 0
    while made < total:
        size = min(rng.choice(SIZES), total - made)
        customers.append(_customer(rng, len(customers), size))
        made += size
    return customers


def _customer(rng: random.Random, index: int, size: int) -> Customer:
    distinct = max(1, min(len(OFFERS), size - rng.choice((0, 0, 0, 1, 1, 2))))
    offers = rng.sample(sorted(OFFERS), distinct)
    offers += [rng.choice(offers) for _ in range(size - distinct)]  # duplicates
    subs = [_subscription(rng, f"s{index}-{n}", offer) for n, offer in enumerate(offers)]
    assigned: dict[str, int] = {}
    for offer in offers:
        held = sum(s.quantity for s in subs if s.offer_id == offer and s.status is Status.ACTIVE)
        roll = rng.random()
        if roll < 0.05:
            continue  # no count known for this offer
        if roll < 0.20:
            assigned[offer] = 0  # nobody uses it
        elif roll < 0.40:
            assigned[offer] = held  # exactly right
        elif roll < 0.45:
            assigned[offer] = held + rng.randint(1, 5)  # stale, more than held
        else:
            assigned[offer] = max(0, held - rng.randint(1, max(1, held // 3)))  # excess
    changing = frozenset(s.id for s in subs if rng.random() < 0.01)
    return Customer(tuple(subs), assigned, changing)


def _subscription(rng: random.Random, sub_id: str, offer: str) -> SubscriptionFacts:
    roll = rng.random()
    price = Decimal(OFFERS[offer])
    if roll < 0.03:  # a trial: 25 seats, one month, not reducible
        start = NOW - timedelta(days=rng.uniform(1, 28))
        return SubscriptionFacts(
            id=sub_id,
            offer_id=TRIAL_OFFER,
            quantity=25,
            term_start=start,
            commitment_end=(start + timedelta(days=30)).date(),
            created_at=start,
            is_trial=True,
            term_duration="P1M",
            tranches=(Tranche(25, start),),
        )
    term = "P1M" if rng.random() < 0.15 else "P1Y"
    length = 30 if term == "P1M" else 365
    if roll < 0.06:  # renewal in progress: the term ended a few hours ago
        start = NOW - timedelta(days=length, hours=rng.uniform(1, 20))
    else:
        start = NOW - timedelta(days=rng.uniform(0.2, length - 1))
    base = rng.choice((1, 1, 2, 3, 5, 5, 10, 10, 15, 20, 25, 50, 100, 300))
    tranches = [Tranche(base, start)]
    if rng.random() < 0.25:  # seats added in the last 7 days: still returnable
        tranches.append(Tranche(rng.randint(1, 5), NOW - timedelta(days=rng.uniform(0.1, 6.9))))
    quantity = sum(t.quantity for t in tranches)
    status = Status.ACTIVE
    if roll > 0.97:
        status = Status.SUSPENDED
    elif roll > 0.955:
        status = rng.choice((Status.EXPIRED, Status.DELETED))
    scheduled: dict[str, object] = {}
    if status is Status.ACTIVE and rng.random() < 0.06:
        other = rng.random() < 0.3
        scheduled = {
            "has_scheduled_changes": True,
            "scheduled_quantity": max(1, quantity + rng.randint(-quantity, 3)),
            "scheduled_other_changes": other,
        }
    return SubscriptionFacts(
        id=sub_id,
        offer_id=offer,
        quantity=quantity,
        term_start=start,
        commitment_end=(start + timedelta(days=length - 1)).date(),
        created_at=start - timedelta(days=rng.choice((0, 0, 0, 30, 400))),
        status=status,
        is_nce=rng.random() > 0.05,
        auto_renew=status is Status.ACTIVE and rng.random() > 0.1,
        tranches=tuple(tranches),
        unit_price=price,
        term_duration=term,
        update_count=rng.choice((0, 0, 0, 1, 2, 5, 1200)) if rng.random() < 0.01 else 0,
        **scheduled,
    )


def plan_all(customers: Sequence[Customer]) -> list[Plan]:
    """Plan every customer, as the nightly adjustment does."""
    return [
        plan_adjustment(c.subscriptions, c.assigned, NOW, changing=c.changing) for c in customers
    ]


def best_of(runs: int, customers: Sequence[Customer]) -> tuple[float, list[Plan]]:
    """The fastest of `runs` timed runs, and the plans of the last."""
    best = float("inf")
    plans: list[Plan] = []
    for _ in range(runs):
        plans = []
        gc.collect()
        started = time.perf_counter()
        plans = plan_all(customers)
        best = min(best, time.perf_counter() - started)
    return best, plans


def allocated_peak_mib(customers: Sequence[Customer]) -> float:
    """Peak memory allocated while planning (the plans are kept until the end)."""
    gc.collect()
    tracemalloc.start()
    try:
        plans = plan_all(customers)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del plans
    return peak / 1024**2


def input_mib(total: int) -> float:
    """Memory the input facts themselves take."""
    gc.collect()
    tracemalloc.start()
    try:
        customers = book(total)
        size = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del customers
    return size / 1024**2


def run(*, quick: bool = False, record: bool = True) -> common.Result:
    """Run the planner benchmark, print it, and (if `record`) add it to BENCHMARKS.md."""
    total = QUICK if quick else FULL
    runs = 1 if quick else 3
    result = common.Result(
        "planner",
        f"{total:,} subscriptions through `plan_adjustment` (app/domain/adjustment.py), "
        f"one call per customer, best of {runs}",
        quick=quick,
    )
    customers = book(total)
    subs = sum(len(c.subscriptions) for c in customers)
    seconds, plans = best_of(runs, customers)
    rss = common.max_rss_mib()  # the input, its plans and the interpreter; nothing else yet
    kinds = Counter(a.kind.value for plan in plans for a in plan.actions)
    del plans
    peak = allocated_peak_mib(customers)
    inputs = input_mib(total)

    # Growth: the same mix at a quarter and half the size, and one customer holding it all.
    growth = []
    for share in (4, 2):
        part = book(total // share)
        part_seconds, _ = best_of(runs, part)
        growth.append((sum(len(c.subscriptions) for c in part), part_seconds))
    growth.append((subs, seconds))
    everything = [c.subscriptions for c in customers]
    one = Customer(
        tuple(s for group in everything for s in group),
        _merged_assigned(customers),
        frozenset().union(*(c.changing for c in customers)),
    )
    one_seconds, _ = best_of(runs, [one])

    result.add(
        f"{subs:,} subscriptions of {len(customers):,} customers",
        f"{seconds:.2f} s ({seconds / subs * 1e6:.1f} µs each)",
        f"< {TARGET_SECONDS:g} s" if not quick else "",
        seconds < TARGET_SECONDS if not quick else None,
    )
    result.add("planned actions (changes + notes)", f"{sum(kinds.values()):,}")
    result.add("memory allocated while planning (tracemalloc peak)", f"{peak:.0f} MiB")
    result.add("input facts held in memory", f"{inputs:.0f} MiB")
    result.add(
        "peak resident memory while planning (max RSS of the process)",
        f"{rss:.0f} MiB",
        f"< {TARGET_MEMORY_MIB:g} MB (worker)" if not quick else "",
        rss < TARGET_MEMORY_MIB if not quick else None,
    )
    result.add(
        "growth: µs per subscription at " + " / ".join(f"{n:,}" for n, _ in growth),
        " / ".join(f"{s / n * 1e6:.1f}" for n, s in growth),
        "flat (linear cost)",
    )
    result.add(
        f"worst grouping: one customer holding all {subs:,}",
        f"{one_seconds:.2f} s",
    )
    result.notes.append(
        "Actions by kind: " + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())) + "."
    )
    result.notes.append(
        f"Input: seed {SEED}, planning time {NOW:%Y-%m-%d %H:%M} UTC; generation is not timed. "
        "Max RSS is read right after the timed runs: the interpreter, the input facts and "
        "their plans."
    )
    if not quick and seconds >= TARGET_SECONDS:
        result.notes.append(
            "Target missed: profile with `python -m cProfile -s cumtime -m bench.planner "
            "--no-record` and look at the top of app/domain/adjustment.py's call tree."
        )
    result.data = {"seconds": seconds, "subscriptions": subs, "rss_mib": rss, "kinds": kinds}
    common.publish(result, record=record)
    return result


def _merged_assigned(customers: Sequence[Customer]) -> dict[str, int]:
    merged: Counter[str] = Counter()
    for customer in customers:
        merged.update(customer.assigned)
    return dict(merged)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.planner [--quick] [--no-record]`."""
    args = common.arguments(__doc__.splitlines()[0] if __doc__ else None, argv)
    run(quick=args.quick, record=args.record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
