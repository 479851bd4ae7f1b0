"""Resellers (issue 19): who decides which relationship setting, the provider's list of
resellers with their Partner Center relationship state, and the pause of every change for
the customers of a reseller whose relationship is not authorised."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import (
    AuditEvent,
    ChangeRequest,
    Customer,
    DirectoryUser,
    Membership,
    Reseller,
    StaffRole,
    User,
    UserLicense,
)
from app.services import people, sync
from tests.support.processes import Emulator
from tests.support.signin import csrf_token
from tests.web.test_licenses import form_values

NW = "/admin/customers/cust-northwind"


def setting_of(app: Flask, pc_id: str, key: str) -> object:
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == pc_id))
        assert customer is not None
        return getattr(customer, key)


def switch(client: FlaskClient, page: str, key: str, value: str) -> int:
    token = csrf_token(client.get("/admin/").get_data(as_text=True))
    answer = client.post(f"{page}/settings/{key}", data={"value": value, "csrf_token": token})
    return answer.status_code


def test_a_reseller_admin_switches_self_service_on_and_off_for_its_customer_audited(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    rita = signed_in("rita@fabrikam.example")
    page = rita.get(NW).get_data(as_text=True)
    assert "Decided by the reseller" in page and "Decided by the provider." in page
    before = setting_of(app, "cust-northwind", "self_service")
    first, second = ("off", "on") if before else ("on", "off")
    assert switch(rita, NW, "self_service", first) == 303
    assert setting_of(app, "cust-northwind", "self_service") is (first == "on")
    assert switch(rita, NW, "self_service", second) == 303
    assert setting_of(app, "cust-northwind", "self_service") is (second == "on")
    with app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "settings.changed").order_by(AuditEvent.id)
        ).all()
        assert [(e.before, e.after) for e in events] == [
            ({"self_service": "on" if before else "off"}, {"self_service": first}),
            ({"self_service": first}, {"self_service": second}),
        ]
        assert all("rita@fabrikam.example" in e.actor and e.actor_id for e in events)


def test_a_reseller_admin_cannot_change_a_provider_setting(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    rita = signed_in("rita@fabrikam.example")
    for key, value in [
        ("auto_increment", "on"),
        ("azure_markup_percent", "1"),
        ("partner_center_sync", "off"),
    ]:
        assert switch(rita, NW, key, value) == 403
    assert setting_of(app, "cust-northwind", "auto_increment") is False
    assert setting_of(app, "cust-northwind", "partner_center_sync") is True


def test_a_reseller_admin_finds_no_setting_of_another_resellers_customer(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    with app.app_context():
        fabrikam = db.session.scalar(select(Reseller).where(Reseller.pc_id == "res-fabrikam"))
        assert fabrikam is not None
        other = Reseller(partner_id=fabrikam.partner_id, pc_id="res-other", name="Other IT")
        db.session.add(other)
        db.session.flush()
        db.session.add(
            Customer(
                partner_id=fabrikam.partner_id,
                reseller_id=other.id,
                pc_id="cust-other",
                name="Other's Customer",
                tenant_id="99999999-0000-4000-8000-000000000001",
            )
        )
        db.session.commit()
    rita = signed_in("rita@fabrikam.example")
    other_page = "/admin/customers/cust-other"
    assert rita.get(other_page).status_code == 404
    for key in ("self_service", "reporting", "auto_increment"):
        assert switch(rita, other_page, key, "on") == 404
    assert setting_of(app, "cust-other", "self_service") is False
    assert switch(rita, "/admin/customers/cust-contoso", "self_service", "off") == 404  # direct


def test_the_provider_sees_resellers_with_their_relationship_state_and_customers(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int], emulator: Emulator
) -> None:
    emulator.load(
        {"resellers": [{"id": "res-fabrikam", "name": "Fabrikam IT", "relationship": "none"}]}
    )
    with app.app_context():
        sync.import_customers()
    pat = signed_in("pat@partner.example")
    html = pat.get("/resellers/").get_data(as_text=True)
    row = html[html.index("Fabrikam IT") :]
    row = row[: row.index("</tr>")]
    assert "Inactive" in row  # Partner Center's spelling of the relationship state
    assert "Not authorised: buying and changes are paused" in row
    assert "Northwind Traders" in row and "Contoso" not in row
    assert signed_in("rita@fabrikam.example").get("/resellers/").status_code == 403


def test_a_customer_of_an_unauthorised_reseller_cannot_change_quantities(
    app: Flask,
    signed_in: Callable[[str], FlaskClient],
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    emulator.load(
        {"resellers": [{"id": "res-fabrikam", "name": "Fabrikam IT", "relationship": "none"}]}
    )
    with app.app_context():
        sync.import_customers()
    ann = signed_in("ann@northwind.example")
    page = ann.get("/c/cust-northwind/licenses").get_data(as_text=True)
    assert "Buying and changes are paused" in page
    sent_before = len(emulator.state()["requests"])
    answer = ann.post(
        "/c/cust-northwind/subscriptions/sub-nw-bp/quantity",
        data={**form_values(page, "sub-nw-bp"), "quantity": "13"},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 422
    assert "reseller relationship between Fabrikam IT and the provider is not authorised" in (
        answer.get_data(as_text=True)
    )
    work()  # a worker that ran now would find nothing to send
    log = emulator.state()["requests"]
    assert log[sent_before:] == []  # refused before any Partner Center request
    with app.app_context():
        assert db.session.scalar(select(ChangeRequest)) is None


def test_a_reseller_admin_invites_and_removes_portal_users_of_its_customer_audited(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    rita = signed_in("rita@fabrikam.example")
    portal = "/admin/customers/cust-northwind/portal"
    token = csrf_token(rita.get(portal).get_data(as_text=True))
    invited = rita.post(
        portal,
        data={"email": "new@northwind.example", "role": "view", "csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "new@northwind.example can use the portal at level View" in invited
    with app.app_context():
        membership = db.session.scalar(
            select(Membership).where(Membership.email == "new@northwind.example")
        )
        assert membership is not None
        membership_id = membership.id
    removed = rita.post(
        f"{portal}/{membership_id}/revoke", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    assert "new@northwind.example no longer has access to Northwind Traders" in removed
    with app.app_context():
        kinds = db.session.scalars(
            select(AuditEvent.kind).where(AuditEvent.actor.contains("rita@fabrikam.example"))
        ).all()
        assert "access.granted" in kinds and "access.revoked" in kinds
    contoso = rita.post(
        "/admin/customers/cust-contoso/portal",
        data={"email": "x@contoso.example", "role": "view", "csrf_token": token},
    )
    assert contoso.status_code == 404


def test_the_brands_support_contact_is_in_the_footer_and_on_error_pages(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    rita = signed_in("rita@fabrikam.example")
    token = csrf_token(rita.get("/admin/branding").get_data(as_text=True))
    saved = rita.post(
        "/admin/branding",
        data={
            "name": "Fabrikam Cloud",
            "color": "",
            "support": "help@fabrikam.example",
            "csrf_token": token,
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Help: Fabrikam Cloud support, help@fabrikam.example" in saved
    ann = signed_in("ann@northwind.example")
    assert "help@fabrikam.example" in ann.get("/c/cust-northwind/licenses").get_data(as_text=True)
    missing = ann.get("/c/cust-northwind/subscriptions/nope/row")
    assert missing.status_code == 404
    assert "Contact Fabrikam Cloud support: help@fabrikam.example" in missing.get_data(as_text=True)
    ada = signed_in("ada@contoso.example")  # a direct customer: the partner's brand
    assert "help@fabrikam.example" not in ada.get("/c/cust-contoso/licenses").get_data(as_text=True)


def test_assigning_and_removing_licenses_is_refused_for_an_unauthorised_resellers_customer(
    app: Flask, demo: dict[str, int], emulator: Emulator
) -> None:
    emulator.load(
        {"resellers": [{"id": "res-fabrikam", "name": "Fabrikam IT", "relationship": "none"}]}
    )
    with app.app_context():
        sync.import_customers()
        sent_before = len(emulator.state()["requests"])
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        pat = db.session.scalar(select(User).where(User.staff_role == StaffRole.PARTNER_ADMIN))
        held = db.session.scalar(
            select(UserLicense)
            .join(DirectoryUser, DirectoryUser.id == UserLicense.directory_user_id)
            .where(DirectoryUser.customer_id == northwind.id)  # type: ignore[union-attr]
        )
        assert northwind is not None and pat is not None and held is not None
        for call, kwargs in [
            (people.request_assignment, {"buy": True}),
            (people.request_removal, {}),
        ]:
            with pytest.raises(people.AssignmentRefused, match="is not authorised"):
                call(
                    pat,
                    Role.ADMIN,
                    northwind,
                    held.directory_user_id,
                    held.sku_id,
                    idempotency_key=f"k-{call.__name__}",
                    **kwargs,
                )
        assert db.session.scalar(select(ChangeRequest)) is None
    assert emulator.state()["requests"][sent_before:] == []
