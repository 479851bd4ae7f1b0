"""The partner console's front page: where staff land, what needs attention, what was saved."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AdjustmentRun, ChangeRequest, Customer, Subscription
from app.models._types import utcnow
from tests.support.identities import demo_claims
from tests.support.processes import OidcProvider
from tests.support.signin import sign_in


def test_staff_land_on_the_overview_with_attention_and_savings(
    app: Flask, client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    answer = sign_in(
        client, oidc_provider, "pat@partner.example", demo_claims("pat@partner.example")
    )
    assert answer.headers["Location"] == "/admin/"
    calm = client.get("/admin/").get_data(as_text=True)
    assert "Overview" in calm and "Customers" in calm
    demo_est = calm[calm.index("Heading into the extended service term") :]
    assert "Contoso Ltd" in demo_est and "Northwind Traders" not in demo_est

    with app.app_context():
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert northwind is not None
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-nw-bp"))
        assert sub is not None
        sub.auto_renew = False
        sub.commitment_end = (utcnow() + timedelta(days=20)).date()
        db.session.add(
            ChangeRequest(
                customer_id=northwind.id,
                subscription_id=sub.id,
                requested_by="ann@northwind.example",
                kind="quantity",
                params={"quantity": 13},
                idempotency_key="overview-failed-1",
                request_id="00000000-0000-4000-8000-000000000001",
                state="failed",
                summary="Change seats from 12 to 13",
                outcome="Microsoft refused the change.",
            )
        )
        db.session.add(
            AdjustmentRun(
                customer_id=northwind.id,
                day=utcnow().date(),
                run_key="cust-northwind-overview",
                state="done",
                saving_now=Decimal("44.00"),
                saving_at_renewal=Decimal("6.50"),
            )
        )
        db.session.commit()
    html = client.get("/admin/").get_data(as_text=True)
    assert "1 failed change" in html
    assert "2 subscriptions end within 60 days with auto-renew off" in html  # + the demo's
    est = html[html.index("Heading into the extended service term") :]
    assert "Northwind Traders" in est and "Microsoft 365 Business Premium" in est
    assert "(+3 %)" in est  # the price it will be billed at, said before it happens
    assert "50.50 a month" in html  # saved by the reconciliation in the last 30 days


def test_end_users_have_no_console(
    client: FlaskClient, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    answer = sign_in(
        client, oidc_provider, "ann@northwind.example", demo_claims("ann@northwind.example")
    )
    assert answer.headers["Location"] == "/companies"
    assert client.get("/admin/").status_code == 404
