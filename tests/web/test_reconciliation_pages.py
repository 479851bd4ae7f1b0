"""Partner admins preview the reconciliation and see what runs saved."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.support.identities import demo_claims
from tests.support.processes import Emulator, OidcProvider
from tests.support.signin import csrf_token, sign_in


def signed_in(app: Flask, provider: OidcProvider, sub: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, provider, sub, demo_claims(sub))
    return client


def test_partner_admin_previews_a_plan_with_its_saving_and_nothing_changes(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    runner: Any,
) -> None:
    runner.invoke(
        args=["settings", "cust-northwind", "auto_increment=on", "auto_license_adjustment=on"]
    )
    pat = signed_in(app, oidc_provider, "pat@partner.example")
    page = pat.get("/admin/reconciliation/cust-northwind")
    assert page.status_code == 200
    answer = pat.post(
        "/admin/reconciliation/cust-northwind/preview",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
        follow_redirects=True,
    )
    html = answer.get_data(as_text=True)
    assert "Preview ready:" in html
    assert "Reduce now" in html and "sub-nw-exo1" in html  # 8 free seats bought 2 days ago
    assert not [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]
    overview = pat.get("/admin/reconciliation/").get_data(as_text=True)
    assert "Northwind Traders" in overview and "would save" in overview


def test_end_users_and_other_resellers_cannot_see_previews(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    assert ann.get("/admin/reconciliation/cust-northwind").status_code == 404
    assert ann.get("/admin/reconciliation/").status_code == 404
    rita = signed_in(app, oidc_provider, "rita@fabrikam.example")
    assert rita.get("/admin/reconciliation/cust-contoso").status_code == 404
    assert rita.get("/admin/reconciliation/cust-northwind").status_code == 200
