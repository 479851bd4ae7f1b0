"""The license page: search, filters, totals and a page of rows, rendered once and kept.

A row depends on its subscription (whose version changes with every write to it, its
tranches included), on the person's role, and on time only through the rule deadlines
`nce.next_change` names. So each worker process keeps rendered rows keyed by (subscription,
version, sync time, change in flight, role) until that deadline (at most ROW_SECONDS), and a
page re-renders only what changed. A change in flight is part of the key: its row shows it
pending until it ends (and the change ending, or the subscription's new version, is a new
key). The per-request parts of a row, the
CSRF token and the forms' idempotency keys, are rendered as markers and filled in for each
response. (bench/BENCHMARKS.md, pages: rendering 300 rows was most of the page's time.)

Beside its HTML a kept row keeps the seats the rules let reduce now, so the filters
("reducible now") and the totals ("could be saved") of a big customer cost no rule work.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from flask import current_app, render_template, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup

from app.domain import nce
from app.domain.roles import Role
from app.models import Customer
from app.models._types import utcnow
from app.services import license_rows, paging, people_view

ROW_SECONDS = 300  # an upper bound on how long a rendered row is kept, whatever the rules say
ROWS_KEPT = 5_000  # rows per worker process (about 2 KB each)
CUSTOMERS_KEPT = 200  # customers whose stamps a worker process keeps
PAGES_KEPT = 20  # customers whose whole set of rows a worker process keeps, per role
PAGE_SIZE = 50  # rows a page shows; "Show more" adds the next 50

# Markers no subscription's data can contain: a secret of this process.
CSRF_SLOT = f"csrf-{secrets.token_hex(16)}"
KEY_SLOT = f"key-{secrets.token_hex(16)}"

StampKey = Hashable  # a row's key: what its rendering depends on


class KeptRow(NamedTuple):
    """A rendered row, the seats reducible now, and until when both stay true."""

    html: str
    reducible: int
    until: datetime


class Expiring(Protocol):
    """Something kept until a time."""

    @property
    def until(self) -> datetime: ...


class RowCache[T: Expiring]:
    """Rendered rows, least recently used dropped first (shared by a worker's threads)."""

    def __init__(self, size: int = ROWS_KEPT) -> None:
        self._size = size
        self._rows: OrderedDict[StampKey, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: StampKey, now: datetime) -> T | None:
        with self._lock:
            found = self._rows.get(key)
            if found is None:
                return None
            if found.until <= now:
                del self._rows[key]
                return None
            self._rows.move_to_end(key)
            return found

    def put(self, key: StampKey, row: T) -> None:
        with self._lock:
            self._rows[key] = row
            self._rows.move_to_end(key)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)


class StampCache:
    """The last stamps read of each customer, with the version they were read at (one
    aggregate query tells whether they still hold; a worker's threads share it)."""

    def __init__(self) -> None:
        self._kept: dict[int, tuple[tuple[object, ...], list[license_rows.RowStamp]]] = {}
        self._lock = threading.Lock()

    def get(
        self, customer_id: int, version: tuple[object, ...]
    ) -> list[license_rows.RowStamp] | None:
        with self._lock:
            kept = self._kept.get(customer_id)
        return kept[1] if kept is not None and kept[0] == version else None

    def put(
        self, customer_id: int, version: tuple[object, ...], stamps: list[license_rows.RowStamp]
    ) -> None:
        with self._lock:
            if len(self._kept) >= CUSTOMERS_KEPT:
                self._kept.pop(next(iter(self._kept)))
            self._kept[customer_id] = (version, stamps)


