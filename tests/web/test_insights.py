"""The insights page over HTTP: Admins and staff only, findings from the demo, the findings
partial for htmx, a one-click unassign pending then done (a real worker), the ranking."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask

from tests.support.processes import Emulator, OidcProvider
from tests.web.test_licenses import signed_in

URL = "/c/cust-northwind/insights"
HTMX = {"HX-Request": "true"}


def test_only_admins_open_the_insights_and_the_nav_links_them(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    assert signed_in(app, oidc_provider, "vic@northwind.example").get(URL).status_code == 403
    assert signed_in(app, oidc_provider, "ann@northwind.example").get(URL).status_code == 403
    admin = signed_in(app, oidc_provider, "max@northwind.example")
    licenses = admin.get("/c/cust-northwind/licenses").get_data(as_text=True)
    assert f'href="{URL}"' in licenses
    page = admin.get(URL).get_data(as_text=True)
    for text in ("Vic Viewer", "Olga Overlap", "Max Multi", "Dora Departed", "Possible saving"):
        assert text in page
    partial = admin.get(URL, headers=HTMX).get_data(as_text=True)
    assert "<html" not in partial and 'id="insights-findings"' in partial


def test_refresh_runs_as_a_job_and_the_page_polls_meanwhile(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int], work: Callable[[], None]
) -> None:
    admin = signed_in(app, oidc_provider, "max@northwind.example")
    page = admin.get(URL).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    answer = admin.post(
        f"{URL}/refresh",
        data={"csrf_token": csrf.group(1)},
        headers={**HTMX, "X-CSRFToken": csrf.group(1)},
    )
    body = answer.get_data(as_text=True)
    assert "Refreshing the data from Microsoft" in body and "every 1s" in body
    work()
    after = admin.get(URL, headers=HTMX).get_data(as_text=True)
    assert "Data as of" in after and "every 1s" not in after
    refused = admin.post(f"{URL}/refresh", headers=HTMX)  # no CSRF token
    assert refused.status_code in (400, 403) or refused.headers.get("HX-Refresh")


def test_one_click_unassign_is_pending_then_done(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    admin = signed_in(app, oidc_provider, "max@northwind.example")
    page = admin.get(URL).get_data(as_text=True)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    item = re.search(
        r'name="only" value="(\d+:[0-9a-f-]+)" aria-label="Unassign [^"]+ from Vic', page
    )
    assert key and csrf and item
    answer = admin.post(
        f"{URL}/release",
        data={"csrf_token": csrf.group(1), "idempotency_key": key.group(1), "only": item.group(1)},
        headers={**HTMX, "X-CSRFToken": csrf.group(1)},
    )
    assert answer.status_code == 200
    body = answer.get_data(as_text=True)
    assert "Unassigning" in body and 'hx-trigger="every 1s"' in body
    work()
    done = admin.get(URL, headers=HTMX).get_data(as_text=True)
    assert "Done:" in done and "every 1s" not in done
    bad = admin.post(
        f"{URL}/release",
        data={"csrf_token": csrf.group(1), "idempotency_key": "k" * 20, "only": "nonsense"},
        headers={**HTMX, "X-CSRFToken": csrf.group(1)},
    )
    assert bad.status_code == 422


def test_staff_see_customers_ranked_by_waste(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    staff = signed_in(app, oidc_provider, "pat@partner.example")
    body = staff.get("/insights").get_data(as_text=True)
    assert "Northwind Traders" in body and "Total:" in body
    assert (
        signed_in(app, oidc_provider, "max@northwind.example").get("/insights").status_code == 404
    )
