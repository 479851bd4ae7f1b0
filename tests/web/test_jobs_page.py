"""The Jobs page: syncs, changes and reconciliations with their state, and retry."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import SyncRun
from app.services import sync
from tests.support.identities import demo_claims
from tests.support.processes import Emulator, OidcProvider
from tests.support.signin import csrf_token, sign_in


def signed_in(app: Flask, provider: OidcProvider, sub: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, provider, sub, demo_claims(sub))
    return client


def test_a_failed_sync_shows_its_reason_and_retry_runs_it_again(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    emulator.faults({"method": "GET", "path": "cust-contoso/subscriptions$", "status": 500})
    app.config["MICROSOFT_RETRY_SECONDS"] = 1.0
    try:
        with app.app_context():
            sync.sync_customer("cust-contoso")
    finally:
        app.config["MICROSOFT_RETRY_SECONDS"] = 30.0
    pat = signed_in(app, oidc_provider, "pat@partner.example")
    page = pat.get("/admin/jobs/").get_data(as_text=True)
    assert "Sync failed: Microsoft kept answering HTTP 500" in page
    assert 'aria-label="Retry: Partner Center sync for Contoso Ltd"' in page
    httpx.delete(f"{emulator.url}/_emulator/faults", timeout=10).raise_for_status()
    with app.app_context():
        failed = db.session.scalar(select(SyncRun).where(SyncRun.state == "failed"))
        assert failed is not None
        failed_id = failed.id
    answer = pat.post(
        f"/admin/jobs/sync/{failed_id}/retry",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "A new sync of Contoso Ltd is queued." in answer.get_data(as_text=True)
    with app.app_context():
        work()
        latest = db.session.scalar(select(SyncRun).order_by(SyncRun.id.desc()))
        assert latest is not None and latest.state == "done"


def test_the_list_polls_only_while_something_runs_and_is_a_fragment_for_htmx(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    pat = signed_in(app, oidc_provider, "pat@partner.example")
    fragment = pat.get("/admin/jobs/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.startswith('<div id="jobs"') and "every 2s" not in fragment
    with app.app_context():
        run = db.session.scalar(select(SyncRun))
        assert run is not None
        run.state = "running"
        db.session.commit()
    page = pat.get("/admin/jobs/").get_data(as_text=True)
    assert "<!doctype html>" in page and 'hx-trigger="every 2s"' in page


def test_end_users_cannot_see_jobs(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    assert ann.get("/admin/jobs/").status_code == 404
