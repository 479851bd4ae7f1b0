"""The partner console's customer list: search, filters, seats and cost, one page at a time.

Seats and monthly cost are summed by the database (GROUP BY over active subscriptions), so
a page costs the same few queries whether there are ten customers or ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, func, select

from app.extensions import db
from app.models import Customer, Reseller, StaffRole, Subscription, User
from app.services import access, paging

PER_PAGE = 50
DIRECT = "direct"  # the reseller filter's value for customers without a reseller
SYNC_STATES = {"ok": "Synced", "error": "Sync failed", "never": "Never synced"}
PORTAL_STATES = {"on": "Portal on", "off": "Portal off"}


@dataclass(frozen=True)
class CustomerFilter:
    """What the list is narrowed to; empty values mean 'any'."""

    search: str = ""
    reseller: str = ""  # a reseller's Partner Center id, DIRECT, or "" for any
    sync: str = ""  # a key of SYNC_STATES, or ""
    portal: str = ""  # a key of PORTAL_STATES, or ""

    @classmethod
    def from_args(cls, args: dict[str, str]) -> CustomerFilter:
        """Read the filter from query-string values, dropping values that mean nothing."""
        sync = args.get("sync", "")
        portal = args.get("portal", "")
        return cls(
            search=args.get("q", "").strip()[:200],
            reseller=args.get("reseller", "").strip()[:64],
            sync=sync if sync in SYNC_STATES else "",
            portal=portal if portal in PORTAL_STATES else "",
        )

    @property
    def shape(self) -> tuple[str, ...]:
        """Which filters are in use (not their values): one built statement per shape."""
        shape = []
        if self.search:
            shape.append("search")
        if self.reseller:
            shape.append("direct" if self.reseller == DIRECT else "reseller")
        if self.sync:
            shape.append(f"sync:{self.sync}")
        if self.portal:
            shape.append("portal")
        return tuple(shape)

    def parameters(self) -> dict[str, object]:
        """The values the shape's statements bind. The search matches anywhere in the name
        or domain, case-insensitively, with % and _ meaning themselves; or the exact
        Partner Center id."""
        values: dict[str, object] = {}
        if self.search:
            escaped = self.search.replace("/", "//").replace("%", "/%").replace("_", "/_")
            values.update(search=self.search, pattern=f"%{escaped}%")
        if self.reseller and self.reseller != DIRECT:
            values["reseller"] = self.reseller
        if self.portal:
            values["portal_on"] = self.portal == "on"
        return values

    def as_args(self) -> dict[str, str]:
        """The non-empty filter values, as query-string arguments (for paging links)."""
        values = {
            "q": self.search,
            "reseller": self.reseller,
            "sync": self.sync,
            "portal": self.portal,
        }
        return {key: value for key, value in values.items() if value}


class CustomerRow(NamedTuple):
    """One line of the list (a named tuple: views keep rendered rows under it, and a
    tuple's hash and equality cost no Python calls)."""

    pc_id: str
    name: str
    domain: str | None
    reseller: str | None
    last_synced_at: datetime | None
    last_sync_error: str | None
    self_service: bool
    seats: int
    monthly_cost: Decimal

    @property
    def sync_state(self) -> str:
        """ok, error or never (the keys of SYNC_STATES)."""
        if self.last_sync_error:
            return "error"
        return "ok" if self.last_synced_at else "never"


@dataclass(frozen=True)
class CustomerPage:
    """One page of the list and where it sits among the others."""

    rows: list[CustomerRow]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def first_index(self) -> int:
        """The 1-based position of the first row shown (0 when there is none)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        """The 1-based position of the last row shown."""
        return (self.page - 1) * self.per_page + len(self.rows)


def list_customers(
    user: User, filters: CustomerFilter, page: int = 1, per_page: int = PER_PAGE
) -> CustomerPage:
    """The customers `user` may manage, filtered, with their seats and cost: one page.

    The statements are built once per kind of user and set of filters in use, the values
    bound at each call (building them took more CPU than SQLite's answers).
    """
    scoped, params = access.scoped_companies(user)
    count, listed = _statements(scoped, filters.shape)
    bound: dict[str, object] = {**params, **filters.parameters()}
    total = int(db.session.execute(count, bound).scalar() or 0)
    page, pages = paging.bounds(total, page, per_page)
    bound.update(limit=per_page, offset=(page - 1) * per_page)
    rows = db.session.execute(listed, bound).all()
    return CustomerPage(
        rows=[
            CustomerRow(
                pc_id=r[1],
                name=r[2],
                domain=r[3],
                reseller=r[4],
                last_synced_at=r[5],
                last_sync_error=r[6],
                self_service=bool(r[7]),
                seats=int(r[8] or 0),
                monthly_cost=_money(r[9]),
            )
            for r in rows
        ],
        total=total,
        page=page,
        pages=pages,
        per_page=per_page,
    )


_RESELLERS = select(Reseller.pc_id, Reseller.name).order_by(Reseller.name)
_BUILT: dict[tuple[Select[Any], tuple[str, ...]], tuple[Select[Any], Select[Any]]] = {}


def _statements(
    scoped: Select[tuple[Customer]], shape: tuple[str, ...]
) -> tuple[Select[Any], Select[Any]]:
    """The count and the page of rows for a scope and a filter shape, built on first use."""
    key = (scoped, shape)  # the scopes are statements built once (access._SCOPES)
    built = _BUILT.get(key)
    if built is None:
        query = _filtered(scoped, shape)
        count: Select[Any] = select(func.count()).select_from(query.order_by(None).subquery())
        page = (
            query.with_only_columns(
                Customer.id,
                Customer.pc_id,
                Customer.name,
                Customer.domain,
                Customer.reseller_id,
                Customer.last_synced_at,
                Customer.last_sync_error,
                Customer.self_service,
                maintain_column_froms=True,
            )
            .order_by(Customer.id)  # after the name: a stable order across pages
            .limit(bindparam("limit"))
            .offset(bindparam("offset"))
            .cte("page")
        )
        # Seats and cost of this page's customers only, in the same statement (summing the
        # whole book for every page made the list's cost grow with the number of customers).
        totals = (
            select(
                Subscription.customer_id,
                func.sum(Subscription.quantity).label("seats"),
                func.sum(Subscription.quantity * Subscription.unit_price).label("cost"),
            )
            .where(Subscription.customer_id.in_(select(page.c.id)), Subscription.status == "active")
            .group_by(Subscription.customer_id)
            .subquery("totals")
        )
        listed: Any = (
            select(
                page.c.id,
                page.c.pc_id,
                page.c.name,
                page.c.domain,
                Reseller.name,
                page.c.last_synced_at,
                page.c.last_sync_error,
                page.c.self_service,
                totals.c.seats,
                totals.c.cost,
            )
            .select_from(page)
            .outerjoin(Reseller, Reseller.id == page.c.reseller_id)
            .outerjoin(totals, totals.c.customer_id == page.c.id)
            .order_by(page.c.name, page.c.id)
        )
        built = _BUILT.setdefault(key, (count, listed))
    return built


def reseller_choices(user: User) -> list[tuple[str, str]]:
    """The resellers a partner admin can filter by (reseller staff see only their own)."""
    if user.staff_role is not StaffRole.PARTNER_ADMIN:
        return []
    return [(pc_id, name) for pc_id, name in db.session.execute(_RESELLERS)]


def seats_and_cost(customer: Customer) -> tuple[int, Decimal]:
    """Seats and monthly cost of one customer's active subscriptions."""
    seats, cost = db.session.execute(
        select(
            func.coalesce(func.sum(Subscription.quantity), 0),
            func.coalesce(func.sum(Subscription.quantity * Subscription.unit_price), 0),
        ).where(Subscription.customer_id == customer.id, Subscription.status == "active")
    ).one()
    return int(seats), _money(cost)


def _money(value: object) -> Decimal:
    """A database sum (Decimal, float on SQLite, or None) as an amount with two decimals."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def _filtered(query: Select[tuple[Customer]], shape: tuple[str, ...]) -> Select[tuple[Customer]]:
    """Apply the filters in use (`CustomerFilter.shape`) to the companies query; their
    values are bound parameters (`CustomerFilter.parameters`)."""
    if "search" in shape:
        query = query.where(
            Customer.name.ilike(bindparam("pattern"), escape="/")
            | Customer.domain.ilike(bindparam("pattern"), escape="/")
            | (Customer.pc_id == bindparam("search"))
        )
    if "direct" in shape:
        query = query.where(Customer.reseller_id.is_(None))
    elif "reseller" in shape:
        query = query.where(
            Customer.reseller_id.in_(
                select(Reseller.id).where(Reseller.pc_id == bindparam("reseller"))
            )
        )
    if "sync:error" in shape:
        query = query.where(Customer.last_sync_error.is_not(None))
    elif "sync:ok" in shape:
        query = query.where(
            Customer.last_synced_at.is_not(None), Customer.last_sync_error.is_(None)
        )
    elif "sync:never" in shape:
        query = query.where(Customer.last_synced_at.is_(None), Customer.last_sync_error.is_(None))
    if "portal" in shape:
        query = query.where(Customer.self_service == bindparam("portal_on"))
    return query
