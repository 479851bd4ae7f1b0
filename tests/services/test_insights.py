"""Licence insights through the emulator: the refresh reads Graph, the rules find exactly
the scenario's waste, exclusions remove it, a tenant without Entra ID P1 falls back to the
usage reports, and unassigning goes through the outbox and a real worker."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from flask import Flask
from sqlalchemy import select

from app.domain.insights import Kind
from app.domain.roles import Role
from app.extensions import db
from app.models import AuditEvent, ChangeRequest, Customer, DirectoryUser, StaffRole, User
from app.services import insights, sync
from tests.support.insights_scenario import BP_SKU, COPILOT_SKU, E3_SKU, scenario
from tests.support.processes import Emulator


def _customer() -> Customer:
    found = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-ins"))
    assert found is not None
    return found


def _found(customer: Customer) -> dict[Kind, set[tuple[str, str]]]:
    overview = insights.overview(customer)
    return {
        i.kind: {(f.person.upn.split("@")[0], f.product.sku_id) for f in i.findings}
        for i in overview.insights
    }


def _load(emulator: Emulator, **options: bool) -> Customer:
    emulator.load(scenario(**options))
    sync.sync_customer("cust-ins")
    customer = _customer()
    insights.refresh(customer.id)
    return customer


def test_each_insight_finds_exactly_its_people_with_their_savings(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = _load(emulator)
        assert _found(customer) == {
            Kind.DISABLED: {("eve", E3_SKU)},
            Kind.INACTIVE: {("bob", E3_SKU), ("scanner", E3_SKU)},
            Kind.OVERLAP: {("cat", BP_SKU)},
            Kind.IDLE_ADDON: {("dan", COPILOT_SKU)},
        }
        overview = insights.overview(customer)
        savings = {i.kind: i.saving for i in overview.insights}
        # Seat prices of annual terms billed monthly: the list price + 5 % (rule 15):
        # E3 36 → 37.80, Business Premium 22 → 23.10, Copilot 30 → 31.50.
        assert savings == {
            Kind.DISABLED: Decimal("37.80"),
            Kind.INACTIVE: Decimal("75.60"),
            Kind.OVERLAP: Decimal("23.10"),
            Kind.IDLE_ADDON: Decimal("31.50"),
        }
        assert overview.saving == Decimal("168.00")
        settings = insights.settings_of(customer)
        assert settings.source == "sign_in"
        assert settings.sku_parts[E3_SKU] == "SPE_E3"


def test_exclusions_by_product_and_by_person_remove_their_findings(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = _load(emulator)
        admin = User(
            tid="t",
            oid="o-admin",
            email="pat@partner.example",
            name="Pat",
            staff_role=StaffRole.PARTNER_ADMIN,
        )
        db.session.add(admin)
        db.session.commit()
        insights.change_settings(
            admin,
            Role.ADMIN,
            customer,
            inactive_days=90,
            excluded_skus=[COPILOT_SKU],
            excluded_people=["Scanner@insight.example"],
        )
        found = _found(customer)
        assert found[Kind.INACTIVE] == {("bob", E3_SKU)}
        assert found[Kind.IDLE_ADDON] == set()
        assert insights.overview(customer).saving == Decimal("37.80") * 2 + Decimal("23.10")
        assert (
            db.session.scalar(select(AuditEvent).where(AuditEvent.kind == "insights.settings"))
            is not None
        )
        with pytest.raises(insights.InsightRefused, match="between 14 and 365"):
            insights.change_settings(
                admin, Role.ADMIN, customer, inactive_days=3, excluded_skus=[], excluded_people=[]
            )
        assert insights.settings_of(customer).inactive_days == 90  # nothing half-applied


def test_a_tenant_without_entra_premium_falls_back_to_the_reports_and_says_so(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = _load(emulator, premium=False)
        settings = insights.settings_of(customer)
        assert settings.source == "reports"
        assert "no Microsoft Entra ID P1 or P2" in (settings.source_note or "")
        # the same people are found: the reports alone show Bob and the scanner idle
        assert _found(customer)[Kind.INACTIVE] == {("bob", E3_SKU), ("scanner", E3_SKU)}
    paths = [r["path"] for r in emulator.state()["requests"]]
    assert any(p.startswith("/v1.0/reports/getOffice365ActiveUserDetail") for p in paths)
    assert any(p.startswith("/beta/copilot/reports/") for p in paths)
    statuses = [r["status"] for r in emulator.state()["requests"] if r["path"] == "/v1.0/users"]
    assert 403 in statuses  # signInActivity was refused first


def test_reports_that_conceal_names_are_not_read_as_everybody_inactive(
    app: Flask, emulator: Emulator
) -> None:
    with app.app_context():
        customer = _load(emulator, premium=False, concealed=True)
        settings = insights.settings_of(customer)
        assert settings.source == "reports-concealed"
        assert "hide user names" in (settings.source_note or "")
        found = _found(customer)
        assert found[Kind.INACTIVE] == set() and found[Kind.IDLE_ADDON] == set()
        assert found[Kind.DISABLED] == {("eve", E3_SKU)}
        assert found[Kind.OVERLAP] == {("cat", BP_SKU)}
        emulator.reset()
        with_p1 = _load(emulator, concealed=True)  # sign-ins still show who is inactive
        assert _found(with_p1)[Kind.INACTIVE] == {("bob", E3_SKU), ("scanner", E3_SKU)}
        assert _found(with_p1)[Kind.IDLE_ADDON] == set()


def test_unassigning_a_selection_goes_through_the_outbox_and_frees_the_seats(
    app: Flask, emulator: Emulator, work: Callable[[], None]
) -> None:
    with app.app_context():
        customer = _load(emulator)
        customer.auto_license_adjustment = True
        admin = User(
            tid="t",
            oid="o-admin",
            email="pat@partner.example",
            name="Pat",
            staff_role=StaffRole.PARTNER_ADMIN,
        )
        db.session.add(admin)
        db.session.commit()
        people = {u.upn.split("@")[0]: u.id for u in db.session.scalars(select(DirectoryUser))}
        changes = insights.request_release(
            admin,
            Role.ADMIN,
            customer,
            [(people["bob"], E3_SKU), (people["scanner"], E3_SKU), (people["cat"], BP_SKU)],
            idempotency_key="release-test-0001",
        )
        assert len(changes) == 2 and all(c.state == "pending" for c in changes)
        again = insights.request_release(
            admin,
            Role.ADMIN,
            customer,
            [(people["bob"], E3_SKU)],
            idempotency_key="release-test-0001",
        )
        assert {c.id for c in again} <= {c.id for c in changes}  # a double submit: no new one
        with pytest.raises(insights.InsightRefused, match="Another change"):
            insights.request_release(
                admin,
                Role.ADMIN,
                customer,
                [(people["ann"], E3_SKU)],
                idempotency_key="release-test-0002",
            )
        with pytest.raises(insights.InsightRefused, match="cannot unassign"):
            insights.request_release(
                admin,
                Role.MODIFY,
                customer,
                [(people["ann"], E3_SKU)],
                idempotency_key="release-test-0003",
            )
    work()
    with app.app_context():
        done = db.session.scalars(select(ChangeRequest).order_by(ChangeRequest.id)).all()
        assert [c.state for c in done] == ["done", "done"]
        e3 = next(c for c in done if c.params["sku_id"] == E3_SKU)
        assert "returned at the next reconciliation (tonight)" in (e3.outcome or "")
        found = _found(_customer())
        assert found[Kind.INACTIVE] == set() and found[Kind.OVERLAP] == set()
    users = {u["upn"]: u for u in emulator.state()["customers"][0]["users"]}
    assert users["bob@insight.example"]["licenses"] in ([], {})
    assert BP_SKU not in users["cat@insight.example"]["licenses"]
