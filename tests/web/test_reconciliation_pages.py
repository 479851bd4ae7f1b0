"""Partner admins preview the reconciliation and see what runs saved."""

from __future__ import annotations

import re
from collections.abc import Callable
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
    work: Callable[[], None],
) -> None:
    runner.invoke(
        args=["settings", "cust-northwind", "auto_increment=on", "auto_license_adjustment=on"]
    )
    pat = signed_in(app, oidc_provider, "pat@partner.example")
    page = pat.get("/admin/reconciliation/cust-northwind")
    assert page.status_code == 200
    asked = len(emulator.state()["requests"])
    answer = pat.post(
        "/admin/reconciliation/cust-northwind/preview",
        data={"csrf_token": csrf_token(page.get_data(as_text=True))},
        follow_redirects=True,
    )
    html = answer.get_data(as_text=True)
    assert "Waiting for a worker" in html  # the web request did not call Partner Center
    assert len(emulator.state()["requests"]) == asked
    status = re.search(r'hx-get="(/admin/reconciliation/cust-northwind/preview/\d+)"', html)
    assert status is not None and 'hx-trigger="every 1s"' in html
    work()  # a real RQ worker runs the preview job
    fragment = pat.get(status.group(1), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<!doctype html>" not in fragment and "hx-trigger" not in fragment  # stops polling
    assert "Preview ready: would save" in fragment  # announced in the live region
    assert "Reduce now" in fragment and "sub-nw-exo1" in fragment  # 8 free seats, 2 days old
    assert not [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]
    again = pat.post(
        "/admin/reconciliation/cust-northwind/preview",
        data={"csrf_token": csrf_token(html)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Waiting for a worker" in again  # a new preview, queued
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
