"""The people page's read-model: the company's products with seats, and its people with
their licenses and any assignment in flight. Commands live in `app.services.people`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select

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
from app.services import paging
from app.services.errors import NotFound

PAGE_SIZE = 50
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


@dataclass(frozen=True)
class Person:
    """Who a row is about: a person of the company's directory and the SKUs they hold."""

    id: int
    name: str
    upn: str
    sku_ids: tuple[str, ...]


@dataclass(frozen=True)
class PersonView:
    """One person's row: their licenses (CSP and other), and a change in flight."""

    user: Person
    licenses: list[Product]
    other_licenses: list[Product]
    change: ChangeRequest | None

    @property
    def pending(self) -> bool:
        """An assignment of this person is being applied."""
        return self.change is not None and self.change.is_open


@dataclass(frozen=True)
class PeoplePage:
    """A page of people with the product summary (and the products bought outside CSP,
    while Unmanaged license sync is on)."""

    products: list[Product]
    people: list[PersonView]
    total: int
    page: int
    pages: int
    query: str
    others: list[Product] = field(default_factory=list)


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


def products(customer: Customer) -> list[Product]:
    """The company's products with seats / assigned / free (one query)."""
    subs = db.session.scalars(
        select(Subscription)
        .where(
            Subscription.customer_id == customer.id,
            Subscription.sku_id.is_not(None),
            Subscription.status != "deleted",
        )
        .order_by(Subscription.offer_name, Subscription.creation_date, Subscription.pc_id)
    ).all()
    grouped: dict[str, list[Subscription]] = {}
    for sub in subs:
        grouped.setdefault(str(sub.sku_id), []).append(sub)
    result = []
    for sku, group in grouped.items():
        active = [s for s in group if s.status == "active"]
        paid = [s for s in active if not s.is_trial] or active
        target = min(paid, key=lambda s: (s.creation_date, s.pc_id)) if paid else None
        result.append(
            Product(
                sku_id=sku,
                name=group[0].offer_name,
                seats=sum(s.quantity for s in active),
                assigned=sum(s.assigned for s in active),
                target=target,
            )
        )
    return sorted(result, key=lambda p: p.name)


def people_page(customer: Customer, query: str = "", page: int = 1) -> PeoplePage:
    """One page of the company's people, searched by name or sign-in name (bounded queries)."""
    base = select(DirectoryUser).where(DirectoryUser.customer_id == customer.id)
    text = query.strip().lower()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        base = base.where(
            or_(func.lower(DirectoryUser.name).like(like), func.lower(DirectoryUser.upn).like(like))
        )
    total = int(db.session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    page, pages = paging.bounds(total, page, PAGE_SIZE)
    # Plain rows, not ORM objects: a page of people is read, never changed, here.
    found = db.session.execute(
        base.with_only_columns(DirectoryUser.id, DirectoryUser.name, DirectoryUser.upn)
        .order_by(DirectoryUser.name, DirectoryUser.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    held: dict[int, list[str]] = {row[0]: [] for row in found}
    if held:
        for user_id, sku in db.session.execute(
            select(UserLicense.directory_user_id, UserLicense.sku_id)
            .where(UserLicense.directory_user_id.in_(held))
            .order_by(UserLicense.id)
        ):
            held[user_id].append(sku)
    users = [Person(uid, name, upn, tuple(held[uid])) for uid, name, upn in found]
    catalogue = products(customer)
    others = other_products(customer)
    changes = _open_changes(customer, [u.id for u in users])
    views = [_person(u, catalogue, changes.get(u.id), customer, others) for u in users]
    return PeoplePage(catalogue, views, total, page, pages, query.strip(), others)


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
    return _person(user, products(customer), change, customer, other_products(customer))


def _person(
    user: Person,
    catalogue: list[Product],
    change: ChangeRequest | None,
    customer: Customer,
    others: list[Product],
) -> PersonView:
    by_sku = {p.sku_id: p for p in catalogue}
    other_by_sku = {p.sku_id: p for p in others}
    skus = user.sku_ids
    # A licence of a product not (yet) counted at a sync shows its SKU id.
    other = [other_by_sku.get(s) or Product(s, s, 0, 0, None) for s in skus if s not in by_sku]
    return PersonView(
        user=user,
        licenses=[by_sku[s] for s in skus if s in by_sku],
        other_licenses=other if customer.unmanaged_license_sync else [],
        change=change,
    )


def _open_changes(customer: Customer, user_ids: list[int]) -> dict[int, ChangeRequest]:
    if not user_ids:
        return {}
    rows = db.session.scalars(
        select(ChangeRequest).where(
            ChangeRequest.customer_id == customer.id,
            ChangeRequest.kind.in_(ASSIGNMENT_KINDS),
            ChangeRequest.state.in_(("pending", "running")),
        )
    ).all()
    wanted = set(user_ids)
    return {
        int(c.params["directory_user_id"]): c
        for c in rows
        if c.params.get("directory_user_id") in wanted
    }


def user_of(customer: Customer, directory_user_id: int) -> DirectoryUser:
    """A person of this company's directory (NotFound otherwise)."""
    user: DirectoryUser | None = db.session.get(DirectoryUser, directory_user_id)
    if user is None or user.customer_id != customer.id:
        raise NotFound(directory_user_id)
    return user
