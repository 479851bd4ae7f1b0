"""The people page's read-model: the company's products with seats, and its people with
their licenses and any assignment in flight. Commands live in `app.services.people`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple, Protocol

from sqlalchemy import BindParameter, Connection, Integer, bindparam, func, or_, select

from app.extensions import db
from app.models import (
    ChangeRequest,
    Customer,
    DirectoryUser,
    Partner,
    Subscription,
    UnmanagedSku,
    UserLicense,
)
from app.models.licensing import OPEN_STATES
from app.services import paging
from app.services.errors import NotFound

PAGE_SIZE = 50
# A page asked for beyond this is past the last one: its OFFSET must still fit the 32-bit
# integer PostgreSQL binds it as.
PAGES_AT_MOST = (2**31 - 1) // PAGE_SIZE
ASSIGNMENT_KINDS = ("assign", "unassign")


@dataclass(frozen=True)
class Product:
    """A product (Entra SKU) the company pays for: seats, assigned and free."""

    sku_id: str
    name: str
    seats: int
    assigned: int
    target: Subscription | None  # the oldest active subscription: where seats are bought

    @property
    def free(self) -> int:
        """Seats paid for and not assigned."""
        return max(self.seats - self.assigned, 0)


class Target(NamedTuple):
    """Where a product's seats are bought (the oldest active subscription), as plain values."""

    id: int
    offer_name: str
    scheduled_quantity: int | None


class Line(NamedTuple):
    """A product as the people page shows it: plain values (equal values, equal lines), so a
    page's products are part of the key its kept HTML is found under."""

    sku_id: str
    name: str
    seats: int
    assigned: int
    free: int  # seats paid for and not assigned
    target: Target | None  # None: no active subscription, or bought outside CSP


class Person(NamedTuple):
    """Who a row is about: a person of the company's directory and the SKUs they hold."""

    id: int
    name: str
    upn: str
    sku_ids: tuple[str, ...]


@dataclass(frozen=True)
class PersonView:
    """One person's row: their licenses (CSP and other), and a change in flight."""

    user: Person
    licenses: list[Line]
    other_licenses: list[Line]
    change: ChangeRequest | None

    @property
    def pending(self) -> bool:
        """An assignment of this person is being applied."""
        return self.change is not None and self.change.is_open


@dataclass(frozen=True)
class PeoplePage:
    """A page of people with the product summary (and the products bought outside CSP,
    while Unmanaged license sync is on), and the assignments in flight of its people."""

    products: list[Line]
    people: list[Person]
    total: int
    page: int
    pages: int
    query: str
    others: list[Line] = field(default_factory=list)
    changes: dict[int, ChangeRequest] = field(default_factory=dict)

    def view(self, customer: Customer, person: Person) -> PersonView:
        """A person's row of this page: their licenses and their change in flight."""
        return _person(person, self.products, self.changes.get(person.id), customer, self.others)


def other_products(customer: Customer) -> list[Product]:
    """The products the company has outside CSP (an Enterprise Agreement, say), with units /
    assigned / free as Graph counted them at the last sync; none while Unmanaged license
    sync is off. They have no subscription (`target` is None): a unit is never bought."""
    if not customer.unmanaged_license_sync:
        return []
    rows = db.session.scalars(
        select(UnmanagedSku)
        .where(UnmanagedSku.customer_id == customer.id)
        .order_by(UnmanagedSku.name, UnmanagedSku.sku_id)
    )
    return [Product(r.sku_id, r.name, r.total, r.assigned, None) for r in rows]


def seller_name(customer: Customer) -> str:
    """Who the company buys its CSP products through: its reseller, else the partner."""
    if customer.reseller is not None:
        return str(customer.reseller.name)
    partner = db.session.get(Partner, customer.partner_id)
    return partner.name if partner is not None else "us"


class _Seats(Protocol):
    """What grouping subscriptions into products reads of each (an ORM subscription or a
    plain row of its columns)."""

    @property
    def sku_id(self) -> str | None: ...
    @property
    def offer_name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def is_trial(self) -> bool: ...
    @property
    def quantity(self) -> int: ...
    @property
    def assigned(self) -> int: ...
    @property
    def creation_date(self) -> datetime: ...
    @property
    def pc_id(self) -> str: ...


