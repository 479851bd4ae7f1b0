"""A local Partner Center + Microsoft Graph emulator: a separate Flask app, state in memory."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from emulator.clock import Clock, parse_iso
from emulator.context import Emulator
from emulator.state import DEFAULT_RENEWAL_PENDING, DEFAULT_UPDATE_CAP, Store
from emulator.tokens import Tokens
from emulator.traffic import Faults, RequestLog, Throttle

DEFAULT_TIMEOUT_SECONDS = 30.0


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the emulator app.

    Config keys: ``EMULATOR_NOW`` (ISO; freezes the clock there), ``EMULATOR_TIMEOUT_SECONDS``
    (how long a "timeout" fault sleeps), ``EMULATOR_RENEWAL_PENDING_MINUTES``,
    ``EMULATOR_UPDATE_CAP``.
    """
    app = Flask(__name__)
    app.config.update(config or {})
    app.json.sort_keys = False  # type: ignore[attr-defined]
    clock = Clock()
    if app.config.get("EMULATOR_NOW"):
        clock.set(parse_iso(str(app.config["EMULATOR_NOW"])))
    pending = app.config.get("EMULATOR_RENEWAL_PENDING_MINUTES")
    store = Store(
        clock,
        renewal_pending=timedelta(minutes=pending) if pending else DEFAULT_RENEWAL_PENDING,
        update_cap=int(app.config.get("EMULATOR_UPDATE_CAP", DEFAULT_UPDATE_CAP)),
    )
    app.extensions["emulator"] = Emulator(
        store=store,
        tokens=Tokens(),
        faults=Faults(),
        throttle=Throttle(clock.now),
        log=RequestLog(),
        timeout_seconds=float(app.config.get("EMULATOR_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)),
    )
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    """Admin, token, Partner Center and Graph routes, and the request gate."""
    from emulator import admin, billing, gate, graph, graph_reports, partner_center, tokens

    gate.register(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(tokens.bp)
    app.register_blueprint(partner_center.bp)
    app.register_blueprint(graph.bp)
    app.register_blueprint(graph_reports.v1)
    app.register_blueprint(graph_reports.beta)
    app.register_blueprint(graph_reports.download)
    app.register_blueprint(billing.bp)
