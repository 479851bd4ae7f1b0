"""The people page's rows, rendered once and kept until what they show changes.

A person's row depends on the person (name, sign-in name, licences), on the company's
products (names, free seats, where seats are bought) and those bought outside CSP, on the
company's assign setting and the viewer's role. Rows are kept per worker process under a
key made of exactly those values; a row with an assignment in flight is never kept. The
forms' per-request parts (CSRF token, idempotency keys) are rendered as markers and filled
in for each response, as on the license page (app.views.license_page).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app, render_template, url_for
from markupsafe import Markup

from app.domain.roles import Role
from app.models import Customer
from app.models._types import utcnow
from app.services import people_view
from app.views.license_page import _CSRF, _KEY, ROW_SECONDS, KeptRow, RowCache, personal


def _cache() -> RowCache[KeptRow]:
    cache: RowCache[KeptRow] | None = current_app.extensions.get("seatwise.people_rows")
    if cache is None:
        cache = current_app.extensions.setdefault("seatwise.people_rows", RowCache())
    return cache


def rows(company: Customer, role: Role, page: people_view.PeoplePage) -> list[Markup]:
    """The page's person rows (with markers for the per-request parts), kept ones reused."""
    cache = _cache()
    now = utcnow()
    products = tuple(
        (p.sku_id, p.name, p.free, p.target.id if p.target else None, _scheduled(p))
        for p in page.products
    )
    others = tuple((p.sku_id, p.name, p.free) for p in page.others)
    setting = (company.id, company.pc_id, company.auto_increment, company.unmanaged_license_sync)
    template = None
    context: dict[str, Any] = {}
    shown: list[Markup] = []
    for person in page.people:
        user = person.user
        key = (
            "person",
            user.id,
            user.name,
            user.upn,
            user.sku_ids,
            products,
            others,
            setting,
            role,
        )
        kept = None if person.change is not None else cache.get(key, now)
        if kept is None:
            if template is None:
                template = current_app.jinja_env.get_template("portal/_person_row.html")
                context = {
                    "company": company,
                    "role": role,
                    "products": page.products,
                    "others": page.others,
                    "people_url": url_for("portal.people_list", customer=company.pc_id),
                    "message": None,
                    "buy_sku": None,
                    "announce": None,
                }
                current_app.update_template_context(context)
                context.update(csrf_token=lambda: _CSRF, new_key=lambda: _KEY)
            html = template.render(context, person=person)
            kept = KeptRow(html, 0, now + timedelta(seconds=ROW_SECONDS))
            if person.change is None:
                cache.put(key, kept)
        # Rendered by the app's autoescaping templates: already safe HTML.
        shown.append(Markup(kept.html))  # noqa: S704
    return shown


def _scheduled(product: people_view.Product) -> int | None:
    return product.target.scheduled_quantity if product.target is not None else None


def render(template: str, company: Customer, role: Role, page: people_view.PeoplePage) -> str:
    """The people page, or its table (htmx search), with the rows kept or rendered now."""
    return personal(
        render_template(
            template, company=company, role=role, page=page, rows=rows(company, role, page)
        )
    )