# The company's subscriptions of a product (statements built once; `customer` is bound).
_CUSTOMER: BindParameter[int] = bindparam("customer")
_SUBSCRIPTIONS = (
    Subscription.customer_id == _CUSTOMER,
    Subscription.sku_id.is_not(None),
    Subscription.status != "deleted",
)
_ORDER = (Subscription.offer_name, Subscription.creation_date, Subscription.pc_id)
_PRODUCTS = select(Subscription).where(*_SUBSCRIPTIONS).order_by(*_ORDER)
_LINES = (
    select(
        Subscription.id,
        Subscription.sku_id,
        Subscription.offer_name,
        Subscription.status,
        Subscription.is_trial,
        Subscription.quantity,
        Subscription.assigned,
        Subscription.creation_date,
        Subscription.pc_id,
        Subscription.scheduled_quantity,
    )
    .where(*_SUBSCRIPTIONS)
    .order_by(*_ORDER)
)
_OTHER_LINES = (
    select(UnmanagedSku.sku_id, UnmanagedSku.name, UnmanagedSku.total, UnmanagedSku.assigned)
    .where(UnmanagedSku.customer_id == _CUSTOMER)
    .order_by(UnmanagedSku.name, UnmanagedSku.sku_id)
)
# The company's open assignments: which person each is of (the changes are loaded only
# for the people of the page).
_OPEN_ASSIGNMENTS = select(ChangeRequest.id, ChangeRequest.params).where(
    ChangeRequest.customer_id == _CUSTOMER,
    # Equalities rather than IN: a list of values is expanded again at every execution.
    or_(*(ChangeRequest.kind == kind for kind in ASSIGNMENT_KINDS)),
    or_(*(ChangeRequest.state == state for state in OPEN_STATES)),
)


def _reader() -> Connection:
    """The session's connection for plain rows, after writing what the session holds (as a
    query through the session would: autoflush)."""
    if db.session.autoflush:
        db.session.flush()
    return db.session.connection()


def _grouped[S: _Seats](subs: Iterable[S]) -> list[tuple[str, str, int, int, S | None]]:
    """(sku, name, seats, assigned, target) per SKU, by name: seats and assigned of the
    active subscriptions; the target is the oldest active paid one (else the oldest active
    trial), where seats are bought. `subs` come by offer name, creation date, id."""
    grouped: dict[str, list[S]] = {}
    for sub in subs:
        grouped.setdefault(str(sub.sku_id), []).append(sub)
    result = []
    for sku, group in grouped.items():
        active = [s for s in group if s.status == "active"]
        paid = [s for s in active if not s.is_trial] or active
        target = min(paid, key=lambda s: (s.creation_date, s.pc_id)) if paid else None
        seats = sum([s.quantity for s in active])
        assigned = sum([s.assigned for s in active])
        result.append((sku, group[0].offer_name, seats, assigned, target))
    return sorted(result, key=itemgetter(1))


def products(customer: Customer) -> list[Product]:
    """The company's products with seats / assigned / free, with their target subscription
    (for commands that buy seats; one query)."""
    subs = db.session.scalars(_PRODUCTS, {"customer": customer.id}).all()
    return [Product(*line) for line in _grouped(subs)]


def catalogue(customer: Customer, read: Connection | None = None) -> list[Line]:
    """The company's products as the people page shows them: plain values from one query of
    the columns needed (no ORM objects; `read`: the session's connection)."""
    subs = (read or _reader()).execute(_LINES, {"customer": customer.id}).all()
    return [
        Line(
            sku,
            name,
            seats,
            assigned,
            max(seats - assigned, 0),
            None if t is None else Target(t.id, t.offer_name, t.scheduled_quantity),
        )
        for sku, name, seats, assigned, t in _grouped(subs)
    ]


def other_lines(customer: Customer, read: Connection | None = None) -> list[Line]:
    """`other_products` as plain lines (one query of four columns; none while Unmanaged
    license sync is off)."""
    if not customer.unmanaged_license_sync:
        return []
    rows = (read or _reader()).execute(_OTHER_LINES, {"customer": customer.id})
    return [
        Line(sku, name, total, used, max(total - used, 0), None) for sku, name, total, used in rows
    ]


def _searched(like: bool) -> tuple[Any, Any]:
    """The statements of a page of people and of their count: the company's people (bound:
    `customer`), those whose name or sign-in name is `like` a pattern when searched."""
    where: list[Any] = [DirectoryUser.customer_id == _CUSTOMER]
    if like:
        pattern: BindParameter[str] = bindparam("like")
        where.append(
            or_(
                func.lower(DirectoryUser.name).like(pattern),
                func.lower(DirectoryUser.upn).like(pattern),
            )
        )
    found = (
        select(DirectoryUser.id, DirectoryUser.name, DirectoryUser.upn)
        .where(*where)
        .order_by(DirectoryUser.name, DirectoryUser.id)
        .offset(bindparam("offset", type_=Integer))
        .limit(PAGE_SIZE)
        .subquery()
    )
    # A count over the index of customer_id (no subquery of every column).
    count = select(func.count()).select_from(DirectoryUser).where(*where)
    # The count, then a row per licence held (in the order they were recorded) or one for
    # somebody without: the count and the page in one statement.
    page = (
        select(
            count.scalar_subquery().label("total"),
            found.c.id,
            found.c.name,
            found.c.upn,
            UserLicense.sku_id,
        )
        .select_from(found.outerjoin(UserLicense, UserLicense.directory_user_id == found.c.id))
        .order_by(found.c.name, found.c.id, UserLicense.id)
    )
    return page, count


