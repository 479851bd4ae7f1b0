"""The license page: rows, quantity changes through the outbox and a real worker, refusals."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, ChangeRequest, Subscription, Tranche
from app.models._types import utcnow
from app.services import settings
from tests.support.identities import demo_claims
from tests.support.processes import Emulator, OidcProvider
from tests.support.queries import statements_of_get
from tests.support.signin import csrf_token, sign_in

NW = "/c/cust-northwind"


def signed_in(app: Flask, provider: OidcProvider, sub: str) -> FlaskClient:
    client = app.test_client()
    sign_in(client, provider, sub, demo_claims(sub))
    return client


def form_values(html: str, sub_id: str) -> dict[str, str]:
    """The version and a fresh idempotency key from the row of `sub_id`."""
    row = html[html.index(f'id="sub-{sub_id}"') :]
    version = re.search(r'name="version" value="(\d+)"', row)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', row)
    assert version and key
    return {
        "version": version.group(1),
        "idempotency_key": key.group(1),
        "csrf_token": csrf_token(html),
    }


def emulator_sub(emulator: Emulator, customer: str, sub_id: str) -> dict[str, Any]:
    state = emulator.state()
    found = next(c for c in state["customers"] if c["id"] == customer)
    return next(s for s in found["subscriptions"] if s["id"] == sub_id)


def patches(emulator: Emulator) -> list[dict[str, Any]]:
    return [r for r in emulator.state()["requests"] if r["method"] == "PATCH"]


def test_page_shows_nce_tags_reducible_seats_and_controls_by_role(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    html = ann.get(f"{NW}/licenses").get_data(as_text=True)
    bp = html[html.index('id="sub-sub-nw-bp"') :]
    bp = bp[: bp.index("</tr>")]
    assert "NCE" in bp
    assert "2 seats can be reduced now, until" in bp
    assert 'aria-label="Add one seat to Microsoft 365 Business Premium"' in bp
    assert "Legacy" in html and "Trial" in html
    assert "Turn auto-renew" not in html  # Modify: no admin actions
    vic = signed_in(app, oidc_provider, "vic@northwind.example")
    view = vic.get(f"{NW}/licenses").get_data(as_text=True)
    assert "Microsoft 365 Business Premium" in view and 'name="quantity"' not in view


def test_raise_by_one_goes_pending_then_done_and_partner_center_agrees(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    data = {**form_values(page, "sub-nw-bp"), "quantity": "13"}
    answer = ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity", data=data, headers={"HX-Request": "true"}
    )
    fragment = answer.get_data(as_text=True)
    assert answer.status_code == 200 and fragment.lstrip().startswith("<tr")
    assert "Updating: Change seats from 12 to 13" in fragment
    assert 'hx-trigger="every 1s"' in fragment
    assert "HX-Request" in answer.headers["Vary"]
    again = ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity", data=data, headers={"HX-Request": "true"}
    )  # a double submit: the same change
    assert "Updating" in again.get_data(as_text=True)
    work()
    with app.app_context():
        change = db.session.scalar(select(ChangeRequest))
        assert change is not None and change.state == "done"
        assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 1
    polled = ann.get(
        f"{NW}/subscriptions/sub-nw-bp/row?change={change.id}", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "Done: 13 seats." in polled and "every 1s" not in polled
    assert '<span class="seat-count">13</span>' in polled
    assert emulator_sub(emulator, "cust-northwind", "sub-nw-bp")["quantity"] == 13
    assert len(patches(emulator)) == 1


def test_decrease_within_the_window_is_applied(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**form_values(page, "sub-nw-bp"), "quantity": "10"},
        headers={"HX-Request": "true"},
    )
    work()
    assert emulator_sub(emulator, "cust-northwind", "sub-nw-bp")["quantity"] == 10


def test_decrease_beyond_the_window_is_refused_with_the_reason_and_nothing_is_sent(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int], emulator: Emulator
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    answer = ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**form_values(page, "sub-nw-bp"), "quantity": "9"},
        headers={"HX-Request": "true"},
    )
    fragment = answer.get_data(as_text=True)
    assert "Only 2 seats can be reduced now" in fragment
    assert "An Admin of Northwind Traders can schedule it for renewal" in fragment
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 0
        refused = db.session.scalar(select(AuditEvent).where(AuditEvent.outcome == "refused"))
        assert refused is not None and refused.kind == "change.quantity"
    assert patches(emulator) == []


def test_admin_schedules_the_refused_reduction_for_renewal(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    max_ = signed_in(app, oidc_provider, "max@northwind.example")
    page = max_.get(f"{NW}/licenses").get_data(as_text=True)
    answer = max_.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**form_values(page, "sub-nw-bp"), "quantity": "9"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "Schedule 9 seats for renewal on" in answer
    scheduled = max_.post(
        f"{NW}/subscriptions/sub-nw-bp/schedule_quantity",
        data={**form_values(answer, "sub-nw-bp"), "quantity": "9"},
        headers={"HX-Request": "true"},
    )
    assert "Updating: Renew with 9 seats" in scheduled.get_data(as_text=True)
    work()
    row = max_.get(f"{NW}/subscriptions/sub-nw-bp/row", headers={"HX-Request": "true"})
    assert "Scheduled: renews with 9 seats." in row.get_data(as_text=True)
    pc = emulator_sub(emulator, "cust-northwind", "sub-nw-bp")
    assert pc["scheduledNextTermInstructions"]["quantity"] == 9
    assert pc["autoRenewEnabled"] is True and pc["quantity"] == 12


def test_view_users_cannot_change_anything(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    vic = signed_in(app, oidc_provider, "vic@northwind.example")
    page = vic.get(f"{NW}/licenses").get_data(as_text=True)
    answer = vic.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={"csrf_token": csrf_token(page), "quantity": "13", "idempotency_key": "abcdef123456"},
    )
    assert answer.status_code == 403


def test_without_javascript_a_refused_form_answers_422_with_the_page_and_the_reason(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    answer = ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**form_values(page, "sub-nw-bp"), "quantity": "9"},
    )
    assert answer.status_code == 422
    shown = answer.get_data(as_text=True)
    assert "<!doctype html>" in shown and "Only 2 seats can be reduced now" in shown
    assert 'aria-label="Main"' in shown  # the whole page, navigation included


def test_without_javascript_an_accepted_change_redirects_to_the_page(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    answer = ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**form_values(page, "sub-nw-bp"), "quantity": "13"},
    )
    assert answer.status_code == 303 and answer.headers["Location"] == f"{NW}/licenses"
    shown = ann.get(f"{NW}/licenses").get_data(as_text=True)
    assert "Updating: Change seats from 12 to 13" in shown


def test_row_endpoint_gives_a_fragment_for_htmx_and_the_page_otherwise(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    fragment = ann.get(f"{NW}/subscriptions/sub-nw-bp/row", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith("<tr")
    page = ann.get(f"{NW}/subscriptions/sub-nw-bp/row")
    assert "<!doctype html>" in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]


def test_a_stale_form_gets_a_conflict_message_and_the_fresh_row(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    stale = form_values(page, "sub-nw-bp")
    with app.app_context():
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-nw-bp"))
        assert sub is not None
        sub.quantity = 14  # someone else's change reached us in between
        db.session.commit()
    answer = ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**stale, "quantity": "13"},
        headers={"HX-Request": "true"},
    )
    html = answer.get_data(as_text=True)
    assert "Someone else changed this subscription" in html
    assert '<span class="seat-count">14</span>' in html


def test_bad_quantities_are_refused_with_a_message(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    for bad, text in (
        ("0", "from 1 to 100,000"),
        ("abc", "Not a valid integer"),
        ("", "Enter the number of seats"),
        ("999999", "from 1 to 100,000"),
    ):
        answer = ann.post(
            f"{NW}/subscriptions/sub-nw-bp/quantity",
            data={**form_values(page, "sub-nw-bp"), "quantity": bad},
            headers={"HX-Request": "true"},
        )
        assert text in answer.get_data(as_text=True), bad
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 0


def panel_values(html: str) -> dict[str, str]:
    """The version, an idempotency key and the CSRF token of a manage panel's first form."""
    version = re.search(r'name="version" value="(\d+)"', html)
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert version and key and token
    return {"version": version.group(1), "idempotency_key": key.group(1), "csrf_token": token[1]}


