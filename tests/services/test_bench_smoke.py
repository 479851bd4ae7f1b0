"""The benchmarks run in their quick form, so the bench code cannot rot (no timings asserted)."""

from __future__ import annotations

import pytest
from flask import Flask

from bench import adjustment, changes, common, load, pages, planner
from bench import sync as sync_bench
from tests.support.processes import Emulator

pytestmark = pytest.mark.slow


def recorded() -> str | None:
    return common.RESULTS.read_text() if common.RESULTS.exists() else None


def test_each_benchmark_runs_quick_without_recording(app: Flask, emulator: Emulator) -> None:
    before = recorded()

    plans = planner.run(quick=True, record=False)
    synced = sync_bench.run(
        quick=True, record=False, app=app, emulator=common.Emulator(emulator.url)
    )

    assert plans.data["subscriptions"] == planner.QUICK and plans.data["kinds"]
    first, second = synced.data["first"], synced.data["second"]
    assert first.report.failed == {} and first.report.requests == first.logged > 0
    assert second.report.subscriptions_created == second.report.subscriptions_changed == 0
    assert synced.data["throttled"].report.failed == {}
    assert recorded() == before


def test_pages_benchmark_runs_quick_without_recording() -> None:
    """gunicorn, the seeded pages under load for half a second each, the query counts."""
    before = recorded()

    result = pages.run(quick=True, record=False, seconds=0.5)

    loads = result.data["loads"]
    names = [name for name, *_ in pages.pages(result.data["seeded"])]
    assert [load.name for load in loads][: len(names)] == names
    assert all(load.latencies and not load.failures for load in loads)
    small, large = result.data["counts"]
    assert (small.rows, large.rows) == pages.QUERY_SIZES
    assert set(small.counts) == set(large.counts) and small.counts["/healthz"] == 0
    assert all(n > 0 for name, n in small.counts.items() if name != "/healthz")
    assert recorded() == before


def test_changes_benchmark_runs_quick_without_recording() -> None:
    """Real workers (1, then 4) apply a few changes asked through `request_change`."""
    before = recorded()

    result = changes.run(quick=True, record=False, changes=4)

    runs = result.data["runs"]
    assert [r.workers for r in runs] == list(changes.WORKERS)
    for r in runs:
        assert len(r.changes) == 4 and not r.failed and r.patches == 4
        assert all(c.seen_done is not None for c in r.changes)
    assert recorded() == before


def test_adjustment_benchmark_runs_quick_without_recording() -> None:
    """The nightly adjustment of a few customers through 2 real workers; no wasted writes."""
    before = recorded()

    result = adjustment.run(quick=True, record=False, customers=8)

    night = result.data["night"]
    assert night.jobs == night.customers == 8
    assert night.statuses.get("finished") == 8 and night.runs.get("done") == 8
    assert night.actions_total > 0 and night.writes == night.actions_total
    assert night.peak_mib > 0
    assert recorded() == before


def test_load_benchmark_runs_quick_without_recording() -> None:
    """10 people for 5 s on gunicorn with 2 real workers: no 5xx, changes done, and Partner
    Center agrees with the database."""
    before = recorded()

    result = load.run(quick=True, record=False)

    ran, done = result.data["load"], result.data["outcome"]
    assert len(result.data["people"]) == load.QUICK.users
    assert ran.requests > 0 and ran.server_errors == 0 and ran.failures == 0
    assert all(ran.kinds[kind].latencies for kind in ("license page", "people page", "row poll"))
    assert ran.accepted > 0 and done.states.get("done", 0) > 0
    assert not done.states.get("pending") and not done.states.get("running")
    assert done.disagree == [] and done.checked == load.QUICK.customers * load.QUICK.subscriptions
    assert recorded() == before