_ALL, _SEARCHED = _searched(like=False), _searched(like=True)


def people_page(customer: Customer, query: str = "", page: int = 1) -> PeoplePage:
    """One page of the company's people, searched by name or sign-in name (bounded queries:
    the page with its count and licences, the products, the changes in flight; and a count
    when the page asked for is past the last one)."""
    params: dict[str, Any] = {"customer": customer.id}
    text = query.strip().lower()
    if text:
        params["like"] = f"%{text.replace('%', '').replace('_', '')}%"
    rows_of, count = _SEARCHED if text else _ALL
    # Plain rows through the session's connection: nothing here is an ORM object.
    read = _reader()
    params["offset"] = (min(max(page, 1), PAGES_AT_MOST) - 1) * PAGE_SIZE
    rows = read.execute(rows_of, params).all()
    if rows:
        total = int(rows[0][0])
        page, pages = paging.bounds(total, page, PAGE_SIZE)
    else:  # nobody matches, or a page past the last one: count, and show the last page
        total = int(read.execute(count, params).scalar() or 0)
        page, pages = paging.bounds(total, page, PAGE_SIZE)
        params["offset"] = (page - 1) * PAGE_SIZE
        rows = read.execute(rows_of, params).all() if total else []
    # A row per licence held (in the order they were recorded), grouped by person.
    people = [
        Person(uid, name, upn, tuple([r[4] for r in held if r[4] is not None]))
        for (_, uid, name, upn), held in groupby(rows, key=itemgetter(0, 1, 2, 3))
    ]
    return PeoplePage(
        catalogue(customer, read),
        people,
        total,
        page,
        pages,
        query.strip(),
        other_lines(customer, read),
        _open_changes(customer, [p.id for p in people], read),
    )


def person(customer: Customer, directory_user_id: int, change_id: int | None = None) -> PersonView:
    """One person's row (for htmx swaps and polling)."""
    row = user_of(customer, directory_user_id)
    user = Person(row.id, row.name, row.upn, tuple(lic.sku_id for lic in row.licenses))
    change = _open_changes(customer, [user.id]).get(user.id)
    if change is None and change_id is not None:
        shown = db.session.get(ChangeRequest, change_id)
        if (
            shown is not None
            and shown.customer_id == customer.id
            and shown.params.get("directory_user_id") == user.id
        ):
            change = shown
    return _person(user, catalogue(customer), change, customer, other_lines(customer))


def _person(
    user: Person,
    products: list[Line],
    change: ChangeRequest | None,
    customer: Customer,
    others: list[Line],
) -> PersonView:
    by_sku = {p.sku_id: p for p in products}
    other_by_sku = {p.sku_id: p for p in others}
    skus = user.sku_ids
    # A licence of a product not (yet) counted at a sync shows its SKU id.
    other = [other_by_sku.get(s) or Line(s, s, 0, 0, 0, None) for s in skus if s not in by_sku]
    return PersonView(
        user=user,
        licenses=[by_sku[s] for s in skus if s in by_sku],
        other_licenses=other if customer.unmanaged_license_sync else [],
        change=change,
    )


def _open_changes(
    customer: Customer, user_ids: list[int], read: Connection | None = None
) -> dict[int, ChangeRequest]:
    """The assignments in flight of these people: which ones, from plain rows of the
    company's open assignments; the changes themselves only when some are of these people."""
    if not user_ids:
        return {}
    rows = (read or _reader()).execute(_OPEN_ASSIGNMENTS, {"customer": customer.id})
    wanted = set(user_ids)
    ids = [change_id for change_id, params in rows if params.get("directory_user_id") in wanted]
    if not ids:
        return {}
    changes = db.session.scalars(select(ChangeRequest).where(ChangeRequest.id.in_(ids)))
    return {int(c.params["directory_user_id"]): c for c in changes}


def user_of(customer: Customer, directory_user_id: int) -> DirectoryUser:
    """A person of this company's directory (NotFound otherwise)."""
    user: DirectoryUser | None = db.session.get(DirectoryUser, directory_user_id)
    if user is None or user.customer_id != customer.id:
        raise NotFound(directory_user_id)
    return user
