"""Error pages: a readable message, never a stack trace; htmx gets a fragment or a refresh."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.extensions import htmx
from app.services.errors import NotFound

MESSAGES = {
    400: "The request could not be understood.",
    403: "You do not have access to this page.",
    404: "There is nothing here, or you do not have access to it.",
    405: "That action is not available here.",
    409: "Someone else changed this in the meantime. Reload and try again.",
    413: "The upload is too large.",
    429: "Too many requests. Please wait a moment and try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
}


def register(app: Flask) -> None:
    """Attach the error handlers to the app."""

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int, dict[str, str]]:
        # htmx 2 does not swap 4xx answers: ask it to reload the page (fresh token).
        headers = {"HX-Refresh": "true"} if htmx else {}
        body = render_template(
            "errors/error.html",
            code=400,
            message="Your session form expired. Reload the page and try again.",
        )
        return body, 400, headers

    @app.errorhandler(NotFound)
    def not_found(error: NotFound) -> tuple[str, int]:
        return render_template("errors/error.html", code=404, message=MESSAGES[404]), 404

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        message = MESSAGES.get(code, error.description or "Error")
        return render_template("errors/error.html", code=code, message=message), code

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[str, int]:
        return render_template("errors/error.html", code=500, message=MESSAGES[500]), 500
