"""`url_for` in templates, built once per process for each endpoint and arguments.

A page calls `url_for` twenty to seventy times (the navigation, static files, a link per
row); werkzeug builds each URL afresh, which was a tenth of a small page's CPU
(bench/BENCHMARKS.md). Within a request a relative URL depends only on the endpoint, its
arguments (in their order, for the query string) and the application's script root, so it is
kept under exactly those. Anything else (blueprint-relative endpoints, `_external`,
`_anchor`, `_method`, `_scheme`, unhashable values, no request) is built as Flask builds it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask import Flask, has_request_context, request, url_for

URLS_KEPT = 4_096


def register(app: Flask) -> None:
    """Give the app's templates the kept `url_for`."""

    @lru_cache(maxsize=URLS_KEPT)
    def built(script_root: str, endpoint: str, values: tuple[tuple[str, type, Any], ...]) -> str:
        return url_for(endpoint, **{name: value for name, _, value in values})

    def template_url_for(endpoint: str, /, **values: Any) -> str:
        if endpoint.startswith(".") or not has_request_context():
            return url_for(endpoint, **values)
        if any(name.startswith("_") for name in values):
            return url_for(endpoint, **values)
        # With each value's type: 1 and True are equal keys but different URLs.
        key = tuple((name, type(value), value) for name, value in values.items())
        try:
            return built(request.script_root, endpoint, key)
        except TypeError:  # an unhashable value (a list for a repeated query argument)
            return url_for(endpoint, **values)

    app.jinja_env.globals["url_for"] = template_url_for
