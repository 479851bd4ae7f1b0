"""The people page's rows and table, rendered once and kept until what they show changes.

A person's row depends on the person (name, sign-in name, licences), on the company's
products (names, free seats, where seats are bought) and those bought outside CSP, on the
company's assign setting, the viewer's role and the script root (its links). Rows are kept
per worker process under a key made of exactly those values; a row with an assignment in
flight is never kept. The forms' per-request parts (CSRF token, idempotency keys) are
rendered as markers and filled in for each response, as on the license page
(app.views.license_page).

The page's content (the products with their seats, the search, the table of people and its
pager) is kept the same way, under a key made of everything it shows: the company's name and
settings, its products and those bought outside CSP (plain values, read for this request),
the page's people with their licences, the search, the page, the count, the role and the
application's script root (its links). A page with an assignment in flight is never kept. So
a page whose people, products and settings did not change is one lookup, and any change
read by the request (in any worker) is a new key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import timedelta
from typing import Any

from flask import current_app, render_template, request, url_for
from markupsafe import Markup

from app.domain.roles import Role
from app.models import Customer
from app.models._types import utcnow
from app.services import people_view
from app.views.license_page import (
    CSRF_SLOT,
    KEY_SLOT,
    ROW_SECONDS,
    KeptRow,
    kept_html,
    kept_rows,
    personal,
)

PAGES_KEPT = 20  # pages' contents, and htmx tables, a worker keeps (each about 140 KB)
TABLE = "portal/_people_table.html"
PAGE = "portal/people.html"


def _setting(company: Customer) -> tuple[object, ...]:
    return (company.id, company.pc_id, company.auto_increment, company.unmanaged_license_sync)


def _context(company: Customer, role: Role, page: people_view.PeoplePage) -> dict[str, Any]:
    """What the page's templates are rendered with: markers for the per-request parts."""
    context: dict[str, Any] = {
        "company": company,
        "role": role,
        "page": page,
        "products": page.products,
        "others": page.others,
        "people_url": url_for("portal.people_list", customer=company.pc_id),
        "message": None,
        "buy_sku": None,
        "announce": None,
    }
    current_app.update_template_context(context)
    context.update(csrf_token=lambda: CSRF_SLOT, new_key=lambda: KEY_SLOT)
    return context


def rows(company: Customer, role: Role, page: people_view.PeoplePage) -> Markup:
    """The page's person rows (with markers for the per-request parts), kept ones reused."""
    cache = kept_rows("seatwise.people_rows")
    now = utcnow()
    products = tuple(page.products)
    others = tuple(page.others)
    setting = (request.script_root, _setting(company))  # the rows' links, the settings
    template = None
    context: dict[str, Any] = {}
    shown: list[str] = []
    for user in page.people:
        change = page.changes.get(user.id)
        key = ("person", user, products, others, setting, role)
        kept = None if change is not None else cache.get(key, now)
        if kept is None:
            if template is None:
                template = current_app.jinja_env.get_template("portal/_person_row.html")
                context = _context(company, role, page)
            html = template.render(context, person=page.view(company, user))
            kept = KeptRow(html, 0, now + timedelta(seconds=ROW_SECONDS))
            if change is None:
                cache.put(key, kept)
        shown.append(kept.html)
    # Rendered by the app's autoescaping templates: already safe HTML.
    return Markup("".join(shown))  # noqa: S704


def _page_key(company: Customer, role: Role, page: people_view.PeoplePage) -> Hashable | None:
    """Everything the page's content shows (None: an assignment in flight, never kept)."""
    if page.changes:
        return None
    return (
        request.script_root,
        company.name,
        _setting(company),
        role,
        tuple(page.products),
        tuple(page.others),
        tuple(page.people),
        page.query,
        page.page,
        page.pages,
        page.total,
    )


def _kept(name: str, key: Hashable | None, make: Callable[[], str]) -> str:
    """The HTML kept under `key`, else made now (and kept unless `key` is None)."""
    return kept_html(name, key, make, PAGES_KEPT)


def _table(company: Customer, role: Role, page: people_view.PeoplePage) -> str:
    """The table of people with its count and pager, rendered now (rows kept or not)."""
    context = _context(company, role, page)
    context["rows"] = rows(company, role, page)
    return current_app.jinja_env.get_template(TABLE).render(context)


def table(company: Customer, role: Role, page: people_view.PeoplePage) -> str:
    """The table of people (the htmx search's answer), kept or rendered now."""
    return _kept(
        "seatwise.people_tables",
        _page_key(company, role, page),
        lambda: _table(company, role, page),
    )


def content(company: Customer, role: Role, page: people_view.PeoplePage) -> str:
    """The page's content: products, search and the table of people, kept or rendered now
    (the table within it is not kept apart)."""

    def make() -> str:
        context = _context(company, role, page)
        # Rendered by the app's autoescaping templates: already safe HTML.
        context["table"] = Markup(_table(company, role, page))  # noqa: S704
        return current_app.jinja_env.get_template("portal/_people_content.html").render(context)

    return _kept("seatwise.people_contents", _page_key(company, role, page), make)


def render(template: str, company: Customer, role: Role, page: people_view.PeoplePage) -> str:
    """The people page, or its table (htmx search), kept or rendered now, with this
    response's CSRF token and idempotency keys."""
    if template == TABLE:
        return personal(table(company, role, page))
    return personal(
        render_template(
            template,
            company=company,
            role=role,
            page=page,
            # Rendered by the app's autoescaping templates: already safe HTML.
            content=Markup(content(company, role, page)),  # noqa: S704
        )
    )
