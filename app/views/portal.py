"""The end-user portal: pick a company, see its licenses, change them within the rules."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

from app.domain.decision import Verdict
from app.domain.roles import Role
from app.models import Customer
from app.services import access, license_rows, licensing, outbox, people, people_view
from app.services.errors import NotFound
from app.views import license_page, people_page
from app.views.forms import AssignForm, ChangeForm
from app.views.guards import get_customer_for
from app.views.rendering import answer_post, page_or_partial

bp = Blueprint("portal", __name__)


@bp.get("/companies")
@login_required
def companies() -> str | Response:
    """The companies this person may manage; straight through when there is only one."""
    companies = access.companies(current_user)
    if len(companies) == 1 and current_user.staff_role is None:
        return redirect(url_for("portal.licenses", customer=companies[0].pc_id))
    return render_template("portal/companies.html", companies=companies)


@bp.get("/c/<customer>/licenses")
@login_required
def licenses(customer: str) -> Response:
    """The company's subscriptions: totals, search and filters, a page of rows; htmx's
    "Show more" gets the next page's rows alone."""
    company, role = get_customer_for(customer)
    filters = license_page.LicenseFilter.from_args(request.args)
    urls = SubscriptionUrls(company.pc_id)
    return page_or_partial(
        lambda: license_page.render_more(company, role, urls, filters),
        lambda: license_page.render_page(company, role, urls, filters),
    )


def _licenses_page(company: Customer, role: Role, open_row: str | None = None) -> str:
    """The whole page; `open_row` shows that subscription's manage panel open (no htmx)."""
    return license_page.render_page(
        company, role, SubscriptionUrls(company.pc_id), open_row=open_row
    )


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
def manage(customer: str, subscription: str) -> Response:
    """The Admin's actions on one subscription: a panel for htmx, else the page with it open."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    view = license_rows.row(company, role, subscription)
    return page_or_partial(
        "portal/_manage_panel.html",
        lambda: _licenses_page(company, role, open_row=view.sub.pc_id),
        company=company,
        row=view,
        urls=SubscriptionUrls(company.pc_id),
        new_key=_new_key,
    )


@bp.get("/c/<customer>/subscriptions/<subscription>/row")
@login_required
def subscription_row(customer: str, subscription: str) -> Response:
    """One row, alone (htmx polling) or as the whole page."""
    company, role = get_customer_for(customer)
    change_id = request.args.get("change", type=int)
    view = license_rows.row(company, role, subscription, change_id)
    finished = change_id is not None and view.change is not None and not view.pending
    return _row_response(company, view, announce=view.change.outcome if finished else None)


@bp.post("/c/<customer>/subscriptions/<subscription>/<kind>")
@login_required
def change(customer: str, subscription: str, kind: str) -> Response:
    """Ask for a change; the row shows it pending, or why it is refused (422)."""
    company, role = get_customer_for(customer, need=Role.MODIFY)
    if kind not in licensing.KINDS:
        raise NotFound(kind)
    view = license_rows.row(company, role, subscription)
    form = ChangeForm()
    message, offer_schedule, params = None, None, {}
    try:
        if not form.validate_on_submit():
            raise ValueError(form.refusal())
        params = form.change_params(kind, view.sub.quantity)
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
    except ValueError as refused:
        message = str(refused)
    except licensing.ChangeRefused as refused:
        message = str(refused)
        if refused.decision is not None and refused.decision.verdict is Verdict.AT_RENEWAL_ONLY:
            offer_schedule = params.get("quantity")
    return _changed(
        company,
        license_rows.row(company, role, subscription),
        message,
        offer_schedule=offer_schedule,
    )


@bp.post("/c/<customer>/changes/<int:change_id>/retry")
@login_required
def retry(customer: str, change_id: int) -> Response:
    """Try a failed change again."""
    company, role = get_customer_for(customer, need=Role.MODIFY)
    message = None
    try:
        change = licensing.retry_change(current_user, role, company, change_id)
    except licensing.ChangeRefused as refused:
        message = str(refused)
        change = outbox.get(company, change_id)
    return _changed(company, license_rows.row(company, role, change.subscription.pc_id), message)


@bp.post("/c/<customer>/people/<int:person>/changes/<int:change_id>/retry")
@login_required
def person_retry(customer: str, person: int, change_id: int) -> Response:
    """Try a failed assignment again; the person's row shows it."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    message = None
    try:
        licensing.retry_change(current_user, role, company, change_id)
    except licensing.ChangeRefused as refused:
        message = str(refused)
    view = people_view.person(company, person, change_id)
    return answer_post(
        message,
        url_for("portal.people_list", customer=customer),
        lambda **shown: _person_response(company, role, view, **shown),
    )


