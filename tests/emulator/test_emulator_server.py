"""`python -m emulator --port 0` over real HTTP."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.emulator.helpers import PARTNER_TENANT, northwind

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def served() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The emulator started as a user would, on a free port."""
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--host", "127.0.0.1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        match = re.fullmatch(r"Emulator listening on (http://127\.0\.0\.1:(\d+))", line)
        assert match, line
        assert int(match.group(2)) > 0
        yield process, match.group(1)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def test_the_emulator_serves_real_http_concurrently_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[str], str],
) -> None:
    process, url = served
    with httpx.Client(base_url=url, timeout=10) as http:
        assert http.post("/_emulator/scenario", json=northwind()).status_code == 201
        token = http.post(
            f"/{PARTNER_TENANT}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        path = "/v1/customers/cust-1/subscriptions/sub-1"

        def increase(n: int) -> int:
            sub = http.get(path, headers=headers).json()
            body = {**sub, "quantity": sub["quantity"] + 1}
            request_headers = {**headers, "MS-RequestId": f"op-{n}"}
            return http.patch(path, json=body, headers=request_headers).status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(increase, range(16)))
        assert set(statuses) == {200}
        final = http.get(path, headers=headers).json()
        assert final["quantity"] >= 13
        log = http.get("/_emulator/state").json()["requests"]
        assert len([e for e in log if e["method"] == "PATCH"]) == 16
        assert http.get("/v1/customers").status_code == 401
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