def _stamps(
    company: Customer,
) -> tuple[tuple[object, ...], list[license_rows.RowStamp]]:
    """The customer's stamps' version and its subscription stamps, read again only when
    something changed."""
    kept: StampCache | None = current_app.extensions.get("seatwise.license_stamps")
    if kept is None:
        kept = current_app.extensions.setdefault("seatwise.license_stamps", StampCache())
    version = license_rows.stamps_version(company)
    stamps = kept.get(company.id, version)
    if stamps is None:
        stamps = license_rows.subscription_stamps(company)
        kept.put(company.id, version, stamps)
    return version, stamps


class KeptPage(NamedTuple):
    """Every row of one customer for one role, with what the page derives from them (the
    totals, the filters' choices), and until when all of it stays true."""

    stamps: list[license_rows.RowStamp]
    rows: dict[int, KeptRow]
    reducible: dict[int, int]
    totals: Totals
    products: list[str]
    statuses: list[str]
    until: datetime


def _pages() -> RowCache[KeptPage]:
    """Whole customers' rows, keyed by the stamps' version, the changes in flight and the
    role: a page whose rows all still hold is a dictionary lookup, not 300 (shared by a
    worker's threads; a few customers, as each holds its rows)."""
    cache: RowCache[KeptPage] | None = current_app.extensions.get("seatwise.license_pages")
    if cache is None:
        cache = current_app.extensions.setdefault(
            "seatwise.license_pages", RowCache(size=PAGES_KEPT)
        )
    return cache


def _cache() -> RowCache[KeptRow]:
    return kept_rows("seatwise.license_rows")


def kept_rows(name: str, size: int = ROWS_KEPT) -> RowCache[KeptRow]:
    """The app's cache of rendered HTML called `name` (one per worker process)."""
    cache: RowCache[KeptRow] | None = current_app.extensions.get(name)
    if cache is None:
        cache = current_app.extensions.setdefault(name, RowCache(size=size))
    return cache


def kept_html(
    name: str, key: StampKey | None, make: Callable[[], str], size: int = ROWS_KEPT
) -> str:
    """The HTML kept in cache `name` under `key`, else made now and kept (unless `key` is
    None) for at most `ROW_SECONDS`."""
    now = utcnow()
    cache = kept_rows(name, size)
    kept = cache.get(key, now) if key is not None else None
    if kept is None:
        kept = KeptRow(make(), 0, now + timedelta(seconds=ROW_SECONDS))
        if key is not None:
            cache.put(key, kept)
    return kept.html


@dataclass(frozen=True)
class LicenseFilter:
    """The page's search and filters, from the query string (unknown values are ignored)."""

    query: str = ""
    product: str = ""
    status: str = ""
    free: bool = False
    reducible: bool = False
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> LicenseFilter:
        try:
            page = int(args.get("page", "1"))
        except ValueError:
            page = 1
        return cls(
            query=args.get("q", "").strip()[:100],
            product=args.get("product", "").strip()[:200],
            status=args.get("status", "").strip()[:20],
            free=args.get("free") == "1",
            reducible=args.get("reducible") == "1",
            page=max(page, 1),
        )

    @property
    def active(self) -> bool:
        """Some search or filter narrows the rows."""
        return bool(self.query or self.product or self.status or self.free or self.reducible)

    def args(self) -> dict[str, str]:
        """The query string of these filters (for links), without the page."""
        found = {"q": self.query, "product": self.product, "status": self.status}
        found |= {"free": "1" if self.free else "", "reducible": "1" if self.reducible else ""}
        return {k: v for k, v in found.items() if v}

    def matches(self, stamp: license_rows.RowStamp, reducible: int) -> bool:
        text = self.query.lower()
        return (
            (not text or text in stamp.name.lower() or text in stamp.pc_id.lower())
            and (not self.product or stamp.name == self.product)
            and (not self.status or stamp.status == self.status)
            and (not self.free or stamp.free > 0)
            and (not self.reducible or reducible > 0)
        )


@dataclass(frozen=True)
class Totals:
    """The whole company at a glance (active subscriptions), whatever the filters show."""

    subscriptions: int
    seats: int
    assigned: int
    free: int
    monthly_cost: Decimal
    savable_seats: int  # free seats the rules let return now
    savable_monthly: Decimal
    currency: str


