"""Licence insights: a company's unused licences with their savings, and unassigning them
(Admins of the company and partner staff); the partner-wide ranking for staff."""

from __future__ import annotations

import uuid

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.domain.roles import Role
from app.models import Customer
from app.services import insights, people_view
from app.views.forms import InsightSettingsForm, ReleaseForm
from app.views.guards import get_customer_for, require_staff
from app.views.rendering import answer_post, page_or_partial

bp = Blueprint("insights", __name__)


@bp.get("/c/<customer>/insights")
@login_required
def page(customer: str) -> Response:
    """The company's insights; htmx polling gets the findings alone while releases run."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    return _answer(company, role)


@bp.post("/c/<customer>/insights/refresh")
@login_required
def refresh(customer: str) -> Response:
    """Read sign-ins and usage reports from Graph again (a job)."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    insights.request_refresh(company)
    return answer_post(None, _url(company), lambda **shown: _answer(company, role, **shown))


@bp.post("/c/<customer>/insights/release")
@login_required
def release(customer: str) -> Response:
    """Unassign the chosen licences (one, or a selection): pending, then done."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    form = ReleaseForm()
    message = None
    try:
        if not form.validate_on_submit():
            raise insights.InsightRefused(form.refusal())
        insights.request_release(
            current_user, role, company, form.items(), idempotency_key=form.idempotency_key.data
        )
    except insights.InsightRefused as refused:
        message = str(refused)
    return answer_post(message, _url(company), lambda **shown: _answer(company, role, **shown))


@bp.post("/c/<customer>/insights/settings")
@login_required
def settings(customer: str) -> Response:
    """Inactivity threshold and exclusions."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    form = InsightSettingsForm()
    message = None
    try:
        if not form.validate_on_submit():
            raise insights.InsightRefused(form.refusal())
        insights.change_settings(
            current_user,
            role,
            company,
            inactive_days=form.inactive_days.data,
            excluded_skus=request.form.getlist("excluded_skus"),
            excluded_people=(form.excluded_people.data or "").split(),
        )
    except insights.InsightRefused as refused:
        message = str(refused)
    return answer_post(message, _url(company), lambda **shown: _answer(company, role, **shown))


@bp.get("/insights")
@login_required
def ranking() -> str:
    """Partner-wide: customers ranked by the monthly waste the insights find."""
    user = require_staff()
    ranked, total = insights.ranking(user)
    return render_template("insights/ranking.html", ranked=ranked, total=total)


def _url(company: Customer) -> str:
    return url_for("insights.page", customer=company.pc_id)


def _answer(
    company: Customer,
    role: Role,
    *,
    message: str | None = None,
    status: int = 200,
    announce: str | None = None,
) -> Response:
    """The findings for htmx, the whole page otherwise (the same markup)."""
    view = insights.page(company)
    response = page_or_partial(
        "insights/_findings.html",
        "insights/page.html",
        status=status,
        company=company,
        role=role,
        view=view,
        products=people_view.products(company),
        message=message,
        announce=announce,
        new_key=lambda: uuid.uuid4().hex,
    )
    if view.busy:
        response.headers["Cache-Control"] = "no-store"
    return response
