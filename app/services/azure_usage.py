"""Azure usage: the daily import from Partner Center and the report's read-model.

The import reads Microsoft's unbilled daily rated usage export (the billing periods "last" and
"current", docs/azure-usage.md), keeps the lines of customers whose *Azure sync* is on, adds
them up per month, Azure subscription, resource group and meter, and replaces those months'
rows: importing a month again never doubles it. The report prices the usage with the
customer's *Azure mark-up* (app.domain.reports).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import delete, func, select

from app.domain.reports import PricedUsage, UsageItem, group_usage, price_usage
from app.extensions import db
from app.models import AzureUsage, Customer, Partner
from app.models._types import utcnow
from app.services import audit
from app.services.microsoft import factory
from app.services.microsoft.partner_center import AzureUsageLine, PartnerCenterClient
from app.services.reports import CHART_WIDTH, PLOT_LEFT, PLOT_WIDTH, ROW_HEIGHT

PERIODS = ("last", "current")


@dataclass
class ImportReport:
    """What one import did: rows written per customer id and month, lines skipped."""

    months: dict[str, list[str]] = field(default_factory=dict)
    rows: int = 0
    lines: int = 0
    skipped: int = 0  # lines of customers without Azure sync (or unknown to us)

    def as_dict(self) -> dict[str, object]:
        return {
            "customers": self.months,
            "rows": self.rows,
            "lines": self.lines,
            "skipped": self.skipped,
        }


def import_usage(
    pc: PartnerCenterClient | None = None,
    periods: tuple[str, ...] = PERIODS,
    currency: str = "USD",
) -> ImportReport:
    """Import the unbilled Azure usage of `periods` for every customer with Azure sync on.

    Each month found for a customer replaces that customer's rows of the month, in one
    transaction per billing period (a failure leaves the month as it was).
    """
    client = pc or factory.partner_center()
    report = ImportReport()
    synced = {c.pc_id: c for c in db.session.scalars(select(Customer).where(Customer.azure_sync))}
    try:
        for period in periods:
            lines = client.unbilled_azure_usage(period, currency)
            report.lines += len(lines)
            by_customer: dict[str, list[AzureUsageLine]] = defaultdict(list)
            for line in lines:
                if line.customer_id in synced:
                    by_customer[line.customer_id].append(line)
                else:
                    report.skipped += 1
            for pc_id, own in sorted(by_customer.items()):
                months = _replace(synced[pc_id], own)
                report.rows += sum(months.values())
                report.months.setdefault(pc_id, []).extend(m.strftime("%Y-%m") for m in months)
            db.session.commit()
    finally:
        if pc is None:
            client.close()
    audit.record("azure.usage_imported", actor="azure-usage-import", after=report.as_dict())
    db.session.commit()
    return report


def _replace(customer: Customer, lines: list[AzureUsageLine]) -> dict[date, int]:
    """Replace the customer's rows of every month these lines are in; rows per month."""
    rows: dict[tuple[date, str, str, str], AzureUsage] = {}
    days: dict[tuple[date, str, str, str], set[date]] = defaultdict(set)
    now = utcnow()
    for line in lines:
        month = line.usage_date.replace(day=1)
        key = (month, line.entitlement_id, line.resource_group, line.meter_id or line.meter_name)
        row = rows.get(key)
        if row is None:
            row = rows[key] = AzureUsage(
                customer_id=customer.id,
                month=month,
                subscription_id=line.subscription_id,
                entitlement_id=line.entitlement_id,
                entitlement_name=line.entitlement_name,
                resource_group=line.resource_group,
                meter_id=key[3],
                meter_category=line.meter_category,
                meter_subcategory=line.meter_subcategory,
                meter_name=line.meter_name,
                unit=line.unit,
                quantity=Decimal(0),
                cost=Decimal(0),
                currency=line.currency,
                days=0,
                last_day=line.usage_date,
                imported_at=now,
            )
        row.quantity += line.quantity
        row.cost += line.cost
        row.last_day = max(row.last_day, line.usage_date)
        days[key].add(line.usage_date)
    months = sorted({key[0] for key in rows})
    if months:
        db.session.execute(
            delete(AzureUsage).where(
                AzureUsage.customer_id == customer.id, AzureUsage.month.in_(months)
            )
        )
    per_month: dict[date, int] = defaultdict(int)
    for key, row in rows.items():
        row.days = len(days[key])
        db.session.add(row)
        per_month[key[0]] += 1
    return dict(per_month)


# --- the report (read-model) ----------------------------------------------------------------