def test_admin_actions_open_in_a_manage_panel_and_suspend_works_from_it(
    app: Flask,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    max_ = signed_in(app, oidc_provider, "max@northwind.example")
    page = max_.get(f"{NW}/licenses").get_data(as_text=True)
    row = page[page.index('id="sub-sub-nw-bp"') :]
    row = row[: row.index("</tr>")]
    assert f'hx-get="{NW}/subscriptions/sub-nw-bp/manage"' in row
    assert "Suspend" not in row  # loaded only when the panel opens
    panel = max_.get(
        f"{NW}/subscriptions/sub-nw-bp/manage", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    assert "<tr" not in panel and "Turn auto-renew off" in panel
    suspend = panel[: panel.index(">Suspend</button>")]
    suspend = suspend[suspend.rindex("<form") :]
    assert "hx-confirm=" in suspend and "auto-renew" in suspend.lower()  # warned first
    answer = max_.post(
        f"{NW}/subscriptions/sub-nw-bp/suspend",
        data=panel_values(panel),
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert answer.lstrip().startswith("<tr") and "Updating: Suspend" in answer
    work()
    assert emulator_sub(emulator, "cust-northwind", "sub-nw-bp")["status"] == "suspended"


def test_without_javascript_manage_shows_the_page_with_that_panel_open(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    max_ = signed_in(app, oidc_provider, "max@northwind.example")
    max_.get(f"{NW}/licenses")  # the rows are kept from this page, the opened one is not
    page = max_.get(f"{NW}/subscriptions/sub-nw-bp/manage").get_data(as_text=True)
    assert "<!doctype html>" in page
    row = page[page.index('id="sub-sub-nw-bp"') :]
    row = row[: row.index("</tr>")]
    assert '<details class="manage" open>' in row and "Turn auto-renew off" in row
    assert page.count('<details class="manage" open>') == 1


def test_only_admins_get_the_manage_panel(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    for person in ("ann@northwind.example", "vic@northwind.example"):  # Modify, View
        client = signed_in(app, oidc_provider, person)
        assert "/manage" not in client.get(f"{NW}/licenses").get_data(as_text=True)
        answer = client.get(f"{NW}/subscriptions/sub-nw-bp/manage", headers={"HX-Request": "true"})
        assert answer.status_code == 403, person
    max_ = signed_in(app, oidc_provider, "max@northwind.example")
    assert max_.get(f"{NW}/subscriptions/no-such-sub/manage").status_code == 404


def test_plus_one_adds_a_seat_to_the_count_the_row_showed(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    page = ann.get(f"{NW}/licenses").get_data(as_text=True)
    answer = ann.post(
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**form_values(page, "sub-nw-bp"), "quantity": "0", "add_one": "1"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert "Updating: Change seats from 12 to 13" in answer  # the typed 0 is not used


def test_the_license_page_reads_a_constant_number_of_statements_however_many_rows(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    max_ = signed_in(app, oidc_provider, "max@northwind.example")

    few = statements_of_get(app, max_, f"{NW}/licenses")
    with app.app_context():
        template = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-nw-bp"))
        assert template is not None
        columns = {
            c.key: getattr(template, c.key)
            for c in Subscription.__table__.columns
            if c.key not in ("id", "pc_id")
        }
        db.session.execute(
            Subscription.__table__.insert(),
            [{**columns, "pc_id": f"bulk-{i:04d}"} for i in range(1200)],
        )
        ids = db.session.scalars(select(Subscription.id).where(Subscription.pc_id.like("bulk-%")))
        db.session.execute(
            Tranche.__table__.insert(),
            [
                {
                    "subscription_id": i,
                    "quantity": 1,
                    "added_at": utcnow(),
                    "allowed_until": utcnow() + timedelta(days=7),
                }
                for i in ids
            ],
        )
        db.session.commit()
    many = statements_of_get(app, max_, f"{NW}/licenses")
    assert many == few
    shown = max_.get(f"{NW}/licenses").get_data(as_text=True)
    assert shown.count('class="subscription') == 50  # a page of rows, then "Show more"
    total = re.search(r"50 of ([\d,]+) shown", shown)
    assert "Show more" in shown and total and int(total.group(1).replace(",", "")) > 1200


def test_rows_kept_from_an_earlier_page_follow_changes_and_get_fresh_keys(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")
    first = ann.get(f"{NW}/licenses").get_data(as_text=True)
    again = ann.get(f"{NW}/licenses").get_data(as_text=True)  # rows from the first rendering
    keys = re.findall(r'name="idempotency_key" value="([0-9a-f]+)"', first + again)
    assert len(keys) > 2 and len(set(keys)) == len(keys)  # every form, every page: its own
    # Kept rows carry this response's CSRF token (one per page; a signed token holds the
    # second it was made, so two pages may differ), never a placeholder or an old token.
    tokens = set(re.findall(r'name="csrf_token" value="([^"]+)"', again))
    assert tokens == {csrf_token(again)} and "csrf-" not in again
    with app.app_context():
        sub = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-nw-bp"))
        assert sub is not None
        sub.quantity = 14  # a sync (or another worker) changed it
        db.session.commit()
    shown = ann.get(f"{NW}/licenses").get_data(as_text=True)
    row = shown[shown.index('id="sub-sub-nw-bp"') :]
    assert '<span class="seat-count">14</span>' in row[: row.index("</tr>")]
    answer = ann.post(  # a form from a page of kept rows works
        f"{NW}/subscriptions/sub-nw-bp/quantity",
        data={**form_values(shown, "sub-nw-bp"), "quantity": "15"},
        headers={"HX-Request": "true"},
    )
    assert "Updating: Change seats from 14 to 15" in answer.get_data(as_text=True)


def test_copilot_is_not_offered_or_accepted_above_its_base_and_the_base_not_below_it(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int], emulator: Emulator
) -> None:
    from app.services import sync

    bp, copilot = "CFQ7TTC0LCHC:0002", "CFQ7TTC0MM8R:0001"
    emulator.load(
        {
            "customers": [
                {
                    "id": "cust-addon",
                    "name": "Add-on Ltd",
                    "tenant_id": "tenant-addon",
                    "subscriptions": [
                        {"id": "a-bp", "offer_id": bp, "created": "-3d", "quantity": 5},
                        {"id": "a-cop", "offer_id": copilot, "created": "-3d", "quantity": 5},
                    ],
                }
            ]
        }
    )
    with app.app_context():
        assert sync.sync_all(with_users=False).failed == {}
    pat = signed_in(app, oidc_provider, "pat@partner.example")
    page = pat.get("/c/cust-addon/licenses").get_data(as_text=True)
    row = page[page.index('id="sub-a-cop"') :]
    row = row[: row.index("</tr>")]
    assert "Add one seat" not in row and "at most 5 seats" in row
    more = pat.post(
        "/c/cust-addon/subscriptions/a-cop/quantity",
        data={**form_values(page, "a-cop"), "quantity": "6"},
        headers={"HX-Request": "true"},
    )
    assert more.status_code == 422 and "at most 5 seats" in more.get_data(as_text=True)
    fewer = pat.post(
        "/c/cust-addon/subscriptions/a-bp/quantity",
        data={**form_values(page, "a-bp"), "quantity": "4"},
        headers={"HX-Request": "true"},
    )
    assert fewer.status_code == 422 and "reduce Copilot" in fewer.get_data(as_text=True)
    assert not patches(emulator)  # refused here: nothing reached Partner Center


def test_a_bad_end_of_term_choice_is_refused_with_a_message_and_changes_nothing(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int], emulator: Emulator
) -> None:
    max_ = signed_in(app, oidc_provider, "max@northwind.example")
    page = max_.get(f"{NW}/licenses").get_data(as_text=True)
    for bad in ("", "forever", "<script>"):
        answer = max_.post(
            f"{NW}/subscriptions/sub-nw-bp/end_of_term",
            data={**form_values(page, "sub-nw-bp"), "end_of_term": bad},
            headers={"HX-Request": "true"},
        )
        assert answer.status_code == 422
        assert "Choose what happens at the end of the term" in answer.get_data(as_text=True)
    suspend = max_.post(
        f"{NW}/subscriptions/sub-nw-bp/suspend",
        data={**form_values(page, "sub-nw-bp"), "end_of_term": "renew"},
        headers={"HX-Request": "true"},
    )
    assert suspend.status_code == 422
    assert not patches(emulator)  # nothing reached Partner Center
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ChangeRequest)) == 0


def test_turning_auto_license_adjustment_on_changes_what_a_kept_row_says_at_once(
    app: Flask, oidc_provider: OidcProvider, demo: dict[str, int]
) -> None:
    ann = signed_in(app, oidc_provider, "ann@northwind.example")

    def bp_row() -> str:
        html = ann.get(f"{NW}/licenses").get_data(as_text=True)
        row = html[html.index('id="sub-sub-nw-bp"') :]
        return row[: row.index("</tr>")]

    with app.app_context():
        settings.change_settings("cust-northwind", {"auto_license_adjustment": "off"}, actor="t")
    assert "Auto license adjustment is off for this company" in bp_row()
    assert "Auto license adjustment is off for this company" in bp_row()  # now kept
    with app.app_context():
        settings.change_settings(
            "cust-northwind",
            {"auto_increment": "on", "auto_license_adjustment": "on"},
            actor="t",
        )
    row = bp_row()
    assert "Auto license adjustment is off" not in row
    assert "returned at the next reconciliation" in row or "returned at renewal" in row
