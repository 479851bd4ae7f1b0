"""The daily snapshot job (through a real RQ worker) and the report's figures for the demo."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.models import Customer, Subscription, UsageSnapshot
from app.queue import enqueue
from app.services import reports
from jobs.reports import snapshot_all


def test_the_snapshot_job_run_twice_on_one_day_keeps_one_snapshot_per_product(
    app: Flask, demo: dict[str, int], work: Callable[[], None]
) -> None:
    day = date(2026, 11, 20).isoformat()
    with app.app_context():
        enqueue(snapshot_all, day)
        work()
        bp = db.session.scalar(select(Subscription).where(Subscription.pc_id == "sub-nw-bp"))
        assert bp is not None
        bp.quantity = 15  # a change between the two runs: the second run records it
        db.session.commit()
        enqueue(snapshot_all, day)
        work()
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert northwind is not None
        rows = list(
            db.session.scalars(
                select(UsageSnapshot).where(UsageSnapshot.customer_id == northwind.id)
            )
        )
        products = [row.product for row in rows]
        assert (
            len(products)
            == len(set(products))
            == len(reports.product_lines(bp.customer.subscriptions))
        )
        bp_row = next(row for row in rows if row.product == bp.sku_id)
        assert (bp_row.seats, bp_row.assigned) == (15, bp.assigned)
        assert bp_row.monthly_cost == bp.unit_price * 15
        total = db.session.scalar(select(func.count()).select_from(UsageSnapshot))
        assert total == sum(
            len(reports.product_lines(c.subscriptions))
            for c in db.session.scalars(select(Customer))
        )


def test_the_report_shows_seats_assigned_waste_and_history_from_the_snapshots(
    app: Flask, demo: dict[str, int]
) -> None:
    with app.app_context():
        northwind = db.session.scalar(select(Customer).where(Customer.pc_id == "cust-northwind"))
        assert northwind is not None
        for sub in northwind.subscriptions:
            sub.unit_price = Decimal("22.00") if sub.pc_id == "sub-nw-bp" else Decimal(0)
        db.session.commit()
        reports.take_snapshot(northwind, date(2026, 11, 24))
        bp = next(s for s in northwind.subscriptions if s.pc_id == "sub-nw-bp")
        bp.quantity = 14
        db.session.commit()
        reports.take_snapshot(northwind, date(2026, 11, 25))
        shown = reports.report(northwind, product=bp.sku_id)
        line = next(line for line in shown.lines if line.product == bp.sku_id)
        # 14 seats, 9 assigned (Ann, Vic and 7 more): 5 free x 22.00 = 110.00 wasted a month
        assert (line.seats, line.assigned, line.free) == (14, 9, 5)
        assert line.monthly_cost == Decimal("308.00") and line.waste == Decimal("110.00")
        assert [(p.day.day, p.seats, p.assigned) for p in shown.history] == [
            (24, 12, 9),
            (25, 14, 9),
        ]
