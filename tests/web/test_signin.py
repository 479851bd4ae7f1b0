"""Signing in with the local OpenID provider, session handling and redirects."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Membership, User
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import sign_in


def test_modify_user_signs_in_and_lands_on_their_company_licenses(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int], app: Flask
) -> None:
    answer = sign_in(
        client, oidc_provider, "ann@northwind.example", demo_claims("ann@northwind.example")
    )
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/companies"
    licenses = client.get("/companies", follow_redirects=True)
    html = licenses.get_data(as_text=True)
    assert "Northwind Traders" in html
    assert "Microsoft 365 Business Premium" in html
    assert "Your role: Modify" in html
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "ann@northwind.example"))
        assert user is not None and user.tid == demo_claims("ann@northwind.example")["tid"]
        kinds = set(db.session.scalars(select(AuditEvent.kind)))
        assert {"auth.sign_in", "access.bound"} <= kinds


def test_invitation_is_not_bound_to_same_email_from_another_tenant_without_verified_domain(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int], app: Flask
) -> None:
    forged = {
        **demo_claims("ann@northwind.example"),
        "tid": "99999999-9999-4999-8999-999999999999",
        "oid": "attacker-oid",
    }
    answer = sign_in(client, oidc_provider, "ann-forged", forged)
    assert answer.status_code == 302
    page = client.get("/companies", follow_redirects=True).get_data(as_text=True)
    assert "does not prove it owns that address" in page
    assert "You do not have access to any company yet" in page
    assert client.get("/c/cust-northwind/licenses").status_code == 404
    with app.app_context():
        membership = db.session.scalar(
            select(Membership).where(Membership.email == "ann@northwind.example")
        )
        assert membership is not None and membership.user_id is None
        refused = db.session.scalar(
            select(AuditEvent).where(AuditEvent.kind == "access.bind_refused")
        )
        assert refused is not None and refused.outcome == "refused"


def test_next_parameter_only_redirects_within_the_site(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    claims = demo_claims("pat@partner.example")
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        answer = sign_in(client, oidc_provider, "pat@partner.example", claims, next_path=evil)
        assert answer.headers["Location"] == "/admin/", evil  # staff land on the overview
    answer = sign_in(
        client, oidc_provider, "pat@partner.example", claims, next_path="/c/cust-contoso/licenses"
    )
    assert answer.headers["Location"] == "/c/cust-contoso/licenses"


def test_sign_out_needs_the_csrf_token(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    sign_in(client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example"))
    refused = client.post("/auth/logout")
    assert refused.status_code == 400
    assert client.get("/companies").status_code == 200  # still signed in


def test_htmx_request_without_sign_in_gets_401_with_redirect_header(client: FlaskClient) -> None:
    answer = client.get("/companies", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"].startswith("/auth/login?next=/companies")


def test_page_without_sign_in_redirects_to_sign_in(client: FlaskClient) -> None:
    answer = client.get("/c/cust-northwind/licenses")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/auth/login?next=")


def test_unknown_account_without_tenant_is_refused_with_a_reason(
    client: FlaskClient, oidc_provider: OidcProvider, app: Flask
) -> None:
    answer = sign_in(client, oidc_provider, "nobody", {"name": "Nobody"})
    assert answer.status_code == 403
    assert "could not be verified" in answer.get_data(as_text=True)
    with app.app_context():
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "auth.sign_in_refused"))
            is not None
        )


def test_idle_session_ends_and_asks_to_sign_in_again(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    sign_in(client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example"))
    assert client.get("/companies").status_code == 200
    with client.session_transaction() as session:
        session["seen_at"] -= 3 * 60 * 60
    answer = client.get("/companies")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/auth/login")


def test_activity_moves_the_idle_clock_on_without_rewriting_the_cookie_each_time(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    sign_in(client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example"))
    assert client.get("/companies").status_code == 200
    # A page seen seconds after the last one sends no new cookie.
    assert "Set-Cookie" not in client.get("/companies").headers
    # 90 minutes idle, then a page: the idle clock starts again from now...
    with client.session_transaction() as session:
        session["seen_at"] -= 90 * 60
    answer = client.get("/companies")
    assert answer.status_code == 200
    assert "Set-Cookie" in answer.headers
    # ...so 90 more minutes later (three hours after the first page) the session still holds.
    with client.session_transaction() as session:
        session["seen_at"] -= 90 * 60
    assert client.get("/companies").status_code == 200


def test_session_older_than_the_absolute_limit_ends_even_when_active(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    sign_in(client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example"))
    with client.session_transaction() as session:
        session["signed_in_at"] -= 13 * 60 * 60
    assert client.get("/companies").status_code == 302


def test_session_cookie_is_http_only_and_same_site_lax(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    answer = sign_in(
        client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example")
    )
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_revoked_access_is_refused_on_the_next_request(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int], app: Flask
) -> None:
    sign_in(client, oidc_provider, "ann@northwind.example", demo_claims("ann@northwind.example"))
    assert client.get("/c/cust-northwind/licenses").status_code == 200
    with app.app_context():
        membership = db.session.scalar(
            select(Membership).where(Membership.email == "ann@northwind.example")
        )
        db.session.delete(membership)
        db.session.commit()
    assert client.get("/c/cust-northwind/licenses").status_code == 404


def test_self_service_off_closes_the_portal_for_invited_users_but_not_partner_staff(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int], runner: Any
) -> None:
    assert runner.invoke(args=["settings", "cust-northwind", "self_service=off"]).exit_code == 0
    sign_in(client, oidc_provider, "ann@northwind.example", demo_claims("ann@northwind.example"))
    assert client.get("/c/cust-northwind/licenses").status_code == 404
    staff = client.application.test_client()
    sign_in(staff, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example"))
    assert staff.get("/c/cust-northwind/licenses").status_code == 200
