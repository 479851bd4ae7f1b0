"""The Azure usage import (through a real RQ worker and the emulator) and its report."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import AzureUsage, Customer
from app.queue import enqueue
from app.services import azure_usage
from app.services.microsoft import factory
from jobs.azure import import_azure_usage
from tests.support.processes import Emulator

NORTHWIND_AZURE = {
    "customers": [
        {
            "id": "cust-northwind",
            "azure": [
                {
                    "subscription_id": "az-plan-nw",
                    "entitlements": [
                        {
                            "id": "ent-nw",
                            "name": "Northwind Azure",
                            "usage": [
                                {
                                    "resource_group": "rg-nw",
                                    "category": "Virtual Machines",
                                    "meter": "B2s",
                                    "daily_quantity": 24,
                                    "unit_price": 0.05,
                                    "from": "-45d",
                                }
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}


def _customer(pc_id: str) -> Customer:
    found = db.session.scalar(select(Customer).where(Customer.pc_id == pc_id))
    assert found is not None
    return found


def _stored(customer: Customer) -> dict[date, tuple[int, Decimal]]:
    rows = db.session.scalars(select(AzureUsage).where(AzureUsage.customer_id == customer.id))
    found: dict[date, tuple[int, Decimal]] = {}
    for row in rows:
        count, cost = found.get(row.month, (0, Decimal(0)))
        found[row.month] = (count + 1, cost + row.cost)
    return found


def test_the_import_run_twice_by_a_worker_keeps_each_month_once_with_microsofts_totals(
    app: Flask, demo: dict[str, int], work: Callable[[], None]
) -> None:
    with app.app_context():
        contoso = _customer("cust-contoso")
        first = _stored(contoso)  # seed-demo imported Contoso's usage already
        assert first
        enqueue(import_azure_usage)
        work()
        enqueue(import_azure_usage)
        work()
        db.session.expire_all()
        assert _stored(contoso) == first
        expected: dict[date, Decimal] = defaultdict(Decimal)
        client = factory.partner_center()
        for period in ("last", "current"):
            for line in client.unbilled_azure_usage(period):
                assert line.customer_id == "cust-contoso"
                expected[line.usage_date.replace(day=1)] += line.cost
        client.close()
        assert {month: cost for month, (_, cost) in first.items()} == dict(expected)
        rows = db.session.scalar(select(func.count()).select_from(AzureUsage))
        assert rows == sum(count for count, _ in first.values())


def test_a_month_imported_again_is_replaced_not_added_to(app: Flask, demo: dict[str, int]) -> None:
    with app.app_context():
        contoso = _customer("cust-contoso")
        month = max(_stored(contoso))
        stale = AzureUsage(
            customer_id=contoso.id,
            month=month,
            subscription_id="az-plan-contoso",
            entitlement_id="gone",
            entitlement_name="A subscription since deleted",
            resource_group="rg-old",
            meter_id="m-old",
            meter_category="Storage",
            meter_subcategory="",
            meter_name="Old meter",
            unit="1 GB",
            quantity=Decimal(1),
            cost=Decimal("99.00"),
            currency="USD",
            days=1,
            last_day=month,
        )
        db.session.add(stale)
        db.session.commit()
        before = _stored(contoso)[month]
        azure_usage.import_usage()
        after = _stored(contoso)[month]
        assert after == (before[0] - 1, before[1] - Decimal("99.00"))
        assert db.session.scalar(select(AzureUsage).where(AzureUsage.meter_id == "m-old")) is None


def test_only_customers_with_azure_sync_on_are_imported(
    app: Flask, demo: dict[str, int], emulator: Emulator
) -> None:
    emulator.load(NORTHWIND_AZURE)
    with app.app_context():
        northwind = _customer("cust-northwind")
        report = azure_usage.import_usage()
        assert report.skipped > 0 and "cust-northwind" not in report.months
        assert _stored(northwind) == {}
        northwind.azure_sync = True
        db.session.commit()
        report = azure_usage.import_usage()
        assert "cust-northwind" in report.months
        stored = _stored(northwind)
        assert stored and all(count == 1 for count, _ in stored.values())


def test_the_report_prices_usage_with_the_customers_mark_up(
    app: Flask, demo: dict[str, int]
) -> None:
    with app.app_context():
        contoso = _customer("cust-contoso")
        contoso.azure_markup_percent = Decimal("17.65")
        db.session.commit()
        report = azure_usage.usage_report(contoso)
        assert report.month == max(report.months)
        assert {g.label for g in report.by_resource_group} >= {"rg-web-prod", "rg-data"}
        assert report.price == sum(p.price for _, p in report.lines)
        assert report.margin == report.price - report.cost > 0
        exact = sum((item.cost for item in report.items), Decimal(0))
        assert abs(report.cost - exact) < Decimal("0.01") * len(report.items)
