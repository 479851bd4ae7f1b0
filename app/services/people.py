"""People of a company and their licenses: assign (buying the seat when needed) and remove.

"Assign = buy" (PRODUCT.md, Auto increment): with Auto increment on, assigning always buys
one more seat first, then assigns it, so the free-seat buffer stays as it was. With it off,
a free seat is used when there is one; otherwise "buy one and assign" is offered.

The seat is bought on the OLDEST active subscription of the product (the same one the
reconciliation merges onto and the sync fills first with assigned seats).

Buying and assigning run as one job through the ChangeRequest outbox: the purchase is
recorded in the request (`params["bought"]`) the moment Partner Center confirms it, so a
failed assignment is retried without buying a second seat.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from app.domain import nce
from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, DirectoryUser, Subscription, User, UserLicense
from app.models._types import utcnow
from app.services import audit, licensing, outbox, paging, sync
from app.services.errors import NotFound
from app.services.microsoft import factory
from app.services.microsoft.http import MicrosoftError
from app.services.microsoft.partner_center import PartnerCenterClient

PAGE_SIZE = 50
ASSIGNMENT_KINDS = ("assign", "unassign")


class AssignmentRefused(Exception):
    """The assignment cannot be done as asked; the message says why and what is possible."""

    def __init__(self, message: str, *, can_buy: bool = False) -> None:
        super().__init__(message)
        self.can_buy = can_buy


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
class PersonView:
    """One person's row: their licenses (CSP and other), and a change in flight."""

    user: DirectoryUser
    licenses: list[Product]
    other_licenses: list[str]
    change: ChangeRequest | None

    @property
    def pending(self) -> bool:
        """An assignment of this person is being applied."""
        return self.change is not None and self.change.is_open


