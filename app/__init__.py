"""Seatwise: a self-service Microsoft 365 license storefront for CSP partners."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from flask import Flask

from app.config import Config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: read config, then wire extensions, blueprints, errors, CLI and queue."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(Config(Path(app.instance_path)).as_dict())
    if config:
        app.config.from_mapping(config)
    require_secret_key(app)
    trust_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_cli(app)
    register_queue(app)
    return app


class MissingSecretKey(RuntimeError):
    """Seatwise was started for real without SECRET_KEY."""


def require_secret_key(app: Flask) -> None:
    """Refuse to start without SECRET_KEY, except in development, the demo and tests: a key
    made up per start would sign everyone out at each restart and differ between workers."""
    if app.config.get("SECRET_KEY"):
        return
    if app.testing:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    raise MissingSecretKey(
        "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
        "value (for example: python -c 'import secrets; print(secrets.token_hex(32))'), the "
        "same for every web and worker process. Only development (SEATWISE_DEVELOPMENT=1) "
        "and the demo (SEATWISE_DEMO=1) generate one by themselves."
    )


def trust_proxies(app: Flask) -> None:
    """Behind TRUSTED_PROXY_COUNT reverse proxies, believe their X-Forwarded-* headers (the
    client's address, scheme and host); with none (the default) they are ignored, so a
    client cannot pick the host, and with it the brand, by sending X-Forwarded-Host."""
    count = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=count, x_proto=count, x_host=count, x_port=count
        )


def register_extensions(app: Flask) -> None:
    """Initialise the Flask extensions on this app."""
    from app import models  # noqa: F401  (the models must be known to the metadata)
    from app.extensions import csrf, db, htmx, login_manager, migrate

    _tune_sqlite(app)
    db.init_app(app)
    migrate.init_app(
        app, db, directory=str(Path(app.root_path) / "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)


def _tune_sqlite(app: Flask) -> None:
    """SQLite (the embedded default): wait for locks instead of failing at once, and use WAL
    so the web app can read while a worker writes. No ping before each use of a pooled
    connection: that guards against a server dropping it, and a file has no server (the
    ping was a statement per request)."""
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        return
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    options["pool_pre_ping"] = False
    options["connect_args"] = {"timeout": 30, **options.get("connect_args", {})}
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not getattr(_tune_sqlite, "listening", False):

        @event.listens_for(Engine, "connect")
        def _wal(dbapi_connection, connection_record):  # type: ignore[no-untyped-def]
            if type(dbapi_connection).__module__.startswith("sqlite3"):
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()

        _tune_sqlite.listening = True  # type: ignore[attr-defined]


def register_blueprints(app: Flask) -> None:
    """Attach the blueprints of each area."""
    from app.views import (
        admin,
        auth,
        customer_rows,
        insights,
        jobs,
        limits,
        mail,
        main,
        nav,
        portal,
        reconciliation,
        rendering,
        reports,
        resellers,
        security,
        storefront,
        urls,
    )

    rendering.register(app)  # page or partial, and Vary, the same for every view
    security.register(app)  # CSP, framing, sniffing, referrer and HSTS headers on every answer
    limits.register(app)  # rate limits on sign-in and on changes, before every view
    urls.register(app)  # templates' url_for, each URL built once per process
    customer_rows.register(app)  # the console's customer rows, rendered once and kept
    nav.register(app)  # the navigation links, rendered once per set of what they show
    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(reconciliation.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(storefront.bp)
    app.register_blueprint(resellers.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(mail.bp)
    app.register_blueprint(insights.bp)


def register_errorhandlers(app: Flask) -> None:
    """Render errors as pages people can read."""
    from app.views import errors

    errors.register(app)


def register_cli(app: Flask) -> None:
    """Add the `flask --app wsgi ...` commands."""
    from app import cli

    cli.register(app)


def register_queue(app: Flask) -> None:
    """Attach the RQ queue (Redis from REDIS_URL or embedded)."""
    from app.queue import register_queue as attach

    attach(app)
