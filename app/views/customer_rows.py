"""The partner console's customer list: its filters, table and rows, rendered once and kept.

A row shows exactly the fields of its `customers.CustomerRow` (a named tuple: the
name, reseller, sync state, seats, cost...), so a worker process keeps each rendered row
under the row itself (and the script root its link is under) and renders again only rows
whose data changed, as the license and people pages do with theirs (app.views.license_page).
Rendering 50 rows through Jinja for every view was about half of the list's CPU
(bench/BENCHMARKS.md).

The table around them (the count, the rows, the pager) is kept the same way under what it
shows: the filters, the page's rows, total and position, and the script root; and so is the
filters' form, under the filters and the resellers to choose from. Neither holds a CSRF token
(the form is a GET). Each kept piece expires with its rows (`ROW_SECONDS`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import timedelta

from flask import Flask, current_app, render_template, request
from markupsafe import Markup

from app.models._types import utcnow
from app.services.customers import CustomerFilter, CustomerPage, CustomerRow
from app.views.license_page import ROW_SECONDS, KeptRow, RowCache, kept_html, kept_rows

CACHE = "seatwise.customer_rows"


def _cache() -> RowCache[KeptRow]:
    return kept_rows(CACHE)


def customer_table(page: CustomerPage, filters: CustomerFilter) -> Markup:
    """The list's table: its count, rows and pager (templates call it as `customer_table`)."""
    key = (
        "customer-table",
        request.script_root,
        filters,
        tuple(page.rows),
        page.total,
        page.page,
        page.pages,
        page.per_page,
    )
    return _kept(key, "admin/_customer_table_kept.html", page=page, filters=filters)


def customer_filters(filters: CustomerFilter, resellers: list[tuple[str, str]]) -> Markup:
    """The list's search and filters form (templates call it as `customer_filters`)."""
    key = ("customer-filters", request.script_root, filters, tuple(resellers))
    return _kept(key, "admin/_customer_filters_kept.html", filters=filters, resellers=resellers)


def _kept(key: tuple[Hashable, ...], template: str, **context: object) -> Markup:
    html = kept_html(CACHE, key, lambda: render_template(template, **context))
    return Markup(html)  # noqa: S704 (rendered by autoescaping templates)


def customer_rows(rows: Iterable[CustomerRow]) -> Markup:
    """The `<tr>` of each row, kept ones reused (templates call it as `customer_rows`)."""
    cache = _cache()
    now = utcnow()
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
    return Markup("".join(shown))  # noqa: S704


def register(app: Flask) -> None:
    """Give the templates `customer_rows`, `customer_table` and `customer_filters`."""
    app.jinja_env.globals["customer_rows"] = customer_rows
    app.jinja_env.globals["customer_table"] = customer_table
    app.jinja_env.globals["customer_filters"] = customer_filters