@dataclass(frozen=True)
class PeoplePage:
    """A page of people with the product summary."""

    products: list[Product]
    people: list[PersonView]
    total: int
    page: int
    pages: int
    query: str


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
    users = db.session.scalars(
        base.options(selectinload(DirectoryUser.licenses))
        .order_by(DirectoryUser.name, DirectoryUser.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    catalogue = products(customer)
    changes = _open_changes(customer, [u.id for u in users])
    views = [
        _person(u, catalogue, changes.get(u.id), customer.unmanaged_license_sync) for u in users
    ]
    return PeoplePage(catalogue, views, total, page, pages, query.strip())


def person(customer: Customer, directory_user_id: int, change_id: int | None = None) -> PersonView:
    """One person's row (for htmx swaps and polling)."""
    user = _user(customer, directory_user_id)
    change = _open_changes(customer, [user.id]).get(user.id)
    if change is None and change_id is not None:
        shown = db.session.get(ChangeRequest, change_id)
        if (
            shown is not None
            and shown.customer_id == customer.id
            and shown.params.get("directory_user_id") == user.id
        ):
            change = shown
    return _person(user, products(customer), change, customer.unmanaged_license_sync)


def request_assignment(
    actor: User,
    role: Role,
    customer: Customer,
    directory_user_id: int,
    sku_id: str,
    *,
    buy: bool,
    idempotency_key: str,
) -> ChangeRequest:
    """Assign a product to a person (buying the seat when the rules say so), as one job."""
    _need_admin(role)
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    user = _user(customer, directory_user_id)
    product = _product(customer, sku_id)
    if sku_id in {lic.sku_id for lic in user.licenses}:
        raise AssignmentRefused(f"{user.name} already has {product.name}.")
    if product.target is None:
        raise AssignmentRefused(f"{product.name} has no active subscription to take a seat from.")
    must_buy = customer.auto_increment or buy
    if not must_buy and product.free < 1:
        raise AssignmentRefused(
            f"No free {product.name} seat: all {product.seats} are assigned. "
            "Buy one more seat and assign it?",
            can_buy=True,
        )
    if must_buy:
        decision = nce.check_quantity_change(
            licensing.facts_of(product.target), product.target.quantity + 1, utcnow()
        )
        if not decision.allowed:
            raise AssignmentRefused(f"A seat cannot be bought now: {decision.reason}")
    params = {
        "directory_user_id": user.id,
        "graph_user_id": user.graph_id,
        "user_name": user.name,
        "sku_id": sku_id,
        "buy": must_buy,
        "bought": False,
    }
    summary = (
        f"Buy one {product.name} seat and assign it to {user.name}"
        if must_buy
        else f"Assign a free {product.name} seat to {user.name}"
    )
    return _create(actor, customer, product.target, "assign", params, idempotency_key, summary)


def request_removal(
    actor: User,
    role: Role,
    customer: Customer,
    directory_user_id: int,
    sku_id: str,
    *,
    idempotency_key: str,
) -> ChangeRequest:
    """Remove a product from a person; the seat becomes free (and stays paid for now)."""
    _need_admin(role)
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    user = _user(customer, directory_user_id)
    product = _product(customer, sku_id)
    if sku_id not in {lic.sku_id for lic in user.licenses}:
        raise AssignmentRefused(f"{user.name} does not have {product.name}.")
    if product.target is None:
        raise AssignmentRefused(f"{product.name} has no active subscription.")
    params = {
        "directory_user_id": user.id,
        "graph_user_id": user.graph_id,
        "user_name": user.name,
        "sku_id": sku_id,
    }
    return _create(
        actor,
        customer,
        product.target,
        "unassign",
        params,
        idempotency_key,
        f"Remove {product.name} from {user.name}",
    )


def apply_assignment_change(
    change_id: int, *, pc: PartnerCenterClient | None = None
) -> ChangeRequest:
    """Apply an accepted assign/unassign change and record its outcome (safe to repeat)."""
    change, started = outbox.start(change_id)
    if not started:
        return change
    client = pc or factory.partner_center()
    try:
        apply_assignment(change, client)
    finally:
        if pc is None:
            client.close()
    audit.record(
        f"license.{change.kind}",
        actor=f"job:change-{change.id}",
        customer_id=change.customer_id,
        object_type="directory_user",
        object_id=str(change.params.get("directory_user_id")),
        after={"sku": change.params.get("sku_id"), "bought": change.params.get("bought", False)},
        outcome=change.state,
        message=change.outcome,
    )
    db.session.commit()
    return change


def apply_assignment(change: ChangeRequest, pc: PartnerCenterClient) -> None:
    """Run an assign/unassign change: buy the seat if needed (once), then Graph; record it."""
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    sub = change.subscription
    params = dict(change.params)
    graph = factory.graph(customer.tenant_id)
    try:
        if change.kind == "assign" and params.get("buy") and not params.get("bought"):
            fresh = pc.subscription(customer.pc_id, sub.pc_id)
            sync.refresh_subscription(sub, fresh)
            db.session.commit()  # never hold a database write lock across a Microsoft call
            decision = nce.check_quantity_change(
                licensing.facts_of(sub), sub.quantity + 1, utcnow()
            )
            if not decision.allowed:
                outbox.finish(change, "failed", f"The seat could not be bought: {decision.reason}")
                return
            pc.update_subscription(
                customer.pc_id,
                sub.pc_id,
                {"quantity": sub.quantity + 1},
                request_id=_step_id(change, "buy"),
                current=fresh,
            )
            sync.refresh_subscription(sub, pc.subscription(customer.pc_id, sub.pc_id))
            sub.update_count += 1
            params["bought"] = True
            params["bought_quantity"] = sub.quantity
            change.params = params
            audit.record(
                "license.bought",
                actor=change.requested_by,
                customer_id=customer.id,
                object_type="subscription",
                object_id=sub.pc_id,
                after={"quantity": sub.quantity},
                message=change.summary,
            )
            db.session.commit()  # the purchase is kept, whatever happens next
        add = (params["sku_id"],) if change.kind == "assign" else ()
        remove = (params["sku_id"],) if change.kind == "unassign" else ()
        graph.assign_license(
            params["graph_user_id"], add=add, remove=remove, request_id=_step_id(change, "graph")
        )
        _record_licenses(customer, params, add=bool(add))
        outbox.finish(change, "done", _done_text(change, sub, params))
    except MicrosoftError as error:
        db.session.rollback()
        bought = params.get("bought")
        prefix = (
            f"The seat was bought (now {params.get('bought_quantity')} seats), but "
            if bought
            else ""
        )
        what = "assigning" if change.kind == "assign" else "removing"
        outbox.finish(
            change,
            "failed",
            f"{prefix}{what} the license failed: {error}. "
            + (
                "Retry assigns it without buying another seat."
                if bought
                else "Nothing was changed; try again."
            ),
        )
    finally:
        graph.close()


def _record_licenses(customer: Customer, params: dict[str, Any], *, add: bool) -> None:
    user = _user(customer, int(params["directory_user_id"]))
    sku = params["sku_id"]
    have = {lic.sku_id: lic for lic in user.licenses}
    if add and sku not in have:
        user.licenses.append(UserLicense(sku_id=sku))
    if not add and sku in have:
        user.licenses.remove(have[sku])
    subs = db.session.scalars(
        select(Subscription)
        .where(
            Subscription.customer_id == customer.id,
            Subscription.sku_id == sku,
            Subscription.status == "active",
        )
        .order_by(Subscription.creation_date)
    ).all()
    if subs:
        subs[-1].assigned = max(subs[-1].assigned + (1 if add else -1), 0)
        sync.reallocate_assigned(customer.id, sku)


def _done_text(change: ChangeRequest, sub: Subscription, params: dict[str, Any]) -> str:
    name = params.get("user_name", "")
    if change.kind == "assign":
        bought = " (one seat bought)" if params.get("bought") else ""
        return f"Done: {name} has {sub.offer_name}{bought}."
    bill = nce.describe_reducible(licensing.facts_of(sub), utcnow())
    return (
        f"Done: {sub.offer_name} removed from {name}. The seat is free and still paid for: {bill}"
    )


def _create(
    actor: User,
    customer: Customer,
    sub: Subscription,
    kind: str,
    params: dict[str, Any],
    key: str,
    summary: str,
) -> ChangeRequest:
    if outbox.open_change(sub) is not None:
        raise AssignmentRefused("Another change of this product is being applied; wait for it.")
    return outbox.create(
        customer=customer,
        sub=sub,
        actor=actor,
        kind=kind,
        params=params,
        key=key,
        summary=summary,
        audit_event={
            "kind": f"license.{kind}",
            "object_type": "directory_user",
            "object_id": str(params["directory_user_id"]),
            "after": {"sku": params["sku_id"], "buy": params.get("buy", False)},
            "outcome": "requested",
        },
    )


def _step_id(change: ChangeRequest, step: str) -> str:
    """A stable MS-RequestId per step of one attempt (retries of a step reuse it)."""
    return str(uuid.uuid5(uuid.UUID(change.request_id), step))


def _person(
    user: DirectoryUser, catalogue: list[Product], change: ChangeRequest | None, show_other: bool
) -> PersonView:
    by_sku = {p.sku_id: p for p in catalogue}
    skus = [lic.sku_id for lic in user.licenses]
    return PersonView(
        user=user,
        licenses=[by_sku[s] for s in skus if s in by_sku],
        other_licenses=[s for s in skus if s not in by_sku] if show_other else [],
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


def _user(customer: Customer, directory_user_id: int) -> DirectoryUser:
    user: DirectoryUser | None = db.session.get(DirectoryUser, directory_user_id)
    if user is None or user.customer_id != customer.id:
        raise NotFound(directory_user_id)
    return user


def _product(customer: Customer, sku_id: str) -> Product:
    for product in products(customer):
        if product.sku_id == sku_id:
            return product
    raise AssignmentRefused("That product is not one the company has.")


def _need_admin(role: Role) -> None:
    if role < Role.ADMIN:
        raise AssignmentRefused(f"Your role ({role.label}) cannot assign licenses; Admin can.")
