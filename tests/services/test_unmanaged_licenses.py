"""Unmanaged licences (SKUs no CSP subscription grants) are imported only while the
customer's Unmanaged license sync setting is on; then they show with their product names,
the license page lists them read-only, and Admins assign and remove them through Graph
(never buying one)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain import sku_names
from app.domain.roles import Role
from app.extensions import db
from app.models import (
    AuditEvent,
    ChangeRequest,
    Customer,
    DirectoryUser,
    Membership,
    StaffRole,
    UnmanagedSku,
    User,
)
from app.services import people_view, sync
from app.services.microsoft import factory
from app.services.settings import change_settings
from tests.support.identities import demo_claims
from tests.support.processes import Emulator, OidcProvider
from tests.support.signin import csrf_token, sign_in

TENANT = "33333333-4444-5555-6666-777777777777"
BP, BP_SKU = "CFQ7TTC0LCHC:0002", "cbdc14ab-d96c-4c30-b9f4-6ada7cdc1d46"
EA_SKU = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # Office 365 E3 from an Enterprise Agreement


def scenario() -> dict[str, Any]:
    return {
        "customers": [
            {
                "id": "cust-ea",
                "name": "Enterprise Agreement Co",
                "domain": "eaco.example",
                "tenant_id": TENANT,
                "users": [
                    {"id": "u-eve", "upn": "eve@eaco.example", "licenses": [BP_SKU, EA_SKU]},
                ],
                "subscriptions": [
                    {"id": "sub-bp", "offer_id": BP, "sku_id": BP_SKU, "quantity": 5},
                ],
            }
        ]
    }


def licences_of_eve() -> set[str]:
    eve = db.session.scalar(select(DirectoryUser).where(DirectoryUser.upn == "eve@eaco.example"))
    assert eve is not None
    return {lic.sku_id for lic in eve.licenses}


def set_unmanaged(on: bool) -> None:
    customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-ea"))
    assert customer is not None
    customer.unmanaged_license_sync = on
    db.session.commit()


def test_unmanaged_licences_are_imported_only_while_the_toggle_is_on(
    app: Flask, emulator: Emulator
) -> None:
    emulator.load(scenario())
    with app.app_context():
        sync.sync_customer("cust-ea")  # the setting is off by default
        assert licences_of_eve() == {BP_SKU}
        set_unmanaged(True)
        sync.sync_customer("cust-ea")
        assert licences_of_eve() == {BP_SKU, EA_SKU}
        set_unmanaged(False)
        sync.sync_customer("cust-ea")
        assert licences_of_eve() == {BP_SKU}


# --- Names, the license page's section, and per-person assignment through Graph ------------

PEOPLE, LICENSES = "/c/cust-ea/people", "/c/cust-ea/licenses"


def with_units(units: int, *, zoe_has_it: bool = False) -> dict[str, Any]:
    """Eve holds Business Premium and the EA's Office 365 E3; Zoe nothing (or the E3 too);
    the tenant has `units` E3 licences bought outside CSP."""
    data = scenario()
    customer = data["customers"][0]
    customer["other_licenses"] = [
        {"sku_id": EA_SKU, "part_number": "ENTERPRISEPACK", "units": units}
    ]
    customer["users"].append(
        {
            "id": "u-zoe",
            "upn": "zoe@eaco.example",
            "name": "Zoe Ng",
            "licenses": [EA_SKU] if zoe_has_it else [],
        }
    )
    return data


def prepared(
    app: Flask, emulator: Emulator, data: dict[str, Any], *, unmanaged: str = "on"
) -> None:
    emulator.load(data)
    with app.app_context():
        sync.sync_customer("cust-ea")
        change_settings("cust-ea", {"unmanaged_license_sync": unmanaged}, actor="test")
        sync.sync_customer("cust-ea")


def partner_admin(app: Flask, provider: OidcProvider) -> FlaskClient:
    with app.app_context():
        claims = demo_claims("pat@partner.example")
        db.session.add(
            User(
                tid=claims["tid"],
                oid=claims["oid"],
                email="pat@partner.example",
                name="Pat",
                staff_role=StaffRole.PARTNER_ADMIN,
            )
        )
        db.session.commit()
    client = app.test_client()
    sign_in(client, provider, "pat@partner.example", demo_claims("pat@partner.example"))
    return client


def person_id(app: Flask, name: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(DirectoryUser).where(DirectoryUser.name == name))
        assert found is not None
        return found.id


def post(client: FlaskClient, person: int, action: str, sku: str = EA_SKU) -> tuple[int, str]:
    page = client.get(PEOPLE).get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    assert key, page[:1000]
    answer = client.post(
        f"{PEOPLE}/{person}/{action}",
        headers={"HX-Request": "true"},
        data={
            "csrf_token": csrf_token(page),
            "idempotency_key": key.group(1),
            "sku_id": sku,
            "buy": "no",
        },
    )
    return answer.status_code, answer.get_data(as_text=True)


def emulated_holders(emulator: Emulator) -> set[str]:
    users = emulator.state()["customers"][0]["users"]
    return {u["id"] for u in users if EA_SKU in u["licenses"]}


def graph_counts(app: Flask) -> tuple[int, int]:
    """What Graph's subscribedSkus says of the E3 bought outside CSP: (enabled, consumed)."""
    with app.app_context():
        graph = factory.graph(TENANT)
        try:
            sku = next(s for s in graph.subscribed_skus() if s.sku_id == EA_SKU)
        finally:
            graph.close()
    return sku.enabled, sku.consumed


