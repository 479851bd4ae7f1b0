"""Partner admins: preview the reconciliation (dry run) and see what past runs saved."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.services import access, adjustment
from app.views.guards import get_customer_for_staff

bp = Blueprint("reconciliation", __name__, url_prefix="/admin/reconciliation")


@bp.get("/")
@login_required
def overview() -> str:
    """Customers with auto license adjustment: latest preview, latest run, total saving."""
    if not access.is_staff(current_user):
        abort(404)
    eligible = set(adjustment.eligible_customers())
    customers = [
        c for c in db.session.scalars(access.companies_query(current_user)) if c.pc_id in eligible
    ]
    lines = adjustment.overview(customers)
    total = sum(
        (line.latest_preview.monthly_saving for line in lines if line.latest_preview),
        Decimal(0),
    )
    visible = [c.id for c in customers]
    runs = [r for r in adjustment.history(limit=200) if r.customer_id in visible][:50]
    return render_template("reconciliation/overview.html", lines=lines, total=total, runs=runs)


@bp.get("/<customer>")
@login_required
def customer(customer: str) -> str:
    """One customer's latest plan and its history of runs."""
    company = get_customer_for_staff(customer)
    runs = adjustment.history(company)
    preview = next((r for r in runs if r.dry_run), None)
    return render_template(
        "reconciliation/customer.html", company=company, runs=runs, preview=preview
    )


@bp.post("/<customer>/preview")
@login_required
def preview(customer: str) -> Response:
    """Plan now from fresh Partner Center data, without changing anything."""
    company = get_customer_for_staff(customer)
    try:
        outcome = adjustment.preview(company.pc_id)
    except adjustment.AdjustmentError as error:
        flash(f"No preview: {error}", "error")
    else:
        count = sum(1 for a in outcome.actions if a["kind"] not in ("left_alone", "cannot_save"))
        flash(
            f"Preview ready: {count} changes would save {outcome.saving_now} a month now "
            f"and {outcome.saving_at_renewal} a month from renewals.",
            "success",
        )
    return redirect(url_for("reconciliation.customer", customer=company.pc_id))
