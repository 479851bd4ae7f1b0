"""Customer reports: daily seat snapshots (a job takes them) and the report's read-model.

The snapshot job writes one row per customer, product and day; the report reads them back for
"seats vs assigned over time" and computes the rest (cost, waste, renewals, savings) from the
subscriptions as they stand, with the same rules the license page uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from app.domain import nce
from app.domain import reports as arithmetic
from app.domain.end_of_term import EndOfTerm, check_end_of_term, describe_end_of_term, end_of_term
from app.extensions import db
from app.models import AdjustmentRun, Customer, Partner, Subscription, UsageSnapshot, User
from app.models._types import utcnow
from app.services import access
from app.services.licensing import facts_of

BILLED_STATUSES = ("active", "suspended", "pending")  # Microsoft bills suspended seats too
HORIZON = timedelta(days=90)  # how far ahead the report looks for renewals and ends
HISTORY_DAYS = 90


@dataclass
class ProductLine:
    """One product of a customer today: seats, assigned, monthly cost and waste."""

    product: str
    name: str
    seats: int = 0
    assigned: int = 0
    monthly_cost: Decimal = Decimal(0)
    waste: Decimal = Decimal(0)
    currency: str = "USD"

    @property
    def free(self) -> int:
        return arithmetic.free_seats(self.seats, self.assigned)


def product_lines(subscriptions: Iterable[Subscription]) -> list[ProductLine]:
    """The billed subscriptions grouped by product (SKU, else offer), by name."""
    lines: dict[str, ProductLine] = {}
    for sub in subscriptions:
        if sub.status not in BILLED_STATUSES:
            continue
        key = sub.sku_id or sub.offer_id
        line = lines.setdefault(key, ProductLine(key, sub.offer_name, currency=sub.currency))
        assigned = min(sub.assigned, sub.quantity)
        line.seats += sub.quantity
        line.assigned += assigned
        line.monthly_cost += sub.unit_price * sub.quantity
        line.waste += arithmetic.waste(sub.quantity, assigned, sub.unit_price)
    return sorted(lines.values(), key=lambda line: (line.name.lower(), line.product))


def _subscriptions(customer: Customer) -> list[Subscription]:
    return list(
        db.session.scalars(
            select(Subscription)
            .where(Subscription.customer_id == customer.id)
            .order_by(Subscription.creation_date)
        )
    )


def reporting_contact(customer: Customer) -> str:
    """Who can switch the customer's Reporting setting on: its reseller, else the partner."""
    if customer.reseller is not None:
        return customer.reseller.brand_name or customer.reseller.name
    partner = db.session.get(Partner, customer.partner_id)
    return (partner.brand_name or partner.name) if partner else "your partner"


# --- the daily snapshot (a job) -------------------------------------------------------------


def take_snapshot(customer: Customer, day: date) -> int:
    """Record the customer's seats, assigned seats and monthly cost per product for `day`.

    Idempotent: a second run on the same day updates that day's rows (one per product), and a
    product that is gone since the first run loses its row. Returns the number of products.
    """
    lines = {line.product: line for line in product_lines(_subscriptions(customer))}
    existing = {
        row.product: row
        for row in db.session.scalars(
            select(UsageSnapshot).where(
                UsageSnapshot.customer_id == customer.id, UsageSnapshot.day == day
            )
        )
    }
    now = utcnow()
    for product, line in lines.items():
        row = existing.pop(product, None)
        if row is None:
            row = UsageSnapshot(customer_id=customer.id, day=day, product=product)
            db.session.add(row)
        row.product_name = line.name
        row.seats, row.assigned = line.seats, line.assigned
        row.monthly_cost, row.currency, row.taken_at = line.monthly_cost, line.currency, now
    for gone in existing.values():
        db.session.delete(gone)
    db.session.commit()
    return len(lines)


def take_snapshots(day: date) -> dict[str, int]:
    """The day's snapshot of every customer: products recorded per customer id."""
    ids = list(db.session.scalars(select(Customer.pc_id).order_by(Customer.pc_id)))
    taken: dict[str, int] = {}
    for pc_id in ids:
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == pc_id))
        if customer is not None:
            taken[pc_id] = take_snapshot(customer, day)
    return taken