def other_section(html: str) -> tuple[int, int, int] | None:
    row = re.search(
        r"<th scope=\"row\">Office 365 E3</th><td class=\"num\">(\d+)</td>"
        r"<td class=\"num\">(\d+)</td><td class=\"num\">(\d+)</td>",
        html,
    )
    return (int(row.group(1)), int(row.group(2)), int(row.group(3))) if row else None


def assign_requests(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.state()["requests"] if "assignLicense" in r["path"]]


def test_product_names_are_shown_and_the_license_page_lists_them_read_only(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator
) -> None:
    prepared(app, emulator, with_units(3))
    pat = partner_admin(app, oidc_provider)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-ea"))
        assert customer is not None
        seller = people_view.seller_name(customer)
        stored = db.session.scalars(select(UnmanagedSku)).all()
        assert [(s.sku_id, s.part_number, s.name) for s in stored] == [
            (EA_SKU, "ENTERPRISEPACK", "Office 365 E3")
        ]
    licenses = pat.get(LICENSES).get_data(as_text=True)
    assert f"Other licences (not bought through {seller})" in licenses
    assert other_section(licenses) == (3, 1, 2)
    people = pat.get(PEOPLE).get_data(as_text=True)
    assert "Office 365 E3 · other source" in people
    assert f"{EA_SKU} · other source" not in people
    assert "Office 365 E3 (2 free · other source)" in people  # offered in the assign list


def test_an_unlisted_part_number_shows_as_itself() -> None:
    assert sku_names.product_name("ENTERPRISEPACK", EA_SKU) == "Office 365 E3"
    assert sku_names.product_name("CONTOSO_SPECIAL", EA_SKU) == "CONTOSO_SPECIAL"
    assert sku_names.product_name("", EA_SKU) == EA_SKU


def test_with_the_toggle_off_there_is_no_section_and_nothing_is_kept(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator
) -> None:
    prepared(app, emulator, with_units(3))
    set_unmanaged_and_sync(app, on=False)
    pat = partner_admin(app, oidc_provider)
    licenses = pat.get(LICENSES).get_data(as_text=True)
    assert "Other licences" not in licenses and other_section(licenses) is None
    people = pat.get(PEOPLE).get_data(as_text=True)
    assert "Office 365 E3" not in people and "other source" not in people
    with app.app_context():
        assert db.session.scalars(select(UnmanagedSku)).all() == []


def set_unmanaged_and_sync(app: Flask, *, on: bool) -> None:
    with app.app_context():
        set_unmanaged(on)
        sync.sync_customer("cust-ea")


