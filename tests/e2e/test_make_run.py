"""`make run`'s script starts the whole product, serves pages, and stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.support.processes import free_port


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment carries `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_run_serves_the_product_prints_demo_sign_ins_and_stops_on_ctrl_c(
    repo_root: Path, tmp_path: Path
) -> None:
    marker = f"SEATWISE_TEST_RUN={uuid.uuid4().hex}"
    port, emulator_port, oidc_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        PORT=str(port),
        EMULATOR_PORT=str(emulator_port),
        OIDC_PORT=str(oidc_port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.db'}",
    )
    env[marker.split("=")[0]] = marker.split("=")[1]
    proc = subprocess.Popen(
        [sys.executable, "scripts/run.py"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 180  # installs nothing; a loaded 2-core machine is slow
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Logs are in"):
                break
        output = "\n".join(lines)
        assert f"Seatwise is running at http://127.0.0.1:{port}" in output, output
        assert "sign in as ann@northwind.example: Modify on Northwind Traders" in output
        assert "sign in as pat@partner.example: Partner admin on all customers" in output
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
        assert page.status_code == 200 and "Sign in with Microsoft" in page.text
        assert len(processes_with(marker)) >= 5  # redis, provider, worker, web, this script
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Stopped." in rest
    time.sleep(0.5)
    assert processes_with(marker) == []