def _totals(stamps: list[license_rows.RowStamp], reducible: dict[int, int]) -> Totals:
    active = [s for s in stamps if s.status == "active"]
    savable = {s.subscription_id: min(s.free, reducible[s.subscription_id]) for s in active}
    currencies = {s.currency for s in active}
    return Totals(
        subscriptions=len(stamps),
        seats=sum(s.quantity for s in active),
        assigned=sum(min(s.assigned, s.quantity) for s in active),
        free=sum(s.free for s in active),
        monthly_cost=sum((s.unit_price * s.quantity for s in active), Decimal(0)),
        savable_seats=sum(savable.values()),
        savable_monthly=sum(
            (s.unit_price * savable[s.subscription_id] for s in active), Decimal(0)
        ),
        currency=currencies.pop() if len(currencies) == 1 else "",
    )


def _row_key(stamp: license_rows.RowStamp, company: Customer, role: Role) -> StampKey:
    """What a rendered row depends on: its subscription (and, for an add-on, the base
    seats), the change in flight (a pending row shows it and polls until it ends), the
    customer's settings (auto license adjustment says when free seats are returned: its
    version changes with every write to the customer), the role."""
    return (stamp.key, stamp.open_change_id, company.version, role)


def _reducible_now(view: license_rows.RowView) -> int:
    """Seats of the row's subscription that can be reduced now (the rules' own figure)."""
    if view.facts.status is not nce.Status.ACTIVE:
        return 0
    return max(view.facts.quantity - view.limits.lowest_now, 0)


def _every_row(
    company: Customer, role: Role, urls: Any, open_row: str | None, now: datetime
) -> KeptPage:
    """Every row of the company and what the page derives from them: kept as a whole while
    nothing they show changed (never with a manage panel open), else from `_rows`."""
    version, stamps = _stamps(company)
    changes = license_rows.open_changes(company)
    key = (company.id, company.version, version, tuple(sorted(changes.items())), role)
    pages = _pages()
    if open_row is None and (kept := pages.get(key, now)) is not None:
        return kept
    stamps, rows = _rows(company, role, urls, open_row, now, stamps, changes)
    reducible = {sub_id: row.reducible for sub_id, row in rows.items()}
    page = KeptPage(
        stamps,
        rows,
        reducible,
        _totals(stamps, reducible),
        sorted({s.name for s in stamps}),
        sorted({s.status for s in stamps}),
        min((row.until for row in rows.values()), default=now + timedelta(seconds=ROW_SECONDS)),
    )
    if open_row is None:
        pages.put(key, page)
    return page


def _rows(
    company: Customer,
    role: Role,
    urls: Any,
    open_row: str | None,
    now: datetime,
    stamps: list[license_rows.RowStamp],
    changes: dict[int, int],
) -> tuple[list[license_rows.RowStamp], dict[int, KeptRow]]:
    """Every row of the company: kept ones from the cache, the others rendered now."""
    cache = _cache()
    shown: dict[int, KeptRow] = {}
    missing: list[int] = []
    stamps = license_rows.with_open_changes(stamps, changes)
    for stamp in stamps:
        kept = stamp.pc_id != open_row  # never the row with its manage panel open
        hit = cache.get(_row_key(stamp, company, role), now) if kept else None
        if hit is None:
            missing.append(stamp.subscription_id)
        else:
            shown[stamp.subscription_id] = hit
    if missing:
        stamps_by_id = {stamp.subscription_id: stamp for stamp in stamps}
        template = current_app.jinja_env.get_template("portal/_subscription_row.html")
        context: dict[str, Any] = {
            "company": company,
            "urls": urls,
            "open_row": open_row,
            "message": None,
            "offer_schedule": None,
        }
        current_app.update_template_context(context)
        context.update(csrf_token=lambda: CSRF_SLOT, new_key=lambda: KEY_SLOT)
        for view in license_rows.license_rows(company, role, only=missing):
            until = now + timedelta(seconds=ROW_SECONDS)
            deadline = view.shown_until
            row = KeptRow(
                template.render(context, row=view),
                _reducible_now(view),
                min(until, deadline or until),
            )
            shown[view.sub.id] = row
            if view.sub.pc_id != open_row:
                cache.put(_row_key(stamps_by_id[view.sub.id], company, role), row)
    return stamps, shown


