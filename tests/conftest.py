"""Shared fixtures: real Redis, a real database, the local OpenID provider and a live server.

Every external part is real: Redis is REDIS_URL or an embedded redis-server, the database
is DATABASE_URL or a SQLite file, sign-in goes through oidc-provider-mock over HTTP.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.support import processes

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests carry the `e2e` marker (`-m "not e2e"` runs the rest). The chaos run
    runs only when asked for by name (`-m chaos`, `make chaos`): it takes minutes."""
    for item in items:
        if "tests/e2e/" in item.nodeid:
            item.add_marker(pytest.mark.e2e)
    if "chaos" in (config.option.markexpr or ""):
        return
    chaos = [item for item in items if item.get_closest_marker("chaos")]
    if chaos:
        config.hook.pytest_deselected(items=chaos)
        items[:] = [item for item in items if not item.get_closest_marker("chaos")]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """REDIS_URL when set (CI), else an embedded redis-server for this run."""
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with processes.embedded_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """DATABASE_URL when set (CI on PostgreSQL), else a SQLite file for this run."""
    return os.environ.get("DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'seatwise.db'}"
    )


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[processes.OidcProvider]:
    """The local OpenID provider (oidc-provider-mock), as `make run` starts it."""
    with processes.oidc_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def _emulator() -> Iterator[processes.Emulator]:
    """The Partner Center + Graph emulator for the whole run (a real HTTP server)."""
    with processes.emulator() as running:
        yield running


@pytest.fixture
def emulator(_emulator: processes.Emulator) -> Iterator[processes.Emulator]:
    """The emulator, empty at the start of the test and reset after it."""
    _emulator.reset()
    yield _emulator
    _emulator.reset()


@pytest.fixture(scope="session")
def _app(
    redis_url: str,
    database_url: str,
    oidc_provider: processes.OidcProvider,
    _emulator: processes.Emulator,
) -> Iterator[Flask]:
    """One app for the session, with the schema built by the migrations."""
    from app import create_app

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "RQ_QUEUE": f"test-{uuid.uuid4().hex[:8]}",
            "OIDC_AUTHORITY": oidc_provider.url,
            "PARTNER_CENTER_URL": _emulator.url,
            "GRAPH_URL": _emulator.url,
            "TOKEN_AUTHORITY": _emulator.url,
            # Short waits so fault tests run in seconds; production keeps ~2 min for 409s.
            "MICROSOFT_RETRY_SECONDS": 30.0,
            "MICROSOFT_CONFLICT_DELAY": 0.2,
            "MICROSOFT_TIMEOUT": 2.0,
            "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False,
            "SERVER_NAME": None,
        }
    )
    with app.app_context():
        reset_schema(app)
    yield app
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()  # close pooled connections before the interpreter does


def reset_schema(app: Flask) -> None:
    """Drop everything and build the schema with the Alembic migrations."""
    from flask_migrate import upgrade

    from app.extensions import db

    with db.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            db.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


@pytest.fixture
def app(_app: Flask, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app, with a queue of the test's own, and every table emptied after the test.

    Only tests that use the session's `worker` process share its queue: jobs another test
    leaves queued must not run later, against the next test's data and emulator.
    """
    from app.extensions import db
    from app.queue import get_queue

    shared = _app.config["RQ_QUEUE"]
    if "worker" not in request.fixturenames:
        _app.config["RQ_QUEUE"] = f"{shared}-{uuid.uuid4().hex[:6]}"
    try:
        yield _app
    finally:
        with _app.app_context():
            if _app.config["RQ_QUEUE"] != shared:
                get_queue().delete(delete_jobs=True)
            _app.config["RQ_QUEUE"] = shared
            db.session.remove()
            with db.engine.begin() as conn:
                for table in reversed(db.metadata.sorted_tables):
                    conn.execute(table.delete())


@pytest.fixture
def work(app: Flask) -> Callable[[], None]:
    """Run the queued jobs now, in this process, with a real RQ worker (burst mode)."""
    from rq import SimpleWorker

    from app.queue import get_queue, get_redis

    def drain() -> None:
        with app.app_context():
            SimpleWorker([get_queue()], connection=get_redis()).work(burst=True)

    return drain


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    """A CLI runner of the app."""
    return app.test_cli_runner()


@pytest.fixture
def demo(app: Flask, emulator: processes.Emulator) -> dict[str, int]:
    """The demo data (the same `flask seed-demo` creates): emulator scenario, then a sync."""
    from app.services.demo import seed_demo

    with app.app_context():
        return seed_demo()


@pytest.fixture(scope="session")
def live_server(_app: Flask) -> Iterator[str]:
    """The app served over real HTTP on a free port, for the browser."""
    with processes.serve_in_thread(_app) as url:
        yield url


@pytest.fixture(scope="session")
def worker(_app: Flask, repo_root_session: Path) -> Iterator[None]:
    """A real RQ worker process (`flask worker`) on the app's queue, database and emulator."""
    config = _app.config
    env = {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"],
        "RQ_QUEUE": config["RQ_QUEUE"],
        "PARTNER_CENTER_URL": config["PARTNER_CENTER_URL"],
        "GRAPH_URL": config["GRAPH_URL"],
        "TOKEN_AUTHORITY": config["TOKEN_AUTHORITY"],
        "MICROSOFT_CONFLICT_DELAY": str(config["MICROSOFT_CONFLICT_DELAY"]),
        "MICROSOFT_RETRY_SECONDS": str(config["MICROSOFT_RETRY_SECONDS"]),
    }
    with processes.worker_process(repo_root_session, env):
        yield


@pytest.fixture(scope="session")
def repo_root_session() -> Path:
    """The repository root, for session fixtures."""
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Drive Debian's Chromium; Playwright must never download a browser here."""
    return {**browser_type_launch_args, "executable_path": processes.CHROMIUM}


@pytest.fixture
def repo_root() -> Path:
    """The repository root (for commands run as a user would)."""
    return Path(__file__).resolve().parent.parent
