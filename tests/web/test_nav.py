"""The navigation follows the person, the company on screen and the page, at once."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import Customer, Membership, User

NW = "/c/cust-northwind"
Client = Callable[[str], FlaskClient]


def _nav(html: str) -> str:
    return html[html.index('<nav aria-label="Main">') : html.index("</nav>")]


def _set_role(app: Flask, email: str, role: Role) -> None:
    with app.app_context():
        membership = db.session.scalar(
            select(Membership)
            .join(User, User.id == Membership.user_id)
            .join(Customer, Customer.id == Membership.customer_id)
            .where(User.email == email, Customer.pc_id == "cust-northwind")
        )
        assert membership is not None
        membership.role = role
        db.session.commit()


def test_insights_appear_when_a_person_becomes_admin_and_go_when_they_no_longer_are(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    ann = signed_in("ann@northwind.example")  # Modify on Northwind
    assert f'href="{NW}/insights"' not in _nav(ann.get(f"{NW}/licenses").get_data(as_text=True))
    _set_role(app, "ann@northwind.example", Role.ADMIN)
    assert f'href="{NW}/insights"' in _nav(ann.get(f"{NW}/licenses").get_data(as_text=True))
    _set_role(app, "ann@northwind.example", Role.MODIFY)
    assert f'href="{NW}/insights"' not in _nav(ann.get(f"{NW}/licenses").get_data(as_text=True))


def test_the_current_page_is_marked_and_each_person_sees_their_own_links(
    app: Flask, demo: dict[str, int], signed_in: Client
) -> None:
    ann = signed_in("ann@northwind.example")
    licenses = _nav(ann.get(f"{NW}/licenses").get_data(as_text=True))
    assert 'href="/companies" aria-current="page"' in licenses
    store = _nav(ann.get(f"{NW}/store").get_data(as_text=True))
    assert f'href="{NW}/store" aria-current="page"' in store
    assert 'href="/companies" aria-current="page"' not in store
    assert "Ann Lee" in store and "Audit log" not in store
    pat = _nav(signed_in("pat@partner.example").get(f"{NW}/licenses").get_data(as_text=True))
    assert "Audit log" in pat and "Resellers" in pat and "Pat" in pat and "Ann Lee" not in pat
