"""Signing people in: find or create them by (tid, oid) and bind their invitations safely."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from app.domain.identity import Identity, may_bind_invitation
from app.extensions import db
from app.models import Membership, User
from app.models._types import utcnow
from app.services import audit


@dataclass
class SignInResult:
    """The signed-in user and the invitations that could not be bound to them."""

    user: User
    refused: list[str] = field(default_factory=list)


def sign_in(identity: Identity) -> SignInResult:
    """Record a successful Microsoft sign-in and bind pending invitations that provably match."""
    user = db.session.scalar(select(User).where(User.tid == identity.tid, User.oid == identity.oid))
    if user is None:
        user = User(tid=identity.tid, oid=identity.oid)
        db.session.add(user)
    user.email = identity.email
    user.name = identity.name
    user.last_sign_in_at = utcnow()
    db.session.flush()

    result = SignInResult(user=user)
    if identity.email:
        pending = db.session.scalars(
            select(Membership).where(
                Membership.email == identity.email, Membership.user_id.is_(None)
            )
        )
        for membership in pending:
            if may_bind_invitation(identity, membership.email, membership.customer.tenant_id):
                membership.user_id = user.id
                membership.bound_at = utcnow()
                audit.record(
                    "access.bound",
                    actor=user,
                    customer_id=membership.customer_id,
                    object_type="membership",
                    object_id=str(membership.id),
                    after={"role": membership.role.label, "tid": identity.tid},
                )
            else:
                result.refused.append(membership.customer.name)
                audit.record(
                    "access.bind_refused",
                    actor=user,
                    customer_id=membership.customer_id,
                    object_type="membership",
                    object_id=str(membership.id),
                    outcome="refused",
                    message="Email not proven: other tenant and no verified-domain claim.",
                )
    audit.record("auth.sign_in", actor=user, after={"tid": identity.tid})
    db.session.commit()
    return result


def record_refused_sign_in(reason: str, claims_hint: str) -> None:
    """Keep a refused sign-in in the audit trail (no user is created for it)."""
    audit.record(
        "auth.sign_in_refused", actor=claims_hint or "unknown", outcome="refused", message=reason
    )
    db.session.commit()


def sign_out(user: User) -> None:
    """End every session of `user` (a copied cookie is refused from now on); audited.

    Sessions are signed cookies, so ending one means moving the user's session generation
    on: a cookie carries the generation it was issued under and is refused when it differs.
    """
    user.session_generation = (user.session_generation or 0) + 1
    audit.record("auth.sign_out", actor=user)
    db.session.commit()
