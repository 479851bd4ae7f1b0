"""The end-user portal: pick a company, see its licenses, change them within the rules."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from app.domain.decision import Verdict
from app.domain.roles import Role
from app.extensions import db, htmx
from app.models import Customer
from app.services import licensing, people
from app.services.access import companies_query
from app.views import license_page
from app.views.forms import AssignForm, ChangeForm
from app.views.guards import get_customer_for

bp = Blueprint("portal", __name__)


@bp.get("/companies")
@login_required
def companies() -> str | Response:
    """The companies this person may manage; straight through when there is only one."""
    companies = db.session.scalars(companies_query(current_user).limit(501)).all()
    if len(companies) == 1 and current_user.staff_role is None:
        return redirect(url_for("portal.licenses", customer=companies[0].pc_id))
    return render_template("portal/companies.html", companies=companies)


@bp.get("/c/<customer>/licenses")
@login_required
def licenses(customer: str) -> str:
    """The company's subscriptions with seats, assigned and free, and NCE tags."""
    company, role = get_customer_for(customer)
    return _licenses_page(company, role)


def _licenses_page(company: Customer, role: Role, open_row: str | None = None) -> str:
    """The whole page; `open_row` shows that subscription's manage panel open (no htmx)."""
    return license_page.render_page(company, role, SubscriptionUrls(company.pc_id), open_row)


class SubscriptionUrls:
    """The URLs of a company's subscriptions, from one `url_for` per page.

    `urls(pc_id)` is `/c/<customer>/subscriptions/<pc_id>`; the row adds `/row`, `/manage`
    or a change's kind. (Several `url_for` calls in each of hundreds of rows were most of the
    page's time.)
    """

    def __init__(self, customer: str) -> None:
        marker = "--subscription--"
        url = url_for("portal.subscription_row", customer=customer, subscription=marker)
        self._prefix = escape(url[: url.index(marker)])

    def __call__(self, subscription: str) -> Markup:
        return self._prefix + quote(subscription, safe="")


@bp.get("/c/<customer>/subscriptions/<subscription>/manage")
@login_required
def manage(customer: str, subscription: str) -> Response | str:
    """The Admin's actions on one subscription: a panel for htmx, else the page with it open."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    try:
        view = licensing.row(company, role, subscription)
    except LookupError:
        abort(404)
    if not htmx:
        return _licenses_page(company, role, open_row=view.sub.pc_id)
    response = make_response(
        render_template(
            "portal/_manage_panel.html",
            company=company,
            row=view,
            urls=SubscriptionUrls(company.pc_id),
            new_key=_new_key,
        )
    )
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/c/<customer>/subscriptions/<subscription>/row")
@login_required
def subscription_row(customer: str, subscription: str) -> Response:
    """One row, alone (htmx polling) or as the whole page."""
    company, role = get_customer_for(customer)
    change_id = request.args.get("change", type=int)
    try:
        view = licensing.row(company, role, subscription, change_id)
    except LookupError:
        abort(404)
    return _row_response(company, view)


@bp.post("/c/<customer>/subscriptions/<subscription>/<kind>")
@login_required
def change(customer: str, subscription: str, kind: str) -> Response:
    """Ask for a change; the row shows it pending, or why it is refused."""
    company, role = get_customer_for(customer, need=Role.MODIFY)
    if kind not in licensing.KINDS:
        abort(404)
    form = ChangeForm()
    add_one = kind == "quantity" and form.add_one.data == "1"
    if add_one:
        form.quantity.data = None  # "+1" counts from the seats shown, not the typed number
        form.quantity.raw_data = []
    message = None
    offer_schedule = None
    if not form.validate_on_submit():
        message = _form_error(form)
    elif kind in ("quantity", "schedule_quantity") and form.quantity.data is None and not add_one:
        message = "Enter the number of seats."
    else:
        params: dict[str, object] = {}
        if kind in ("quantity", "schedule_quantity"):
            params["quantity"] = form.quantity.data
        if add_one:
            try:
                params["quantity"] = licensing.row(company, role, subscription).sub.quantity + 1
            except LookupError:
                abort(404)
        if kind == "auto_renew":
            params["enable"] = form.enable.data == "on"
        try:
            licensing.request_change(
                current_user,
                role,
                company,
                subscription,
                kind,
                params,
                idempotency_key=form.idempotency_key.data,
                version=form.version.data,
            )
        except LookupError:
            abort(404)
        except licensing.ChangeRefused as refused:
            message = str(refused)
            decision = refused.decision
            if decision is not None and decision.verdict is Verdict.AT_RENEWAL_ONLY:
                offer_schedule = params.get("quantity")
    try:
        view = licensing.row(company, role, subscription)
    except LookupError:
        abort(404)
    if not htmx:
        if message:
            flash(message, "error")
        return redirect(url_for("portal.licenses", customer=customer))
    return _row_response(company, view, message=message, offer_schedule=offer_schedule)


@bp.post("/c/<customer>/changes/<int:change_id>/retry")
@login_required
def retry(customer: str, change_id: int) -> Response:
    """Try a failed change again."""
    company, role = get_customer_for(customer, need=Role.MODIFY)
    message = None
    try:
        change = licensing.retry_change(current_user, role, company, change_id)
    except LookupError:
        abort(404)
    except licensing.ChangeRefused as refused:
        message = str(refused)
        change = None
    if not htmx:
        if message:
            flash(message, "error")
        return redirect(url_for("portal.licenses", customer=customer))
    sub_pc_id = change.subscription.pc_id if change else request.form.get("subscription", "")
    try:
        view = licensing.row(company, role, sub_pc_id)
    except LookupError:
        abort(404)
    return _row_response(company, view, message=message)


def _row_response(
    company: Customer,
    view: licensing.RowView,
    *,
    message: str | None = None,
    offer_schedule: object = None,
) -> Response:
    """The row partial for htmx, the whole page otherwise (same markup, Vary: HX-Request)."""
    if htmx:
        body = render_template(
            "portal/_subscription_row.html",
            company=company,
            row=view,
            message=message,
            offer_schedule=offer_schedule,
            urls=SubscriptionUrls(company.pc_id),
            new_key=_new_key,
        )
    else:
        body = _licenses_page(company, view.role)
    response = make_response(body)
    response.headers["Vary"] = "HX-Request"
    if view.pending:
        response.headers["Cache-Control"] = "no-store"
    return response


def _form_error(form: ChangeForm) -> str:
    """The first validation message of the form, or a generic one (e.g. missing CSRF)."""
    for field in (form.quantity, form.enable, form.version, form.idempotency_key):
        if field.errors:
            if field is form.idempotency_key or field is form.version:
                return "The form was incomplete; reload the page and try again."
            return str(field.errors[0])
    return "The form expired; reload the page and try again."


def _new_key() -> str:
    """A fresh idempotency key for a form (one submit = one change)."""
    return uuid.uuid4().hex


@bp.get("/c/<customer>/people")
@login_required
def people_list(customer: str) -> Response:
    """The company's people with their licenses; search and pages."""
    company, role = get_customer_for(customer)
    page = people.people_page(
        company, request.args.get("q", ""), request.args.get("page", 1, type=int) or 1
    )
    template = (
        "portal/_people_table.html" if htmx and htmx.target == "people" else "portal/people.html"
    )
    response = make_response(
        render_template(template, company=company, role=role, page=page, new_key=_new_key)
    )
    response.headers["Vary"] = "HX-Request"
    return response


