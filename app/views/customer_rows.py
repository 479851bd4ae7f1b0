"""The partner console's customer list: its rows, rendered once and kept.

A row shows exactly the fields of its `customers.CustomerRow` (a frozen dataclass: the
name, reseller, sync state, seats, cost...), so a worker process keeps each rendered row
under the row itself (and the script root its link is under) and renders again only rows
whose data changed, as the license and people pages do with theirs (app.views.license_page).
Rendering 50 rows through Jinja for every view was about half of the list's CPU
(bench/BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import Flask, current_app, request
from markupsafe import Markup

from app.models._types import utcnow
from app.services.customers import CustomerRow
from app.views.license_page import ROW_SECONDS, KeptRow, RowCache


def _cache() -> RowCache[KeptRow]:
    cache: RowCache[KeptRow] | None = current_app.extensions.get("seatwise.customer_rows")
    if cache is None:
        cache = current_app.extensions.setdefault("seatwise.customer_rows", RowCache())
    return cache


def customer_rows(rows: Iterable[CustomerRow]) -> Markup:
    """The `<tr>` of each row, kept ones reused (templates call it as `customer_rows`).

    The whole page of rows is kept too, under all of its rows: looking up 50 rows one by one
    cost more than the rest of the list's rendering."""
    cache = _cache()
    now = utcnow()
    rows = tuple(rows)
    page_key = ("customers", request.script_root, rows)
    kept_page = cache.get(page_key, now)
    if kept_page is not None:
        return Markup(kept_page.html)  # noqa: S704 (rendered by autoescaping templates)
    html = _rows(cache, rows, now)
    cache.put(page_key, KeptRow(html, 0, now + timedelta(seconds=ROW_SECONDS)))
    return Markup(html)  # noqa: S704 (rendered by autoescaping templates)


def _rows(cache: RowCache[KeptRow], rows: tuple[CustomerRow, ...], now: datetime) -> str:
    template = None
    shown = []
    for row in rows:
        key = ("customer", request.script_root, row)
        kept = cache.get(key, now)
        if kept is None:
            if template is None:
                template = current_app.jinja_env.get_template("admin/_customer_row.html")
            kept = KeptRow(template.render(row=row), 0, now + timedelta(seconds=ROW_SECONDS))
            cache.put(key, kept)
        shown.append(kept.html)
    # Rendered by the app's autoescaping templates: already safe HTML.
    return "".join(shown)


def register(app: Flask) -> None:
    """Give the templates `customer_rows`."""
    app.jinja_env.globals["customer_rows"] = customer_rows