@dataclass
class UsageReport:
    """A customer's Azure usage of one month, priced with its mark-up."""

    customer: Customer
    month: date
    months: list[date]
    items: list[UsageItem]
    lines: list[tuple[UsageItem, PricedUsage]]
    by_resource_group: list[PricedUsage]
    by_meter: list[PricedUsage]
    markup_percent: Decimal
    currency: str
    imported_at: datetime | None
    last_day: date | None

    @property
    def cost(self) -> Decimal:
        return sum((g.cost for g in self.by_resource_group), Decimal(0))

    @property
    def price(self) -> Decimal:
        return sum((g.price for g in self.by_resource_group), Decimal(0))

    @property
    def margin(self) -> Decimal:
        return self.price - self.cost


class MonthError(ValueError):
    """A month that is not YYYY-MM."""


def parse_month(text: str | None, today: date) -> date:
    """The first day of the month `text` (YYYY-MM), or of this month when empty."""
    if not text:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise MonthError("The month must look like 2026-11.") from None


def usage_report(customer: Customer, month: date | None = None) -> UsageReport:
    """The usage of `month` (default: the latest month imported, else this month)."""
    months = list(
        db.session.scalars(
            select(AzureUsage.month)
            .where(AzureUsage.customer_id == customer.id)
            .distinct()
            .order_by(AzureUsage.month.desc())
        )
    )
    chosen = month or (months[0] if months else utcnow().date().replace(day=1))
    rows = list(
        db.session.scalars(
            select(AzureUsage)
            .where(AzureUsage.customer_id == customer.id, AzureUsage.month == chosen)
            .order_by(AzureUsage.resource_group, AzureUsage.meter_category, AzureUsage.meter_name)
        )
    )
    percent = customer.azure_markup_percent
    items = [
        UsageItem(
            entitlement=row.entitlement_name,
            resource_group=row.resource_group,
            category=row.meter_category,
            meter=row.meter_name,
            unit=row.unit,
            quantity=row.quantity,
            cost=row.cost,
        )
        for row in rows
    ]
    return UsageReport(
        customer=customer,
        month=chosen,
        months=months,
        items=items,
        lines=[(item, price_usage(item, percent)) for item in items],
        by_resource_group=group_usage(items, percent, "resource_group"),
        by_meter=group_usage(items, percent, "meter"),
        markup_percent=percent,
        currency=rows[0].currency if rows else "USD",
        imported_at=max((row.imported_at for row in rows), default=None),
        last_day=max((row.last_day for row in rows), default=None),
    )


def imported_once(customer: Customer) -> bool:
    """Whether any usage of the customer was ever imported."""
    found = db.session.scalar(
        select(func.count(AzureUsage.id)).where(AzureUsage.customer_id == customer.id)
    )
    return bool(found)


def next_import(now: datetime | None = None) -> datetime:
    """When the daily import runs next (AZURE_USAGE_CRON, "minute hour * * *", UTC)."""
    now = now or utcnow()
    minute, hour = _cron_time(current_app.config.get("AZURE_USAGE_CRON", "0 4 * * *"))
    run = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return run if run > now else run + timedelta(days=1)


def _cron_time(cron: str) -> tuple[int, int]:
    parts = cron.split()
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return 0, 4  # a schedule more complex than daily: show the default time


def azure_contact(customer: Customer) -> str:
    """Who can switch Azure sync on: a commercial setting, so the partner (the provider)."""
    partner = db.session.get(Partner, customer.partner_id)
    return (partner.brand_name or partner.name) if partner else "your partner"


@dataclass(frozen=True)
class UsageBar:
    """One resource group's bars: the price and (for staff) the partner's cost."""

    group: PricedUsage
    y: int
    price: float
    cost: float


@dataclass(frozen=True)
class UsageChart:
    bars: list[UsageBar]
    height: int
    left: int = PLOT_LEFT
    width: int = CHART_WIDTH


def usage_chart(groups: list[PricedUsage]) -> UsageChart:
    """Price (solid) and partner cost (hatched) per resource group, on one scale."""
    top = max((max(g.price, g.cost) for g in groups), default=Decimal(0))

    def scaled(value: Decimal) -> float:
        return round(float(PLOT_WIDTH * value / top), 1) if top else 0.0

    bars = [
        UsageBar(group, 24 + i * ROW_HEIGHT, scaled(group.price), scaled(group.cost))
        for i, group in enumerate(groups)
    ]
    return UsageChart(bars, 36 + len(bars) * ROW_HEIGHT)
