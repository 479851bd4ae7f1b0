"""The license page's rows, rendered once and kept until their subscription changes.

A row depends on its subscription (whose version changes with every write to it, its
tranches included), on the person's role, and on time only through the rule deadlines
`nce.next_change` names. So each worker process keeps rendered rows keyed by (subscription,
version, sync time, role) until that deadline (at most ROW_SECONDS), and a page re-renders only what
changed. Rows with a change in flight are never kept. The per-request parts of a row, the
CSRF token and the forms' idempotency keys, are rendered as markers and filled in for each
response. (bench/BENCHMARKS.md, pages: rendering 300 rows was most of the page's time.)
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from app.domain.roles import Role
from app.models import Customer
from app.models._types import utcnow
from app.services import licensing

ROW_SECONDS = 300  # an upper bound on how long a rendered row is kept, whatever the rules say
ROWS_KEPT = 5_000  # rows per worker process (about 2 KB each)

# Markers no subscription's data can contain: a secret of this process.
_CSRF = f"csrf-{secrets.token_hex(16)}"
_KEY = f"key-{secrets.token_hex(16)}"


class RowCache:
    """Rendered rows, least recently used dropped first (shared by a worker's threads)."""

    def __init__(self, size: int = ROWS_KEPT) -> None:
        self._size = size
        self._rows: OrderedDict[tuple[tuple[int, int, datetime], Role], tuple[str, datetime]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def get(self, key: tuple[tuple[int, int, datetime], Role], now: datetime) -> str | None:
        with self._lock:
            found = self._rows.get(key)
            if found is None:
                return None
            if found[1] <= now:
                del self._rows[key]
                return None
            self._rows.move_to_end(key)
            return found[0]

    def put(self, key: tuple[tuple[int, int, datetime], Role], html: str, until: datetime) -> None:
        with self._lock:
            self._rows[key] = (html, until)
            self._rows.move_to_end(key)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)


def _cache() -> RowCache:
    cache: RowCache | None = current_app.extensions.get("seatwise.license_rows")
    if cache is None:
        cache = current_app.extensions.setdefault("seatwise.license_rows", RowCache())
    return cache


def render_page(company: Customer, role: Role, urls: Any, open_row: str | None = None) -> str:
    """The whole license page; `open_row` shows that subscription's manage panel open."""
    now = utcnow()
    cache = _cache()
    shown: dict[int, str] = {}
    missing: list[int] = []
    stamps = licensing.row_stamps(company)
    for stamp in stamps:
        kept = stamp.open_change_id is None and stamp.pc_id != open_row  # never the open panel
        hit = cache.get((stamp.key, role), now) if kept else None
        if hit is None:
            missing.append(stamp.subscription_id)
        else:
            shown[stamp.subscription_id] = hit
    if missing:
        template = current_app.jinja_env.get_template("portal/_subscription_row.html")
        context: dict[str, Any] = {
            "company": company,
            "urls": urls,
            "open_row": open_row,
            "message": None,
            "offer_schedule": None,
        }
        current_app.update_template_context(context)
        context.update(csrf_token=lambda: _CSRF, new_key=lambda: _KEY)
        for view in licensing.license_rows(company, role, only=missing):
            html = template.render(context, row=view)
            shown[view.sub.id] = html
            if not view.pending and view.sub.pc_id != open_row:
                until = now + timedelta(seconds=ROW_SECONDS)
                deadline = view.shown_until
                key = (view.sub.id, view.sub.version, view.sub.synced_at)
                cache.put((key, role), html, min(until, deadline or until))
    # Rows this module rendered with the app's autoescaping templates: already safe HTML.
    rows = [Markup(shown[s.subscription_id]) for s in stamps if s.subscription_id in shown]  # noqa: S704
    page = render_template("portal/licenses.html", company=company, role=role, rows=rows)
    return _personal(page)


def _personal(page: str) -> str:
    """Fill in this response's CSRF token and a fresh idempotency key for every form."""
    page = page.replace(_CSRF, generate_csrf())
    parts = page.split(_KEY)
    keys = [uuid.uuid4().hex for _ in range(len(parts) - 1)]
    return "".join(part + key for part, key in zip(parts, [*keys, ""], strict=True))
