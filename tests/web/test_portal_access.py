"""Partner and reseller admins invite people to a company's portal, change levels, revoke."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import AuditEvent, Membership
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import csrf_token, sign_in

PAGE = "/admin/customers/cust-contoso/portal"


def signed_in(app: Flask, provider: OidcProvider, sub: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, provider, sub, demo_claims(sub))
    return client


def audit_kinds(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))


def test_partner_admin_invites_an_email_as_modify(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    client = signed_in(app, oidc_provider, "pat@partner.example")
    page = client.get(PAGE)
    assert page.status_code == 200
    answer = client.post(
        PAGE,
        data={
            "email": " New@Contoso.example ",
            "role": "modify",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
        follow_redirects=True,
    )
    assert "new@contoso.example can use the portal at level Modify" in answer.get_data(as_text=True)
    with app.app_context():
        membership = db.session.scalar(
            select(Membership).where(Membership.email == "new@contoso.example")
        )
        assert membership is not None and membership.role is Role.MODIFY
    assert "access.granted" in audit_kinds(app)


def test_inviting_a_malformed_email_is_refused_with_a_message_and_stores_nothing(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    client = signed_in(app, oidc_provider, "pat@partner.example")
    token = csrf_token(client.get(PAGE).get_data(as_text=True))
    for bad in ("not-an-email", "", "a@b"):
        answer = client.post(PAGE, data={"email": bad, "role": "view", "csrf_token": token})
        assert answer.status_code == 422
        assert 'aria-invalid="true"' in answer.get_data(as_text=True)
    answer = client.post(
        PAGE, data={"email": "x@contoso.example", "role": "owner", "csrf_token": token}
    )
    assert answer.status_code == 422
    assert "access.granted" not in audit_kinds(app)


def test_changing_the_level_and_revoking_are_audited_and_take_effect_at_once(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ada = signed_in(app, oidc_provider, "ada@contoso.example")
    assert ada.get("/c/cust-contoso/licenses").status_code == 200
    admin = signed_in(app, oidc_provider, "pat@partner.example")
    token = csrf_token(admin.get(PAGE).get_data(as_text=True))
    admin.post(PAGE, data={"email": "ada@contoso.example", "role": "view", "csrf_token": token})
    assert "Your role: View" in ada.get("/c/cust-contoso/licenses").get_data(as_text=True)
    with app.app_context():
        membership = db.session.scalar(
            select(Membership).where(Membership.email == "ada@contoso.example")
        )
        assert membership is not None
        membership_id = membership.id
    answer = admin.post(
        f"{PAGE}/{membership_id}/revoke", data={"csrf_token": token}, follow_redirects=True
    )
    assert "ada@contoso.example no longer has access" in answer.get_data(as_text=True)
    assert ada.get("/c/cust-contoso/licenses").status_code == 404
    assert {"access.changed", "access.revoked"} <= set(audit_kinds(app))


def test_end_user_admins_cannot_manage_portal_access(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ada = signed_in(app, oidc_provider, "ada@contoso.example")
    assert ada.get(PAGE).status_code == 404


def test_reseller_admin_manages_only_the_customers_of_their_reseller(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    rita = signed_in(app, oidc_provider, "rita@fabrikam.example")
    assert rita.get("/admin/customers/cust-northwind/portal").status_code == 200
    assert rita.get(PAGE).status_code == 404
    companies = rita.get("/companies").get_data(as_text=True)
    assert "Northwind Traders" in companies and "Contoso Ltd" not in companies