@dataclass(frozen=True)
class LicensePage:
    """What the license page shows: totals, filter choices, and one page of rows."""

    totals: Totals
    rows: paging.Page[Markup]
    filters: LicenseFilter
    products: list[str]
    statuses: list[str]
    more_url: str | None


def build(
    company: Customer,
    role: Role,
    urls: Any,
    filters: LicenseFilter,
    open_row: str | None = None,
) -> LicensePage:
    """The page's figures and the rows of the page asked for (a row with its manage panel
    open is always on the page shown)."""
    now = utcnow()
    every = _every_row(company, role, urls, open_row, now)
    stamps, rows, reducible = every.stamps, every.rows, every.reducible
    matching = (
        [s for s in stamps if filters.matches(s, reducible[s.subscription_id])]
        if filters.active
        else stamps
    )
    if open_row is not None:
        at = next((i for i, s in enumerate(matching) if s.pc_id == open_row), None)
        if at is not None:
            filters = replace(filters, page=at // PAGE_SIZE + 1)
    page = paging.paginate(matching, filters.page, PAGE_SIZE)
    # Rows this module rendered with the app's autoescaping templates: already safe HTML.
    html = [Markup(rows[s.subscription_id].html) for s in page.items]  # noqa: S704
    more = None
    if page.has_next:
        more = url_for(
            "portal.licenses", customer=company.pc_id, page=page.page + 1, **filters.args()
        )
    return LicensePage(
        totals=every.totals,
        rows=paging.Page(html, page.page, page.pages, page.total, page.size),
        filters=filters,
        products=every.products,
        statuses=every.statuses,
        more_url=more,
    )


def personal(page: str) -> str:
    """Fill in this response's CSRF token and a fresh idempotency key for every form.

    The keys are 128 random bits each, as uuid4's, drawn in one call (150 `uuid4()` calls,
    the people page's forms, took 0.9 ms: a tenth of the page).
    """
    page = page.replace(CSRF_SLOT, generate_csrf())
    parts = page.split(KEY_SLOT)
    if len(parts) == 1:
        return page
    random = os.urandom(16 * (len(parts) - 1)).hex()
    out = [""] * (2 * len(parts) - 1)
    out[0::2] = parts
    out[1::2] = [random[n : n + 32] for n in range(0, len(random), 32)]
    return "".join(out)


def render_page(
    company: Customer,
    role: Role,
    urls: Any,
    filters: LicenseFilter | None = None,
    open_row: str | None = None,
) -> str:
    """The whole license page; `open_row` shows that subscription's manage panel open."""
    page = build(company, role, urls, filters or LicenseFilter(), open_row)
    # Products bought outside CSP: a small read-only section beside the kept rows, read and
    # rendered for each page (only while Unmanaged license sync is on).
    others = people_view.other_products(company)
    seller = people_view.seller_name(company) if others else ""
    return personal(
        render_template(
            "portal/licenses.html",
            company=company,
            role=role,
            page=page,
            others=others,
            seller=seller,
        )
    )


def render_more(company: Customer, role: Role, urls: Any, filters: LicenseFilter) -> str:
    """The next page's rows and the next "Show more" (htmx appends them to the table)."""
    page = build(company, role, urls, filters)
    return personal(
        render_template("portal/_license_rows.html", company=company, role=role, page=page)
    )
