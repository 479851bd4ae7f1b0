"""Where the rate limits apply: one before_request for every view, keyed by kind of request.

- sign-in (starting it and the callback): per remote address;
- changes (every POST but sign-out: quantities, assignments, settings, access, branding,
  orders...): per signed-in person and per remote address.
Everything else (pages, polling) is not limited. The limits come from the config
(RATELIMIT_*), so tests can set low ones; the defaults are far above what a person does.
"""

from __future__ import annotations

import time

from flask import Flask, current_app, render_template, request
from flask_login import current_user
from werkzeug.wrappers import Response

from app.queue import get_redis
from app.services import ratelimit
from app.services.ratelimit import Limit
from app.views.rendering import wants_partial

SIGN_IN = {"auth.login", "auth.callback"}
NOT_A_CHANGE = {"auth.logout"}  # signing out must always work
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _limits_for_request() -> list[tuple[str, Limit]]:
    """The (key, limit) pairs this request counts against; none for most requests."""
    config = current_app.config
    address = request.remote_addr or "unknown"
    endpoint = request.endpoint or ""
    if endpoint in SIGN_IN:
        return [(f"signin:addr:{address}", Limit.parse(config["RATELIMIT_SIGNIN_PER_ADDRESS"]))]
    if request.method not in CHANGING or endpoint in NOT_A_CHANGE:
        return []
    keyed = [(f"change:addr:{address}", Limit.parse(config["RATELIMIT_CHANGES_PER_ADDRESS"]))]
    if current_user.is_authenticated:
        keyed.append(
            (f"change:user:{current_user.id}", Limit.parse(config["RATELIMIT_CHANGES_PER_USER"]))
        )
    return keyed


def _too_many(retry_after: int) -> Response:
    """The 429 answer: a page, or for htmx a message put at the top of the page's content."""
    headers = {"Retry-After": str(retry_after)}
    if wants_partial():
        body = render_template("errors/_too_many.html", retry_after=retry_after)
        headers |= {"HX-Retarget": "#main", "HX-Reswap": "afterbegin"}
    else:
        body = render_template("errors/too_many.html", retry_after=retry_after)
    return Response(body, 429, headers)


def register(app: Flask) -> None:
    """Check the rate limits before every view."""

    @app.before_request
    def rate_limit() -> Response | None:
        keyed = _limits_for_request()
        if not keyed:
            return None
        refused = ratelimit.check(get_redis(), keyed, time.time())
        if refused is None:
            return None
        current_app.logger.warning(
            "rate limited: %s %s from %s", request.method, request.endpoint, request.remote_addr
        )
        return _too_many(refused.retry_after)
