"""Who may sign in, and when an invitation by email may be bound (the nOAuth rule)."""

from __future__ import annotations

import pytest

from app.domain.identity import (
    PERSONAL_ACCOUNT_TENANT,
    SignInRefused,
    expected_issuer,
    identity_from_claims,
    may_bind_invitation,
)

CUSTOMER_TID = "11111111-2222-3333-4444-555555555555"
OTHER_TID = "99999999-9999-4999-8999-999999999999"


def claims(**extra: object) -> dict[str, object]:
    return {"tid": CUSTOMER_TID, "oid": "o-1", "email": "Ann@Northwind.example", **extra}


def test_issuer_template_is_filled_with_the_token_tenant() -> None:
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert expected_issuer(template, CUSTOMER_TID) == (
        f"https://login.microsoftonline.com/{CUSTOMER_TID}/v2.0"
    )
    assert expected_issuer("http://127.0.0.1:5002", CUSTOMER_TID) == "http://127.0.0.1:5002"


def test_email_is_normalised_and_identity_is_tenant_and_object_id() -> None:
    identity = identity_from_claims(claims())
    assert (identity.tid, identity.oid, identity.email) == (
        CUSTOMER_TID,
        "o-1",
        "ann@northwind.example",
    )


def test_tenant_outside_the_allow_list_is_refused() -> None:
    with pytest.raises(SignInRefused, match="not allowed"):
        identity_from_claims(claims(), allowed_tenants=[OTHER_TID])


def test_personal_accounts_are_refused_unless_allowed() -> None:
    with pytest.raises(SignInRefused, match="Personal Microsoft accounts"):
        identity_from_claims(claims(tid=PERSONAL_ACCOUNT_TENANT))
    assert (
        identity_from_claims(claims(tid=PERSONAL_ACCOUNT_TENANT), allow_personal_accounts=True).tid
        == PERSONAL_ACCOUNT_TENANT
    )


def test_invitation_binds_from_the_customer_tenant() -> None:
    assert may_bind_invitation(
        identity_from_claims(claims()), "ann@northwind.example", CUSTOMER_TID
    )


def test_invitation_from_another_tenant_needs_the_verified_domain_claim() -> None:
    forged = identity_from_claims(claims(tid=OTHER_TID))
    assert not may_bind_invitation(forged, "ann@northwind.example", CUSTOMER_TID)
    verified = identity_from_claims(claims(tid=OTHER_TID, xms_edov=True))
    assert may_bind_invitation(verified, "ann@northwind.example", CUSTOMER_TID)
    assert not may_bind_invitation(
        identity_from_claims(claims(tid=OTHER_TID, xms_edov="false")),
        "ann@northwind.example",
        CUSTOMER_TID,
    )


def test_invitation_for_another_email_never_binds() -> None:
    assert not may_bind_invitation(
        identity_from_claims(claims()), "bob@northwind.example", CUSTOMER_TID
    )