@bp.get("/c/<customer>/people/<int:person>/row")
@login_required
def person_row(customer: str, person: int) -> Response:
    """One person's row (htmx polling while an assignment runs)."""
    company, role = get_customer_for(customer)
    try:
        view = people.person(company, person, request.args.get("change", type=int))
    except LookupError:
        abort(404)
    return _person_response(company, role, view)


@bp.post("/c/<customer>/people/<int:person>/<action>")
@login_required
def assignment(customer: str, person: int, action: str) -> Response:
    """Assign (buying a seat when needed) or remove a product for one person."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    if action not in ("assign", "remove"):
        abort(404)
    form = AssignForm()
    message, can_buy, sku = None, False, form.sku_id.data or ""
    if not form.validate_on_submit():
        message = _form_error_text(form)
    else:
        try:
            if action == "assign":
                people.request_assignment(
                    current_user,
                    role,
                    company,
                    person,
                    sku,
                    buy=form.buy.data == "yes",
                    idempotency_key=form.idempotency_key.data,
                )
            else:
                people.request_removal(
                    current_user,
                    role,
                    company,
                    person,
                    sku,
                    idempotency_key=form.idempotency_key.data,
                )
        except LookupError:
            abort(404)
        except people.AssignmentRefused as refused:
            message, can_buy = str(refused), refused.can_buy
    if not htmx:
        if message:
            flash(message, "error")
        return redirect(url_for("portal.people_list", customer=customer))
    try:
        view = people.person(company, person)
    except LookupError:
        abort(404)
    return _person_response(company, role, view, message=message, buy_sku=sku if can_buy else None)


def _person_response(
    company: object,
    role: Role,
    view: people.PersonView,
    *,
    message: str | None = None,
    buy_sku: str | None = None,
) -> Response:
    """The person row for htmx; the people page otherwise."""
    if htmx:
        body = render_template(
            "portal/_person_row.html",
            company=company,
            role=role,
            person=view,
            products=people.products(company),  # type: ignore[arg-type]
            message=message,
            buy_sku=buy_sku,
            new_key=_new_key,
        )
    else:
        page = people.people_page(company)  # type: ignore[arg-type]
        body = render_template(
            "portal/people.html", company=company, role=role, page=page, new_key=_new_key
        )
    response = make_response(body)
    response.headers["Vary"] = "HX-Request"
    return response


def _form_error_text(form: AssignForm) -> str:
    for field in (form.sku_id, form.buy, form.idempotency_key):
        if field.errors:
            return "The form was incomplete; reload the page and try again."
    return "The form expired; reload the page and try again."
