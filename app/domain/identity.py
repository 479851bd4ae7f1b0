"""Who a signed-in person is, and whether an invitation may be bound to them.

Sources: Microsoft identity platform docs (howto-convert-app-to-be-multi-tenant,
id-token-claims-reference). Identity is (tid, oid); email and preferred_username are
mutable and prove nothing on their own (the "nOAuth" flaw). The optional claim
``xms_edov`` says the email's domain is verified by the user's tenant.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

# Tenant of personal Microsoft accounts (outlook.com, live.com) under the /common authority.
PERSONAL_ACCOUNT_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


class SignInRefused(Exception):
    """A sign-in that must not succeed, with a reason a person understands."""


@dataclass(frozen=True)
class Identity:
    """A person as Microsoft names them: tenant id and object id, plus display data."""

    tid: str
    oid: str
    email: str | None
    name: str
    email_domain_verified: bool


def expected_issuer(issuer_template: str, tid: str) -> str:
    """The issuer a token of tenant `tid` must carry (Entra's discovery issuer is a template)."""
    return issuer_template.replace("{tenantid}", tid)


def identity_from_claims(
    claims: Mapping[str, Any],
    *,
    allowed_tenants: Collection[str] = (),
    allow_personal_accounts: bool = False,
) -> Identity:
    """Read the identity from validated ID-token claims, or refuse the sign-in."""
    tid = str(claims.get("tid") or "").strip()
    oid = str(claims.get("oid") or "").strip()
    if not tid or not oid:
        raise SignInRefused(
            "Your Microsoft account did not say which organisation it belongs to. "
            "Sign in with a work or school account."
        )
    if tid == PERSONAL_ACCOUNT_TENANT and not allow_personal_accounts:
        raise SignInRefused(
            "Personal Microsoft accounts cannot sign in here. "
            "Use the work or school account of your company."
        )
    if allowed_tenants and tid not in allowed_tenants:
        raise SignInRefused("Your organisation is not allowed to sign in to this portal.")
    email = claims.get("email") or claims.get("preferred_username")
    email = str(email).strip().lower() if email else None
    return Identity(
        tid=tid,
        oid=oid,
        email=email,
        name=str(claims.get("name") or email or ""),
        email_domain_verified=_truthy(claims.get("xms_edov")),
    )


def may_bind_invitation(identity: Identity, invited_email: str, customer_tenant_id: str) -> bool:
    """True when an invitation by email may be bound to this identity.

    The email must match, and it must provably be the person's: either they signed in
    from the customer's own tenant, or their tenant verified the email's domain.
    """
    if not identity.email or identity.email != invited_email.strip().lower():
        return False
    return identity.tid == customer_tenant_id or identity.email_domain_verified


def _truthy(value: Any) -> bool:
    """Claims arrive as booleans or strings ("1", "true")."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true"}
