"""The reconciliation unassigns the licences of people disabled for long (a relationship
setting, off by default) through the emulator: off → nobody; on with 30 days → Eve
(disabled 40 days) loses E3 in Graph too, Fay (10 days) keeps it; the preview only lists
and counts the freed seat, writing nothing to Microsoft."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask, render_template
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, ChangeRequest, Customer, DirectoryUser
from app.models._types import utcnow
from app.services import adjustment, insights, sync
from app.services.settings import change_settings
from tests.support.insights_scenario import E3_SKU, scenario
from tests.support.processes import Emulator

CID = "cust-ins"


def _scenario() -> dict[str, Any]:
    """The insights customer, plus Fay (disabled lately); E3 has one free seat, and the two
    seats bought three days ago may still be returned."""
    data = scenario()
    customer = data["customers"][0]
    customer["users"].append(
        {
            "id": "u-fay",
            "upn": "fay@insight.example",
            "name": "Fay Leaving",
            "licenses": [E3_SKU],
            "enabled": False,
        }
    )
    e3 = next(s for s in customer["subscriptions"] if s["sku_id"] == E3_SKU)
    e3["tranches"] = [{"quantity": 6, "added": "-40d"}, {"quantity": 2, "added": "-3d"}]
    return data


def _prepare(app: Flask, emulator: Emulator, days: str) -> None:
    emulator.load(_scenario())
    with app.app_context():
        assert sync.sync_customer(CID).failed == {}
        change_settings(
            CID,
            {
                "auto_increment": "on",
                "auto_license_adjustment": "on",
                "unassign_disabled_after_days": days,
            },
            actor="test",
        )
        people = {u.upn.split("@")[0]: u for u in db.session.scalars(select(DirectoryUser))}
        assert people["eve"].disabled_since is not None  # the sync saw her disabled
        assert people["ann"].disabled_since is None
        people["eve"].disabled_since = utcnow() - timedelta(days=40)
        people["fay"].disabled_since = utcnow() - timedelta(days=10)
        db.session.commit()


def _graph_licences(emulator: Emulator) -> dict[str, Any]:
    return {
        u["upn"].split("@")[0]: u["licenses"] for u in emulator.state()["customers"][0]["users"]
    }


def _writes(emulator: Emulator) -> list[str]:
    return [
        f"{r['method']} {r['path']}"
        for r in emulator.state()["requests"]
        if r["method"] not in ("GET", "HEAD")
        and not r["path"].startswith(("/_", "/oauth", "/token"))
        and "token" not in r["path"]
    ]


def test_the_setting_off_unassigns_nobody(app: Flask, emulator: Emulator) -> None:
    _prepare(app, emulator, "0")
    with app.app_context():
        outcome = adjustment.run(CID)
        assert outcome.state == "done"
        assert (
            db.session.scalar(select(ChangeRequest).where(ChangeRequest.kind == "release")) is None
        )
    assert E3_SKU in _graph_licences(emulator)["eve"]


def test_on_with_30_days_eve_loses_e3_and_fay_keeps_it(app: Flask, emulator: Emulator) -> None:
    _prepare(app, emulator, "30")
    with app.app_context():
        outcome = adjustment.run(CID)
        run = db.session.get(adjustment.AdjustmentRun, outcome.run_id)
        assert run is not None
        lines = run.plan["unassign"]
        assert [(u["upn"], u["outcome"]) for u in lines] == [("eve@insight.example", "unassigned")]
        release = db.session.scalar(select(ChangeRequest).where(ChangeRequest.kind == "release"))
        assert release is not None and release.state == "done"
        assert release.requested_by == "job:adjustment"
        kinds = {e.kind for e in db.session.scalars(select(AuditEvent))}
        assert {"license.release", "adjustment.unassign_disabled", "adjustment.run"} <= kinds
        # Eve's seat was free before planning: the plan returns two E3 seats, not one
        e3 = [a for a in outcome.actions if a["kind"] == "reduce_now"]
        assert sum(int(a["from_quantity"]) - int(a["to_quantity"]) for a in e3) == 2
        again = adjustment.run(CID)  # the day's run is not repeated
        assert again.run_id == outcome.run_id
    licences = _graph_licences(emulator)
    assert E3_SKU not in licences["eve"]
    assert any("assignLicense" in w for w in _writes(emulator))
    assert E3_SKU in licences["fay"]


def test_excluded_people_are_never_touched(app: Flask, emulator: Emulator) -> None:
    _prepare(app, emulator, "30")
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == CID))
        assert customer is not None
        settings = insights.settings_of(customer)
        settings.excluded_people = ["eve@insight.example"]
        db.session.commit()
        assert insights.disabled_to_unassign(customer, utcnow()) == []
        adjustment.run(CID)
    assert E3_SKU in _graph_licences(emulator)["eve"]


def test_the_preview_lists_and_counts_without_changing_anything(
    app: Flask, emulator: Emulator
) -> None:
    _prepare(app, emulator, "0")
    with app.app_context():
        off = adjustment.preview(CID)
    _prepare(app, emulator, "30")
    with app.app_context():
        on = adjustment.preview(CID)
        run = db.session.get(adjustment.AdjustmentRun, on.run_id)
        assert run is not None
        texts = [u["text"] for u in run.plan["unassign"]]
        assert len(texts) == 1
        assert (
            texts[0].startswith("Would unassign ") and "from Eve Gone, disabled since" in texts[0]
        )
        assert db.session.scalar(select(ChangeRequest)) is None
        with app.test_request_context():
            shown = render_template("reconciliation/_plan.html", run=run)
        assert "Licences of people disabled for long" in shown
        assert "Would unassign" in shown and "Eve Gone" in shown and "Fay" not in shown
        eve = db.session.scalar(select(DirectoryUser).where(DirectoryUser.upn.startswith("eve")))
        assert eve is not None and [lic.sku_id for lic in eve.licenses] == [E3_SKU]
    # one E3 seat free without it, two with Eve's: both reducible (bought three days ago)
    assert off.saving_now > 0 and on.saving_now == 2 * off.saving_now
    assert _writes(emulator) == []
    assert E3_SKU in _graph_licences(emulator)["eve"]


def test_the_cli_sets_the_same_key_with_the_same_bounds(
    app: Flask, emulator: Emulator, runner: Any
) -> None:
    _prepare(app, emulator, "0")
    refused = runner.invoke(args=["settings", CID, "unassign_disabled_after_days=3"])
    assert refused.exit_code != 0
    assert "whole number of days from 7 to 730" in refused.output
    done = runner.invoke(args=["settings", CID, "unassign_disabled_after_days=45"])
    assert done.exit_code == 0, done.output
    assert re.search(r"unassign_disabled_after_days\s+45", done.output)
    with app.app_context():
        event = db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.kind == "settings.changed")
            .order_by(AuditEvent.id.desc())
        ).first()
        assert event is not None and event.after == {"unassign_disabled_after_days": "45"}
