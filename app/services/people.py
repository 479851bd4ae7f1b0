"""People of a company and their licenses: assign (buying the seat when needed) and remove.

"Assign = buy" (PRODUCT.md, Auto increment): with Auto increment on, assigning always buys
one more seat first, then assigns it, so the free-seat buffer stays as it was. With it off,
a free seat is used when there is one; otherwise "buy one and assign" is offered.

The seat is bought on the OLDEST active subscription of the product (the same one the
reconciliation merges onto and the sync fills first with assigned seats).

The page's read-model (products, people, one person's row) is app.services.people_view.

Products bought outside CSP (an Enterprise Agreement, say; shown while Unmanaged license
sync is on) are assigned and removed the same way, through Graph only: a unit of them is
never bought, so an assignment with no free unit is refused before anything is sent
(docs/unmanaged-licences.md).

Buying and assigning run as one job through the ChangeRequest outbox: the purchase is
recorded in the request (`params["bought"]`) the moment Partner Center confirms it, so a
failed assignment is retried without buying a second seat.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from app.domain import nce
from app.domain.roles import Role
from app.extensions import db
from app.models import (
    ChangeRequest,
    Customer,
    DirectoryUser,
    Subscription,
    UnmanagedSku,
    User,
    UserLicense,
)
from app.models._types import utcnow
from app.models.licensing import OPEN_STATES
from app.services import audit, licensing, outbox, resellers, sync
from app.services.microsoft import factory
from app.services.microsoft.http import MicrosoftError
from app.services.microsoft.partner_center import PartnerCenterClient
from app.services.people_view import (
    Product,
    other_products,
    products,
    seller_name,
    user_of,
)


class AssignmentRefused(Exception):
    """The assignment cannot be done as asked; the message says why and what is possible."""

    def __init__(self, message: str, *, can_buy: bool = False) -> None:
        super().__init__(message)
        self.can_buy = can_buy


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
    resellers.require_active(customer, AssignmentRefused)  # reseller not authorised: paused
    _need_admin(role)
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    user = user_of(customer, directory_user_id)
    product = _product(customer, sku_id)
    if sku_id in {lic.sku_id for lic in user.licenses}:
        raise AssignmentRefused(f"{user.name} already has {product.name}.")
    if _unmanaged(customer, product):
        return _assign_unmanaged(actor, customer, user, product, idempotency_key)
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
    resellers.require_active(customer, AssignmentRefused)  # reseller not authorised: paused
    _need_admin(role)
    existing = outbox.find(idempotency_key, customer)
    if existing is not None:
        return existing
    user = user_of(customer, directory_user_id)
    product = _product(customer, sku_id)
    if sku_id not in {lic.sku_id for lic in user.licenses}:
        raise AssignmentRefused(f"{user.name} does not have {product.name}.")
    unmanaged = _unmanaged(customer, product)
    if product.target is None and not unmanaged:
        raise AssignmentRefused(f"{product.name} has no active subscription.")
    params = {
        "directory_user_id": user.id,
        "graph_user_id": user.graph_id,
        "user_name": user.name,
        "sku_id": sku_id,
        "product_name": product.name,
        "unmanaged": unmanaged,
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


def _unmanaged(customer: Customer, product: Product) -> bool:
    """A product bought outside CSP (no subscription of ours grants it)."""
    return product.target is None and any(
        p.sku_id == product.sku_id for p in other_products(customer)
    )


def _assign_unmanaged(
    actor: User, customer: Customer, user: DirectoryUser, product: Product, key: str
) -> ChangeRequest:
    """Assign a free unit of a product bought outside CSP; with none free, refuse: it is
    not ours to buy."""
    if product.free < 1:
        raise AssignmentRefused(
            f"No free {product.name} licence: all {product.seats} are assigned. It is not "
            f"bought through {seller_name(customer)}, so none can be bought here; "
            "remove it from someone first, or buy more where it was bought."
        )
    params = {
        "directory_user_id": user.id,
        "graph_user_id": user.graph_id,
        "user_name": user.name,
        "sku_id": product.sku_id,
        "product_name": product.name,
        "unmanaged": True,
        "buy": False,
        "bought": False,
    }
    summary = f"Assign a free {product.name} licence to {user.name}"
    return _create(actor, customer, None, "assign", params, key, summary)


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
    return outbox.record_outcome(
        change,
        event=f"license.{change.kind}",
        object_type="directory_user",
        object_id=str(change.params.get("directory_user_id")),
        after={"sku": change.params.get("sku_id"), "bought": change.params.get("bought", False)},
    )


def apply_assignment(change: ChangeRequest, pc: PartnerCenterClient) -> None:
    """Run an assign/unassign change: buy the seat if needed (once), then Graph; record it."""
    customer = db.session.get(Customer, change.customer_id)
    assert customer is not None
    sub = change.subscription
    params = dict(change.params)
    graph = factory.graph(customer.tenant_id)
    try:
        if change.kind == "assign" and params.get("buy") and not params.get("bought"):
            if not _buy_seat(change, customer, sub, pc):
                return
            params = dict(change.params)
        add = (params["sku_id"],) if change.kind == "assign" else ()
        remove = (params["sku_id"],) if change.kind == "unassign" else ()
        try:
            graph.assign_license(
                params["graph_user_id"],
                add=add,
                remove=remove,
                request_id=_step_id(change, "graph"),
            )
        except MicrosoftError as error:
            if not outbox.ambiguous(error) or params.get("bought"):
                raise
            db.session.rollback()
            outbox.finish_unknown(change, "the license change")
            return
        _record_licenses(customer, params, add=bool(add))
        outbox.finish(change, "done", _done_text(change, sub, params))
    except MicrosoftError as error:
        db.session.rollback()
        _failed(change, error)
    except Exception:  # a bug or an outage of ours: never leave the change open
        outbox.finish_unexpected(change)
    finally:
        graph.close()


def _buy_seat(
    change: ChangeRequest, customer: Customer, sub: Subscription, pc: PartnerCenterClient
) -> bool:
    """Buy the one seat of an assignment, at most once over every attempt; False when the
    change ended here (refused, or Partner Center could not say whether it was bought).

    The seat count to reach (`buy_to`) is written down, and the change marked sent, before
    the PATCH. A later attempt that finds that count knows the seat was bought; otherwise
    it sends the same request id again for one seat more than Partner Center has now,
    which Partner Center carries out at most once (a lost answer is not a second seat)."""
    fresh = pc.subscription(customer.pc_id, sub.pc_id)
    sync.refresh_subscription(sub, fresh)
    db.session.commit()  # never hold a database write lock across a Microsoft call
    target = change.params.get("buy_to")
    sent = outbox.was_sent(change) and target is not None
    if not (sent and fresh.quantity == target):
        if not sent:
            decision = nce.check_quantity_change(
                licensing.facts_of(sub), fresh.quantity + 1, utcnow()
            )
            if not decision.allowed:
                outbox.finish(change, "failed", f"The seat could not be bought: {decision.reason}")
                return False
        target = fresh.quantity + 1
        change.params = {**change.params, "buy_to": target}
        outbox.mark_sent(change)
        db.session.commit()  # written down before the call that buys
        try:
            pc.update_subscription(
                customer.pc_id,
                sub.pc_id,
                {"quantity": target},
                request_id=_step_id(change, "buy"),
                current=fresh,
            )
        except MicrosoftError as error:
            if not outbox.ambiguous(error):
                raise
            try:  # the seat may have been bought all the same: ask what is there now
                fresh = pc.subscription(customer.pc_id, sub.pc_id)
            except MicrosoftError:
                outbox.finish_unknown(change, "the seat purchase")
                return False
            if fresh.quantity != target:
                raise error from None
    sync.refresh_subscription(sub, pc.subscription(customer.pc_id, sub.pc_id))
    sub.update_count += 1
    change.params = {**change.params, "bought": True, "bought_quantity": sub.quantity}
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
    return True


def _failed(change: ChangeRequest, error: MicrosoftError) -> None:
    """The outcome of a Microsoft error, saying truly what was bought and what is left."""
    params = change.params
    what = "assigning" if change.kind == "assign" else "removing"
    if params.get("bought"):
        outbox.finish(
            change,
            "failed",
            f"The seat was bought (now {params.get('bought_quantity')} seats), but {what} the "
            f"license failed: {error}. Retry assigns it without buying another seat.",
        )
        return
    if outbox.was_sent(change) and outbox.ambiguous(error):
        outbox.finish(
            change,
            "failed",
            f"Buying the seat failed ({error}) and Partner Center does not show it, so no "
            "seat was bought. Retry sends the same request again; Microsoft carries it out "
            "at most once.",
        )
        return
    outbox.clear_sent(change)
    outbox.finish(
        change,
        "failed",
        f"{what.capitalize()} the license failed: {error}. Nothing was changed; try again.",
    )


def _record_licenses(customer: Customer, params: dict[str, Any], *, add: bool) -> None:
    user = user_of(customer, int(params["directory_user_id"]))
    sku = params["sku_id"]
    have = {lic.sku_id: lic for lic in user.licenses}
    if add and sku not in have:
        user.licenses.append(UserLicense(sku_id=sku))
    if not add and sku in have:
        user.licenses.remove(have[sku])
    if params.get("unmanaged"):  # counted as Graph counts it until the next sync
        other = db.session.scalar(
            select(UnmanagedSku).where(
                UnmanagedSku.customer_id == customer.id, UnmanagedSku.sku_id == sku
            )
        )
        if other is not None:
            other.assigned = max(other.assigned + (1 if add else -1), 0)
        return
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


def _done_text(change: ChangeRequest, sub: Subscription | None, params: dict[str, Any]) -> str:
    name = params.get("user_name", "")
    if sub is None:  # a product bought outside CSP: nothing bought, nothing billed here
        product = params.get("product_name") or params["sku_id"]
        if change.kind == "assign":
            return f"Done: {name} has {product}."
        return f"Done: {product} removed from {name}; the licence is free."
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
    sub: Subscription | None,
    kind: str,
    params: dict[str, Any],
    key: str,
    summary: str,
) -> ChangeRequest:
    busy = AssignmentRefused("Another change of this product is being applied; wait for it.")
    if sub is not None and outbox.open_change(sub) is not None:
        raise busy
    if sub is None and _open_unmanaged(customer, params["sku_id"]):
        raise busy
    try:
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
    except outbox.ChangeBusy:  # another request got there between the check and the write
        raise busy from None


def _open_unmanaged(customer: Customer, sku_id: str) -> bool:
    """A change of this product bought outside CSP is being applied (one at a time, as a
    subscription's: its free units are counted before the job runs)."""
    return any(
        c.params.get("sku_id") == sku_id
        for c in db.session.scalars(
            select(ChangeRequest).where(
                ChangeRequest.customer_id == customer.id,
                ChangeRequest.subscription_id.is_(None),
                ChangeRequest.kind.in_(("assign", "unassign")),
                ChangeRequest.state.in_(OPEN_STATES),
            )
        )
    )


def _step_id(change: ChangeRequest, step: str) -> str:
    """A stable MS-RequestId per step of one attempt (retries of a step reuse it)."""
    return str(uuid.uuid5(uuid.UUID(change.request_id), step))


def _product(customer: Customer, sku_id: str) -> Product:
    for product in (*products(customer), *other_products(customer)):
        if product.sku_id == sku_id:
            return product
    raise AssignmentRefused("That product is not one the company has.")


def _need_admin(role: Role) -> None:
    if role < Role.ADMIN:
        raise AssignmentRefused(f"Your role ({role.label}) cannot assign licenses; Admin can.")