# --- the report (read-model) ----------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    """Seats and assigned seats on one day (of one product, or of all)."""

    day: date
    seats: int
    assigned: int


@dataclass(frozen=True)
class Renewal:
    """A subscription whose term ends within the horizon, and what happens then."""

    sub: Subscription
    day: date
    choice: EndOfTerm
    text: str
    quantity: int
    changeable: tuple[str, ...]


@dataclass(frozen=True)
class Savings:
    """What the auto license adjustment saved, over its real (not previewed) runs."""

    runs: int
    saving_now: Decimal
    saving_at_renewal: Decimal
    last_run: AdjustmentRun | None

    @property
    def monthly(self) -> Decimal:
        return self.saving_now + self.saving_at_renewal


class _LineTotals:
    """Totals over a report's product lines (seats, assigned, free, monthly cost, waste)."""

    lines: list[ProductLine]

    @property
    def seats(self) -> int:
        return sum(line.seats for line in self.lines)

    @property
    def assigned(self) -> int:
        return sum(line.assigned for line in self.lines)

    @property
    def free(self) -> int:
        return sum(line.free for line in self.lines)

    @property
    def monthly_cost(self) -> Decimal:
        return sum((line.monthly_cost for line in self.lines), Decimal(0))

    @property
    def waste(self) -> Decimal:
        return sum((line.waste for line in self.lines), Decimal(0))


@dataclass
class Report(_LineTotals):
    """Everything the customer report shows."""

    customer: Customer
    lines: list[ProductLine]
    history: list[HistoryPoint]
    history_by_product: dict[str, list[HistoryPoint]]
    product: str | None
    renewals: list[Renewal]
    savings: Savings
    now: datetime
    currency: str = "USD"
    products: dict[str, str] = field(default_factory=dict)


def report(customer: Customer, product: str | None = None, now: datetime | None = None) -> Report:
    """The customer's report as of `now`; `product` narrows the history to one product."""
    now = now or utcnow()
    subs = _subscriptions(customer)
    lines = product_lines(subs)
    by_product = history(customer, now.date() - timedelta(days=HISTORY_DAYS - 1))
    names = {line.product: line.name for line in lines}
    for row_product in by_product:
        names.setdefault(row_product, row_product)
    chosen = product if product in by_product else None
    return Report(
        customer=customer,
        lines=lines,
        history=by_product[chosen] if chosen else _totals(by_product),
        history_by_product=by_product,
        product=chosen,
        renewals=renewals(subs, now),
        savings=savings(customer),
        now=now,
        currency=lines[0].currency if lines else "USD",
        products=names,
    )


def history(customer: Customer, since: date) -> dict[str, list[HistoryPoint]]:
    """Seats and assigned per product and day since `since`, from the snapshots."""
    rows = db.session.scalars(
        select(UsageSnapshot)
        .where(UsageSnapshot.customer_id == customer.id, UsageSnapshot.day >= since)
        .order_by(UsageSnapshot.day, UsageSnapshot.product)
    )
    found: dict[str, list[HistoryPoint]] = defaultdict(list)
    for row in rows:
        found[row.product].append(HistoryPoint(row.day, row.seats, row.assigned))
    return dict(found)


def _totals(by_product: dict[str, list[HistoryPoint]]) -> list[HistoryPoint]:
    seats: dict[date, int] = defaultdict(int)
    assigned: dict[date, int] = defaultdict(int)
    for points in by_product.values():
        for point in points:
            seats[point.day] += point.seats
            assigned[point.day] += point.assigned
    return [HistoryPoint(day, seats[day], assigned[day]) for day in sorted(seats)]


def renewals(subs: Iterable[Subscription], now: datetime) -> list[Renewal]:
    """Renewals and ends of term in the next 90 days: renews / ends / goes to EST, with the
    seats it renews with and what can still be changed before then."""
    found = []
    for sub in subs:
        if sub.status not in ("active", "suspended"):
            continue
        facts = facts_of(sub)
        if not now.date() <= facts.renewal_on <= (now + HORIZON).date():
            continue
        choice = end_of_term(facts)
        changeable = [
            other.label
            for other in EndOfTerm
            if other is not choice and check_end_of_term(facts, other, now).allowed
        ]
        if choice is EndOfTerm.RENEW and nce.schedule_refusal(facts, now) is None:
            changeable.append("Seats at renewal")
        quantity = (
            (facts.scheduled_quantity or facts.quantity)
            if choice is EndOfTerm.RENEW
            else (facts.quantity)
        )
        day = facts.renewal_on if choice is not EndOfTerm.CANCEL else facts.commitment_end
        found.append(
            Renewal(sub, day, choice, describe_end_of_term(facts), quantity, tuple(changeable))
        )
    return sorted(found, key=lambda r: (r.day, r.sub.offer_name))


