"""The web layer's one convention (ARCHITECTURE.md, "The web layer's one convention").

Every view answers through `page_or_partial`: the partial only for an htmx request that is
neither boosted nor a history restore (both want the whole page, with its navigation);
otherwise the whole page. `Vary` is added once, in `after_request`, so caches keep the two
answers apart. A refused form answers `REFUSED` (422) everywhere, with the same markup and
its message; htmx is configured in base.html to swap that status.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, flash, make_response, redirect, render_template
from werkzeug.wrappers import Response

from app.extensions import htmx

REFUSED = 422  # a form that was refused: the same page or partial, with its message
VARY = ("HX-Request", "HX-Boosted", "HX-History-Restore-Request")
_VARY = ", ".join(VARY)


def wants_partial() -> bool:
    """True for an htmx request that asks for a piece of the page (not boosted, not a
    history restore after a back-button cache miss)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def page_or_partial(
    partial: str | Callable[[], str],
    page: str | Callable[[], str],
    /,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """Render `partial` for htmx, else `page`: each a template rendered with `context`, or a
    function that renders it."""
    chosen = partial if wants_partial() else page
    body = chosen() if callable(chosen) else render_template(chosen, **context)
    return make_response(body, status, headers or {})


def answer_post(message: str | None, back: str, respond: Callable[..., Response]) -> Response:
    """After a form was posted: for htmx the partial (`respond`), with the reason and 422
    when refused; without JavaScript a redirect `back` when accepted, else the whole page
    with the reason (422). A refusal is announced in the live region."""
    if not wants_partial():
        if message is None:
            return redirect(back, 303)
        flash(message, "error")
    return respond(message=message, status=REFUSED if message else 200, announce=message)


def register(app: Flask) -> None:
    """Add the Vary header to every answer, once."""

    @app.after_request
    def vary_on_htmx(response: Response) -> Response:
        if "Vary" not in response.headers:  # most answers: one header set, nothing parsed
            response.headers["Vary"] = _VARY
            return response
        for header in VARY:
            if header not in response.vary:
                response.vary.add(header)
        return response
