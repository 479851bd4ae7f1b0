"""The command line: seed-demo and relationship settings."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Customer, Subscription


def test_seed_demo_creates_two_customers_and_a_dozen_subscriptions_once(
    app: Flask, runner: Any
) -> None:
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "2 new customers, 12 new subscriptions" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert "0 new customers, 0 new subscriptions" in second.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 2
        subs = db.session.scalars(select(Subscription)).all()
        assert len(subs) == 12
        assert any(s.is_trial for s in subs)
        assert any(not s.is_nce for s in subs)
        assert any(s.quantity > s.assigned for s in subs)
        offers = [s.offer_id for s in subs]
        assert len(offers) > len(set(offers))  # duplicates of one offer


def test_settings_prints_the_defaults_of_a_new_customer(
    app: Flask, runner: Any, demo: dict[str, int]
) -> None:
    result = runner.invoke(args=["settings", "cust-contoso"])
    assert result.exit_code == 0
    lines = dict(line.split() for line in result.output.strip().splitlines())
    assert lines["partner_center_sync"] == "on"
    assert lines["auto_increment"] == "off"
    assert lines["azure_markup_percent"] == "17.65"


def test_settings_change_is_saved_and_audited_with_old_and_new_value(
    app: Flask, runner: Any, demo: dict[str, int]
) -> None:
    result = runner.invoke(
        args=["settings", "cust-contoso", "auto_increment=on", "azure_markup_percent=20.5"]
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None and customer.auto_increment is True
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "settings.changed").order_by(AuditEvent.id)
        ).all()
        changes = {next(iter(e.before)): (e.before, e.after) for e in events}
        assert changes["auto_increment"] == ({"auto_increment": "off"}, {"auto_increment": "on"})
        assert changes["azure_markup_percent"][1] == {"azure_markup_percent": "20.50"}


def test_settings_refuse_bad_values_and_change_nothing(
    app: Flask, runner: Any, demo: dict[str, int]
) -> None:
    cases = {
        "azure_markup_percent=-1": "between 0 and 500",
        "azure_markup_percent=500.001": "between 0 and 500",
        "azure_markup_percent=abc": "must be a number",
        "auto_license_adjustment=on": "needs Auto increment on",
        "colour=blue": "Unknown setting 'colour'",
        "self_service=maybe": "must be on or off",
        "self_service": "KEY=VALUE",
    }
    for arg, message in cases.items():
        result = runner.invoke(args=["settings", "cust-contoso", "reporting=on", arg])
        assert result.exit_code != 0, arg
        assert message in result.output, (arg, result.output)
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-contoso"))
        assert customer is not None and customer.reporting is False  # all or nothing
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "settings.changed"))
            is None
        )


def test_settings_of_an_unknown_customer_fail_with_a_message(app: Flask, runner: Any) -> None:
    result = runner.invoke(args=["settings", "cust-nobody"])
    assert result.exit_code != 0
    assert "No customer with id 'cust-nobody'" in result.output


def test_seed_demo_with_the_storefront_opens_it_for_the_demo_customers_once(
    app: Flask, runner: Any, emulator: Any
) -> None:
    first = runner.invoke(args=["seed-demo", "--storefront"])
    assert first.exit_code == 0, first.output
    assert "Storefront open for the demo customers: 8 offers in their profile." in first.output
    again = runner.invoke(args=["seed-demo", "--storefront"])
    assert again.exit_code == 0, again.output
    from app.services import profiles

    with app.app_context():
        for customer in db.session.scalars(select(Customer)):
            profile = profiles.profile_of(customer)
            assert profile is not None and profile.name == "Demo storefront"
            assert len(profile.offers) == 8
