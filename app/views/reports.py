"""Reports (customer and partner-wide) and the billing export, with their CSV downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from flask import Blueprint, make_response, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, StringField

from app.domain.roles import Role
from app.models import Customer
from app.models._types import utcnow
from app.services import access, azure_usage, billing, reports
from app.services.errors import NotFound
from app.views.guards import get_customer_for, require_partner_admin, require_staff
from app.views.rendering import REFUSED, answer_post, page_or_partial

bp = Blueprint("reports", __name__)


@bp.app_template_filter("amount")
def amount(value: Decimal | int, currency: str = "USD") -> str:
    """An amount with its currency, in the reader's locale (Accept-Language), by Babel."""
    return format_currency(value, currency, locale=_locale())


def _locale() -> Locale:
    best = request.accept_languages.best or "en_US"
    try:
        return Locale.parse(best.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en_US")


def _csv(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download: plain numbers (a dot for decimals), one header row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula (a typed agreement id, a name) is quoted with
    a leading apostrophe; numbers, negative ones included, are left as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            Decimal(value)
        except ArithmeticError:
            return "'" + value
    return value


def _cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def _report_of(customer_pc_id: str) -> tuple[Customer, Role] | Response:
    """The company for its reports; for its end users while Reporting is off, a 404 (there
    are no reports for them) whose page says so and who can switch them on."""
    company, role = get_customer_for(customer_pc_id)
    if company.reporting or access.is_staff(current_user):
        return company, role
    body = render_template(
        "reports/off.html", company=company, contact=reports.reporting_contact(company)
    )
    return make_response(body, 404)


@bp.get("/c/<customer>/reports")
@login_required
def customer_report(customer: str) -> Response:
    """The company's report: seats vs assigned, cost, waste, renewals and savings."""
    found = _report_of(customer)
    if isinstance(found, Response):
        return found
    company, _role = found
    report = reports.report(company, product=request.args.get("product") or None)
    return page_or_partial(
        "reports/_history.html",
        "reports/customer.html",
        company=company,
        report=report,
        seats_chart=reports.seats_chart(report.lines),
        cost_chart=reports.cost_chart(report.lines),
        history_chart=reports.history_chart(report.history),
    )


@bp.get("/c/<customer>/reports/<table>.csv")
@login_required
def customer_csv(customer: str, table: str) -> Response:
    """One of the report's tables as CSV: products, history or renewals."""
    found = _report_of(customer)
    if isinstance(found, Response):
        return found
    company, _role = found
    report = reports.report(company, product=request.args.get("product") or None)
    if table == "products":
        return _csv(
            f"{company.pc_id}-products.csv",
            ["product", "seats", "assigned", "free", "monthly_cost", "waste", "currency"],
            [
                [
                    line.name,
                    line.seats,
                    line.assigned,
                    line.free,
                    _cents(line.monthly_cost),
                    _cents(line.waste),
                    line.currency,
                ]
                for line in report.lines
            ],
        )
    if table == "history":
        name = report.products.get(report.product or "", "All products")
        return _csv(
            f"{company.pc_id}-history.csv",
            ["day", "product", "seats", "assigned"],
            [[p.day.isoformat(), name, p.seats, p.assigned] for p in report.history],
        )
    if table == "renewals":
        return _csv(
            f"{company.pc_id}-renewals.csv",
            ["day", "subscription", "product", "what_happens", "seats", "can_still_change"],
            [
                [
                    r.day.isoformat(),
                    r.sub.pc_id,
                    r.sub.offer_name,
                    r.text,
                    r.quantity,
                    "; ".join(r.changeable),
                ]
                for r in report.renewals
            ],
        )
    raise NotFound(table)


# --- Azure usage and the printable monthly report ----------------------------------------


def _month() -> tuple[date | None, str | None]:
    """The month asked for (?month=YYYY-MM; None: the default), or the reason it is refused."""
    try:
        raw = request.args.get("month") or None
        return (azure_usage.parse_month(raw, utcnow().date()) if raw else None), None
    except azure_usage.MonthError as refused:
        return None, str(refused)


@bp.get("/c/<customer>/reports/azure")
@login_required
def azure_report(customer: str) -> Response:
    """Azure usage per resource group and meter at the customer's price (staff: with cost and
    margin), when Azure sync is on."""
    found = _report_of(customer)
    if isinstance(found, Response):
        return found
    company, _role = found
    month, message = _month()
    usage = azure_usage.usage_report(company, month) if company.azure_sync else None
    return page_or_partial(
        "reports/azure.html",
        "reports/azure.html",
        status=400 if message else 200,
        company=company,
        usage=usage,
        message=message,
        staff=access.is_staff(current_user),
        chart=azure_usage.usage_chart(usage.by_resource_group) if usage else None,
        next_import=azure_usage.next_import(),
        contact=azure_usage.azure_contact(company),
    )


@bp.get("/c/<customer>/reports/azure.csv")
@login_required
def azure_csv(customer: str) -> Response:
    """The month's Azure usage, one row per Azure subscription, resource group and meter
    (end users: the price only)."""
    found = _report_of(customer)
    if isinstance(found, Response):
        return found
    company, _role = found
    month, message = _month()
    if message or not company.azure_sync:
        raise NotFound("azure usage")
    usage = azure_usage.usage_report(company, month)
    staff = access.is_staff(current_user)
    money = ["cost", "price", "margin"] if staff else ["price"]
    label = usage.month.strftime("%Y-%m")
    return _csv(
        f"{company.pc_id}-azure-{label}.csv",
        [
            "month",
            "azure_subscription",
            "resource_group",
            "meter_category",
            "meter",
            "quantity",
            "unit",
            *money,
            "currency",
        ],
        [
            [label, item.entitlement, item.resource_group, item.category, item.meter]
            + [str(item.quantity.normalize()), item.unit]
            + ([_cents(p.cost), _cents(p.price), _cents(p.margin)] if staff else [_cents(p.price)])
            + [usage.currency]
            for item, p in usage.lines
        ],
    )


@bp.get("/c/<customer>/reports/monthly")
@login_required
def monthly_report(customer: str) -> Response:
    """A printable monthly report with the partner's (or reseller's) name and logo."""
    found = _report_of(customer)
    if isinstance(found, Response):
        return found
    company, _role = found
    month, message = _month()
    monthly = reports.monthly(company, month or utcnow().date().replace(day=1))
    usage = azure_usage.usage_report(company, monthly.month) if company.azure_sync else None
    return page_or_partial(
        "reports/monthly.html",
        "reports/monthly.html",
        status=400 if message else 200,
        company=company,
        monthly=monthly,
        usage=usage,
        issuer=reports.reporting_contact(company),
        message=message,
        staff=access.is_staff(current_user),
    )


@bp.get("/admin/reports")
@login_required
def dashboard() -> Response:
    """Partner-wide: the same figures across the customers this staff member manages."""
    user = require_staff()
    summaries = reports.dashboard(user)
    return page_or_partial("reports/dashboard.html", "reports/dashboard.html", summaries=summaries)


@bp.get("/admin/reports.csv")
@login_required
def dashboard_csv() -> Response:
    """The partner-wide dashboard as CSV."""
    user = require_staff()
    return _csv(
        "customers-report.csv",
        [
            "customer_id",
            "customer",
            "seats",
            "assigned",
            "free",
            "monthly_cost",
            "waste",
            "renewals_90_days",
            "monthly_saving",
            "currency",
        ],
        [
            [
                s.customer.pc_id,
                s.customer.name,
                s.seats,
                s.assigned,
                s.free,
                _cents(s.monthly_cost),
                _cents(s.waste),
                s.renewals,
                _cents(s.saving),
                s.currency,
            ]
            for s in reports.dashboard(user)
        ],
    )


# --- billing (partner admins only) ----------------------------------------------------------


class BillingForm(FlaskForm):  # type: ignore[misc]
    """A subscription's billed flag and PSA agreement id."""

    billed = BooleanField()
    agreement_id = StringField()


@bp.get("/admin/billing")
@login_required
def billing_page() -> Response:
    """Billed subscriptions per customer, their agreement ids, and the monthly export."""
    require_partner_admin()
    chosen = request.args.get("customer") or None
    return _billing(chosen)


def _billing(chosen: str | None, message: str | None = None, status: int = 200) -> Response:
    company = get_customer_for(chosen)[0] if chosen else None
    subs = sorted(company.subscriptions, key=lambda s: s.offer_name) if company else []
    return page_or_partial(
        "reports/billing.html",
        "reports/billing.html",
        status=status,
        customers=access.companies(current_user),
        company=company,
        subs=subs,
        agreements=billing.agreements(s.id for s in subs),
        is_billed=billing.is_billed,
        this_month="{:04d}-{:02d}".format(*billing.parse_month(None)),
        message=message,
    )


@bp.post("/admin/billing/<customer>/<subscription>")
@login_required
def set_billing(customer: str, subscription: str) -> Response:
    """Switch a subscription's billed flag and set its agreement id."""
    user = require_partner_admin()
    company, _role = get_customer_for(customer)
    sub = billing.subscription_for(company, subscription)
    form = BillingForm()
    message = None
    try:
        if not form.validate_on_submit():
            raise billing.BillingError("The form expired: reload the page and try again.")
        billing.set_billing(user, sub, bool(form.billed.data), form.agreement_id.data or "")
    except billing.BillingError as refused:
        message = str(refused)
    back = url_for("reports.billing_page", customer=company.pc_id)
    return answer_post(
        message,
        back,
        lambda message, status, announce: _billing(company.pc_id, message, status),
    )


@bp.get("/admin/billing/export.<fmt>")
@login_required
def billing_export(fmt: str) -> Response:
    """The month's billing export (?month=YYYY-MM) as CSV or JSON."""
    require_partner_admin()
    if fmt not in ("csv", "json"):
        raise NotFound(fmt)
    try:
        year, month = billing.parse_month(request.args.get("month"))
    except billing.BillingError as refused:
        return _billing(None, str(refused), REFUSED)
    label = f"{year:04d}-{month:02d}"
    lines = [line.as_dict(label) for line in billing.export(year, month)]
    if fmt == "json":
        body = json.dumps({"month": label, "lines": lines}, indent=2)
        return Response(
            body,
            mimetype="application/json",
            headers={"Content-Disposition": f'attachment; filename="billing-{label}.json"'},
        )
    header = [key for key in lines[0]] if lines else list(_EXPORT_COLUMNS)
    return _csv(
        f"billing-{label}.csv",
        header,
        [
            [
                ";".join(f"{c['from']}:{c['quantity']}" for c in line[key])
                if key == "changes"
                else line[key]
                for key in header
            ]
            for line in lines
        ],
    )


_EXPORT_COLUMNS = (
    "month",
    "customer_id",
    "customer",
    "subscription_id",
    "product",
    "agreement_id",
    "unit_price",
    "currency",
    "opening_quantity",
    "closing_quantity",
    "changes",
    "seat_days",
    "days_in_month",
    "charge",
)