def _changed(
    company: Customer,
    view: license_rows.RowView,
    message: str | None,
    offer_schedule: object = None,
) -> Response:
    """After a change was asked: the row for htmx, the license page otherwise."""
    return answer_post(
        message,
        url_for("portal.licenses", customer=company.pc_id),
        lambda **shown: _row_response(company, view, offer_schedule=offer_schedule, **shown),
    )


def _row_response(
    company: Customer,
    view: license_rows.RowView,
    *,
    message: str | None = None,
    offer_schedule: object = None,
    status: int = 200,
    announce: str | None = None,
) -> Response:
    """The row partial for htmx, the whole page otherwise (same markup)."""
    response = page_or_partial(
        "portal/_subscription_row.html",
        lambda: _licenses_page(company, view.role),
        status=status,
        company=company,
        row=view,
        message=message,
        offer_schedule=offer_schedule,
        announce=announce,
        urls=SubscriptionUrls(company.pc_id),
        new_key=_new_key,
    )
    if view.pending:
        response.headers["Cache-Control"] = "no-store"
    return response


def _new_key() -> str:
    """A fresh idempotency key for a form (one submit = one change)."""
    return uuid.uuid4().hex


@bp.get("/c/<customer>/people")
@login_required
def people_list(customer: str) -> Response:
    """The company's people with their licenses; search and pages (Admin only: PRODUCT.md)."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    page = people_view.people_page(
        company, request.args.get("q", ""), request.args.get("page", 1, type=int) or 1
    )
    return page_or_partial(
        lambda: people_page.render("portal/_people_table.html", company, role, page),
        lambda: people_page.render("portal/people.html", company, role, page),
    )


@bp.get("/c/<customer>/people/<int:person>/row")
@login_required
def person_row(customer: str, person: int) -> Response:
    """One person's row (htmx polling while an assignment runs); Admin only."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    change_id = request.args.get("change", type=int)
    view = people_view.person(company, person, change_id)
    finished = change_id is not None and view.change is not None and not view.pending
    return _person_response(company, role, view, announce=view.change.outcome if finished else None)


@bp.post("/c/<customer>/people/<int:person>/<action>")
@login_required
def assignment(customer: str, person: int, action: str) -> Response:
    """Assign (buying a seat when needed) or remove a product for one person."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    if action not in ("assign", "remove"):
        raise NotFound(action)
    form = AssignForm()
    message, can_buy, sku = None, False, form.sku_id.data or ""
    try:
        if not form.validate_on_submit():
            raise people.AssignmentRefused(form.refusal())
        request_ = people.request_assignment if action == "assign" else people.request_removal
        extra = {"buy": form.buy.data == "yes"} if action == "assign" else {}
        request_(
            current_user,
            role,
            company,
            person,
            sku,
            idempotency_key=form.idempotency_key.data,
            **extra,
        )
    except people.AssignmentRefused as refused:
        message, can_buy = str(refused), refused.can_buy
    view = people_view.person(company, person)
    return answer_post(
        message,
        url_for("portal.people_list", customer=customer),
        lambda **shown: _person_response(
            company, role, view, buy_sku=sku if can_buy else None, **shown
        ),
    )


def _person_response(
    company: Customer,
    role: Role,
    view: people_view.PersonView,
    *,
    message: str | None = None,
    buy_sku: str | None = None,
    status: int = 200,
    announce: str | None = None,
) -> Response:
    """The person row for htmx; the people page otherwise."""
    return page_or_partial(
        "portal/_person_row.html",
        lambda: people_page.render(
            "portal/people.html", company, role, people_view.people_page(company)
        ),
        status=status,
        company=company,
        role=role,
        person=view,
        products=people_view.products(company),
        others=people_view.other_products(company),
        message=message,
        buy_sku=buy_sku,
        announce=announce,
        new_key=_new_key,
    )