def test_an_admin_assigns_a_free_unit_through_graph_and_nothing_is_bought(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator, work: Callable[[], None]
) -> None:
    prepared(app, emulator, with_units(3))
    pat = partner_admin(app, oidc_provider)
    status, pending = post(pat, person_id(app, "Zoe Ng"), "assign")
    assert status == 200 and "Assign a free Office 365 E3 licence to Zoe Ng" in pending
    work()
    assert emulated_holders(emulator) == {"u-eve", "u-zoe"}
    assert graph_counts(app) == (3, 2)  # Graph agrees: one more unit consumed
    assert not [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]
    assert other_section(pat.get(LICENSES).get_data(as_text=True)) == (3, 2, 1)
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        assert change is not None and change.state == "done", change and change.outcome
        assert change.subscription_id is None
        assert change.outcome == "Done: Zoe Ng has Office 365 E3."
        kinds = list(db.session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))
    assert kinds.count("license.assign") == 2  # requested, then its outcome


def test_with_no_free_unit_the_assignment_is_refused_and_nothing_is_sent(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator, work: Callable[[], None]
) -> None:
    prepared(app, emulator, with_units(1))  # Eve holds the only one
    pat = partner_admin(app, oidc_provider)
    status, refused = post(pat, person_id(app, "Zoe Ng"), "assign")
    assert status == 422  # refused, as every refused assignment
    assert "No free Office 365 E3 licence: all 1 are assigned." in refused
    assert "none can be bought here" in refused and "Buy one and assign" not in refused
    work()
    assert assign_requests(emulator) == []
    assert emulated_holders(emulator) == {"u-eve"}
    with app.app_context():
        assert db.session.scalars(select(ChangeRequest)).all() == []


def test_an_admin_removes_one_and_the_unit_is_free_again(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator, work: Callable[[], None]
) -> None:
    prepared(app, emulator, with_units(2, zoe_has_it=True))
    pat = partner_admin(app, oidc_provider)
    assert other_section(pat.get(LICENSES).get_data(as_text=True)) == (2, 2, 0)
    status, _pending = post(pat, person_id(app, "Zoe Ng"), "remove")
    assert status == 200
    work()
    assert emulated_holders(emulator) == {"u-eve"}
    assert graph_counts(app) == (2, 1)
    assert other_section(pat.get(LICENSES).get_data(as_text=True)) == (2, 1, 1)
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        assert change is not None and change.state == "done"
        assert change.outcome == "Done: Office 365 E3 removed from Zoe Ng; the licence is free."


def test_a_modify_user_can_neither_assign_nor_remove(
    app: Flask, oidc_provider: OidcProvider, emulator: Emulator
) -> None:
    prepared(app, emulator, with_units(3, zoe_has_it=True))
    with app.app_context():
        change_settings("cust-ea", {"self_service": "on"}, actor="test")
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-ea"))
        assert customer is not None
        claims = demo_claims("ann@northwind.example")
        ann = User(tid=claims["tid"], oid=claims["oid"], email="ann@northwind.example")
        db.session.add(ann)
        db.session.flush()
        db.session.add(
            Membership(customer_id=customer.id, email=ann.email, role=Role.MODIFY, user_id=ann.id)
        )
        db.session.commit()
    client = app.test_client()
    sign_in(client, oidc_provider, "ann@northwind.example", demo_claims("ann@northwind.example"))
    assert client.get(LICENSES).status_code == 200  # Modify sees the license page
    zoe = person_id(app, "Zoe Ng")
    token = csrf_token(client.get(LICENSES).get_data(as_text=True))
    for action in ("assign", "remove"):
        answer = client.post(
            f"{PEOPLE}/{zoe}/{action}",
            data={"csrf_token": token, "idempotency_key": "a" * 32, "sku_id": EA_SKU},
        )
        assert answer.status_code == 403  # the guard: a role too low
    assert assign_requests(emulator) == []
    with app.app_context():
        assert db.session.scalars(select(ChangeRequest)).all() == []
