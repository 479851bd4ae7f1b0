"""Upgrading a subscription from the license page: what Partner Center offers, the warnings,
a crafted form refused before any Partner Center request, and a full upgrade through the
outbox, pending then done, that the emulator agrees with."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, ChangeRequest
from tests.support.processes import Emulator
from tests.support.signin import csrf_token
from tests.support.storefront import BP

CO = "/c/cust-contoso"
DEFENDER_P2 = "CFQ7TTC0LGV0:0001"


def changes() -> int:
    return int(db.session.scalar(select(func.count()).select_from(ChangeRequest)) or 0)


def emulator_sub(emulator: Emulator, sub_id: str) -> dict[str, Any]:
    for customer in emulator.state()["customers"]:
        for sub in customer["subscriptions"]:
            if sub["id"] == sub_id:
                return dict(sub)
    raise AssertionError(sub_id)


def form_of(page: str, title: str) -> dict[str, str]:
    """The hidden fields of the upgrade form to `title`."""
    section = page[page.index(f"To {title}</h2>") :]
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', section.split("</form>")[0]))
    return {"csrf_token": csrf_token(page), **fields}


def test_the_page_offers_partner_centers_upgrades_with_warnings_and_explains_unsupported_ones(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    ada = signed_in("ada@contoso.example")
    panel = ada.get(f"{CO}/subscriptions/sub-co-bs/manage", headers={"HX-Request": "true"})
    assert f'href="{CO}/store/upgrade/sub-co-bs"' in panel.get_data(as_text=True)
    page = ada.get(f"{CO}/store/upgrade/sub-co-bs").get_data(as_text=True)
    for title in ("Microsoft 365 Business Premium", "Microsoft 365 E3", "Microsoft 365 E5"):
        assert f"Upgrade to {title}</button>" in page
    assert "An upgrade cannot be undone" in page
    assert "There is no cancellation window after an upgrade" in page
    assert "reassign the licences" in page
    defender = ada.get(f"{CO}/store/upgrade/sub-co-mde1").get_data(as_text=True)
    assert "Upgrade to" not in defender
    assert (
        "Microsoft does not support upgrading Microsoft Defender for Endpoint P1 to Microsoft "
        "Defender for Endpoint P2" in defender
    )


def test_a_crafted_upgrade_is_refused_before_any_partner_center_request(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int], emulator: Emulator
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(f"{CO}/store/upgrade/sub-co-mde1").get_data(as_text=True)
    before = len(emulator.state()["requests"])
    answer = ada.post(
        f"{CO}/store/upgrade/sub-co-mde1",
        data={
            "csrf_token": csrf_token(page),
            "to_catalog_item_id": f"{DEFENDER_P2}:ABCDEF123456",
            "quantity": "50",
            "into": "",
            "idempotency_key": "crafted-upgrade-1",
        },
    )
    assert answer.status_code == 422
    text = answer.get_data(as_text=True)
    assert "cannot be upgraded to that product" in text
    assert "Microsoft does not support upgrading" in text
    assert len(emulator.state()["requests"]) == before  # Partner Center was not asked
    with app.app_context():
        assert changes() == 0
        refused = db.session.scalar(
            select(AuditEvent).where(
                AuditEvent.kind == "change.upgrade", AuditEvent.outcome == "refused"
            )
        )
        assert refused is not None
    # Without the form's CSRF token nothing is accepted either.
    bare = ada.post(
        f"{CO}/store/upgrade/sub-co-bs",
        data={"to_catalog_item_id": BP, "quantity": "1", "idempotency_key": "no-csrf-12"},
    )
    assert bare.status_code in (400, 422)
    with app.app_context():
        assert changes() == 0


def test_only_admins_upgrade(signed_in: Callable[[str], FlaskClient], demo: dict[str, int]) -> None:
    vic = signed_in("vic@northwind.example")
    assert vic.get("/c/cust-northwind/store/upgrade/sub-nw-e3-a").status_code == 403


def test_a_full_upgrade_shows_pending_then_done_and_partner_center_agrees(
    app: Flask,
    signed_in: Callable[[str], FlaskClient],
    demo: dict[str, int],
    emulator: Emulator,
    work: Callable[[], None],
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get(f"{CO}/store/upgrade/sub-co-bs").get_data(as_text=True)
    data = form_of(page, "Microsoft 365 Business Premium")
    answer = ada.post(f"{CO}/store/upgrade/sub-co-bs", data={**data, "quantity": "30"})
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"{CO}/licenses#sub-sub-co-bs")
    again = ada.post(f"{CO}/store/upgrade/sub-co-bs", data={**data, "quantity": "30"})
    assert again.status_code == 303  # a double click: one change
    with app.app_context():
        assert changes() == 1
    pending = ada.get(f"{CO}/licenses").get_data(as_text=True)
    assert (
        "Upgrade 30 seats of Microsoft 365 Business Standard to Microsoft 365 Business Premium"
        in pending
    )
    assert not emulator_sub(emulator, "sub-co-bs")["offerId"].startswith(BP)
    poll = re.search(r'hx-get="([^"]*/subscriptions/sub-co-bs/row\?change=\d+)"', pending)
    assert poll is not None  # the row polls while the upgrade is pending
    work()
    done = ada.get(poll.group(1), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Done: all 30 seats are now Microsoft 365 Business Premium" in done
    assert "aria-busy" not in done
    assert emulator_sub(emulator, "sub-co-bs")["offerId"].startswith(f"{BP}:")
    with app.app_context():
        outcomes = set(
            db.session.scalars(
                select(AuditEvent.outcome).where(AuditEvent.kind == "change.upgrade")
            )
        )
        assert {"requested", "done"} <= outcomes