def savings(customer: Customer) -> Savings:
    """The monthly savings of the real adjustment runs that applied changes."""
    runs = list(
        db.session.scalars(
            select(AdjustmentRun)
            .where(
                AdjustmentRun.customer_id == customer.id,
                AdjustmentRun.dry_run.is_(False),
                AdjustmentRun.state.in_(("done", "partial")),
            )
            .order_by(AdjustmentRun.started_at)
        )
    )
    return Savings(
        runs=len(runs),
        saving_now=sum((run.saving_now for run in runs), Decimal(0)),
        saving_at_renewal=sum((run.saving_at_renewal for run in runs), Decimal(0)),
        last_run=runs[-1] if runs else None,
    )


# --- the printable monthly report ---------------------------------------------------------


@dataclass
class Monthly(_LineTotals):
    """Seats, cost and waste by product for a month, and what comes up next."""

    customer: Customer
    month: date  # its first day
    lines: list[ProductLine]
    as_of: date | None  # today for this month, else the month's last snapshot (None: none)
    renewals: list[Renewal]
    now: datetime

    @property
    def currency(self) -> str:
        return self.lines[0].currency if self.lines else "USD"


def monthly(customer: Customer, month: date, now: datetime | None = None) -> Monthly:
    """The month's figures: live for the current month, else from the month's last daily
    snapshot (a month without snapshots has no figures)."""
    now = now or utcnow()
    first, last = arithmetic.month_bounds(month.year, month.month)
    subs = _subscriptions(customer)
    as_of: date | None
    if first <= now.date() <= last:
        lines, as_of = product_lines(subs), now.date()
    else:
        as_of = db.session.scalar(
            select(func.max(UsageSnapshot.day)).where(
                UsageSnapshot.customer_id == customer.id,
                UsageSnapshot.day >= first,
                UsageSnapshot.day <= last,
            )
        )
        lines = _snapshot_lines(customer, as_of) if as_of else []
    return Monthly(customer, first, lines, as_of, renewals(subs, now), now)


def _snapshot_lines(customer: Customer, day: date) -> list[ProductLine]:
    """A day's snapshot as product lines (waste from the seat price the snapshot implies)."""
    lines = []
    for row in db.session.scalars(
        select(UsageSnapshot).where(
            UsageSnapshot.customer_id == customer.id, UsageSnapshot.day == day
        )
    ):
        price = row.monthly_cost / row.seats if row.seats else Decimal(0)
        lines.append(
            ProductLine(
                row.product,
                row.product_name,
                row.seats,
                min(row.assigned, row.seats),
                row.monthly_cost,
                arithmetic.waste(row.seats, row.assigned, price),
                row.currency,
            )
        )
    return sorted(lines, key=lambda line: (line.name.lower(), line.product))


# --- the partner-wide dashboard -------------------------------------------------------------


@dataclass(frozen=True)
class CustomerSummary:
    """One customer's line on the partner dashboard."""

    customer: Customer
    seats: int
    assigned: int
    monthly_cost: Decimal
    waste: Decimal
    renewals: int
    saving: Decimal
    currency: str

    @property
    def free(self) -> int:
        return arithmetic.free_seats(self.seats, self.assigned)


