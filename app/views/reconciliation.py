"""Partner admins: preview the reconciliation (dry run) and see what past runs saved."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.models import AdjustmentRun, Customer
from app.services import adjustment
from app.views.guards import get_customer_for_staff, require_staff
from app.views.rendering import page_or_partial

bp = Blueprint("reconciliation", __name__, url_prefix="/admin/reconciliation")


@bp.get("/")
@login_required
def overview() -> str:
    """Customers with auto license adjustment: latest preview, latest run, total saving."""
    require_staff()
    lines, total, runs = adjustment.overview_for(current_user)
    return render_template("reconciliation/overview.html", lines=lines, total=total, runs=runs)


@bp.get("/<customer>")
@login_required
def customer(customer: str) -> str:
    """One customer's latest plan and its history of runs."""
    return _customer_page(get_customer_for_staff(customer))


@bp.post("/<customer>/preview")
@login_required
def preview(customer: str) -> Response:
    """Ask a worker to plan from fresh Partner Center data; the page shows its progress."""
    company = get_customer_for_staff(customer)
    adjustment.request_preview(company)
    return redirect(url_for("reconciliation.customer", customer=company.pc_id), 303)


@bp.get("/<customer>/preview/<int:run_id>")
@login_required
def preview_status(customer: str, run_id: int) -> Response:
    """The preview's progress (htmx polls it while it runs), then its plan."""
    company = get_customer_for_staff(customer)
    run = adjustment.preview_run(company, run_id)
    done = run.state not in adjustment.PREVIEW_OPEN
    return page_or_partial(
        "reconciliation/_preview.html",
        lambda: _customer_page(company),
        company=company,
        preview=run,
        announce=_ready(run) if done else None,
    )


def _ready(run: AdjustmentRun) -> str:
    if run.state == "failed":
        return f"No preview: {run.message}"
    return f"Preview ready: would save {run.monthly_saving} a month."


def _customer_page(company: Customer) -> str:
    runs = adjustment.history(company)
    preview = next((r for r in runs if r.dry_run), None)
    return render_template(
        "reconciliation/customer.html", company=company, runs=runs, preview=preview
    )
