"""A reseller admin reaches only their reseller's customers; with no reseller recorded,
nothing at all (not every direct customer), and a page says why."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.domain.roles import Role
from app.extensions import db
from app.models import Customer, User
from app.services import access

RITA = "rita@fabrikam.example"
DIRECT = "cust-contoso"  # a direct customer: no reseller


def unrecord_ritas_reseller(app: Flask) -> None:
    with app.app_context():
        rita = db.session.scalar(select(User).where(User.email == RITA))
        assert rita is not None and rita.reseller_id is not None
        rita.reseller_id = None
        db.session.commit()


def test_a_reseller_admin_without_a_recorded_reseller_has_no_role_on_direct_customers(
    app: Flask, demo: dict[str, int]
) -> None:
    unrecord_ritas_reseller(app)
    with app.app_context():
        rita = db.session.scalar(select(User).where(User.email == RITA))
        direct = db.session.scalar(select(Customer).where(Customer.pc_id == DIRECT))
        assert rita is not None and direct is not None and direct.reseller_id is None
        assert access.role_on(rita, direct) is None
        assert access.companies(rita) == []


def test_a_reseller_admin_without_a_recorded_reseller_sees_a_page_saying_why(
    app: Flask, demo: dict[str, int], signed_in: Callable[[str], FlaskClient]
) -> None:
    unrecord_ritas_reseller(app)
    rita = signed_in(RITA)
    for url in ("/companies", "/admin/", "/admin/customers", f"/c/{DIRECT}/licenses"):
        answer = rita.get(url)
        body = " ".join(answer.get_data(as_text=True).split())
        assert answer.status_code == 403, url
        assert "not linked to a reseller" in body, url
        assert "Contoso" not in body, url


def test_a_recorded_reseller_admin_reaches_their_customers_and_not_direct_ones(
    app: Flask, demo: dict[str, int], signed_in: Callable[[str], FlaskClient]
) -> None:
    rita = signed_in(RITA)
    assert rita.get("/c/cust-northwind/licenses").status_code == 200
    assert rita.get(f"/c/{DIRECT}/licenses").status_code == 404
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == RITA))
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert user is not None and northwind is not None
        assert access.role_on(user, northwind) is Role.ADMIN