def dashboard(user: User, now: datetime | None = None, limit: int = 500) -> list[CustomerSummary]:
    """The same figures across the customers this staff member manages, most waste first."""
    now = now or utcnow()
    customers: list[Customer] = list(db.session.scalars(access.companies_query(user).limit(limit)))
    subs_of: dict[int, list[Subscription]] = defaultdict(list)
    if customers:
        for sub in db.session.scalars(
            select(Subscription).where(Subscription.customer_id.in_([c.id for c in customers]))
        ):
            subs_of[sub.customer_id].append(sub)
    saved: dict[int, Decimal] = defaultdict(Decimal)
    for run in db.session.scalars(
        select(AdjustmentRun).where(
            AdjustmentRun.dry_run.is_(False), AdjustmentRun.state.in_(("done", "partial"))
        )
    ):
        saved[run.customer_id] += run.monthly_saving
    summaries = []
    for customer in customers:
        subs = subs_of[customer.id]
        lines = product_lines(subs)
        summaries.append(
            CustomerSummary(
                customer=customer,
                seats=sum(line.seats for line in lines),
                assigned=sum(line.assigned for line in lines),
                monthly_cost=sum((line.monthly_cost for line in lines), Decimal(0)),
                waste=sum((line.waste for line in lines), Decimal(0)),
                renewals=len(renewals(subs, now)),
                saving=saved[customer.id],
                currency=lines[0].currency if lines else "USD",
            )
        )
    return sorted(summaries, key=lambda s: (-s.waste, s.customer.name))


# --- chart geometry (drawn as inline SVG by the templates) ----------------------------------

PLOT_LEFT, PLOT_WIDTH, CHART_WIDTH = 230, 330, 640
ROW_HEIGHT, BAR_HEIGHT = 44, 14


@dataclass(frozen=True)
class BarRow:
    """One product's two bars: `first` and `second` widths in chart units, and the figures."""

    name: str
    y: int
    first: float
    second: float


@dataclass(frozen=True)
class BarChart:
    rows: list[BarRow]
    height: int
    left: int = PLOT_LEFT
    width: int = CHART_WIDTH


def _scaled(value: Decimal | int, top: Decimal | int) -> float:
    return round(float(PLOT_WIDTH * Decimal(value) / Decimal(top)), 1) if top else 0.0


def seats_chart(lines: list[ProductLine]) -> BarChart:
    """Seats (first bar) and assigned seats (second bar) per product, on one scale."""
    top = max((line.seats for line in lines), default=0)
    rows = [
        BarRow(
            line.name, 24 + i * ROW_HEIGHT, _scaled(line.seats, top), _scaled(line.assigned, top)
        )
        for i, line in enumerate(lines)
    ]
    return BarChart(rows, 36 + len(rows) * ROW_HEIGHT)


def cost_chart(lines: list[ProductLine]) -> BarChart:
    """Monthly cost (first bar) and the part of it wasted on free seats (second bar)."""
    top = max((line.monthly_cost for line in lines), default=Decimal(0))
    rows = [
        BarRow(
            line.name,
            24 + i * ROW_HEIGHT,
            _scaled(line.monthly_cost, top),
            _scaled(line.waste, top),
        )
        for i, line in enumerate(lines)
    ]
    return BarChart(rows, 36 + len(rows) * ROW_HEIGHT)


@dataclass(frozen=True)
class LineChart:
    """Seats and assigned seats over time: polyline points and axis labels."""

    seats: str
    assigned: str
    seat_marks: list[tuple[float, float]]
    assigned_marks: list[tuple[float, float]]
    top: int
    first: date | None
    last: date | None
    width: int = CHART_WIDTH
    height: int = 240
    left: int = 60
    right: int = 520
    base: int = 200
    ceiling: int = 20


def history_chart(points: list[HistoryPoint]) -> LineChart:
    """Two lines over the days of `points` (a single day draws its marks only)."""
    top = max((max(p.seats, p.assigned) for p in points), default=0) or 1
    chart = LineChart("", "", [], [], top, None, None)
    span = max(len(points) - 1, 1)

    def at(i: int, value: int) -> tuple[float, float]:
        x = chart.left + (chart.right - chart.left) * i / span
        y = chart.base - (chart.base - chart.ceiling) * value / top
        return round(x, 1), round(y, 1)

    seats = [at(i, p.seats) for i, p in enumerate(points)]
    assigned = [at(i, p.assigned) for i, p in enumerate(points)]
    return LineChart(
        seats=" ".join(f"{x},{y}" for x, y in seats),
        assigned=" ".join(f"{x},{y}" for x, y in assigned),
        seat_marks=seats,
        assigned_marks=assigned,
        top=top,
        first=points[0].day if points else None,
        last=points[-1].day if points else None,
    )
