"""Resellers: the provider's list (relationship state, customers, host names to approve),
the reseller's DNS check of its host name, and keeping people on their own host."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.models import Reseller, StaffRole
from app.services import resellers
from app.views.guards import require_partner_admin, require_staff

bp = Blueprint("resellers", __name__, url_prefix="/resellers")

# Reachable on any host by anyone signed in: signing out, health, logos, static files.
_ANY_HOST = {"auth.logout", "auth.login", "auth.callback", "main.healthz", "main.logo", "static"}


def host_reseller() -> Reseller | None:
    """The reseller whose proven host this request came to, looked up once per request
    (keeping people on their host and the page's brand both ask)."""
    if "host_reseller" not in g:
        g.host_reseller = resellers.reseller_on_host(request.host)
    found: Reseller | None = g.host_reseller
    return found


@bp.before_app_request
def keep_people_on_their_own_host() -> Response | None:
    """Someone signed in on a reseller's host who does not belong there (a direct customer's
    user, another reseller's) is sent to their own host before any page shows the brand."""
    if not current_user.is_authenticated or request.endpoint in _ANY_HOST:
        return None
    reseller = host_reseller()
    if reseller is None or resellers.belongs_on(current_user, reseller):
        return None
    host = resellers.home_host(current_user, current_app.config["PROVIDER_HOSTS"])
    port = request.host.rpartition(":")[2] if ":" in request.host else ""
    netloc = f"{host}:{port}" if port and ":" not in host else host
    return redirect(f"{request.scheme}://{netloc}{request.full_path.rstrip('?')}", 303)


@bp.app_context_processor
def inject_paused() -> dict[str, object]:
    """Why buying and changes are paused for the company on screen (reseller not authorised)."""

    def paused() -> str | None:
        company = g.get("company")
        return resellers.paused_reason(company) if company is not None else None

    return {"paused_reason": paused}


@bp.get("/")
@login_required
def index() -> str:
    """Every reseller with its relationship state, its customers and its web address."""
    user = require_partner_admin()
    return render_template(
        "resellers/index.html", rows=resellers.reseller_rows(user), proof=resellers.proof_method()
    )


@bp.post("/<reseller>/host/approve")
@login_required
def approve_host(reseller: str) -> Response:
    """The provider approves the web address a reseller asked for."""
    user = require_partner_admin()
    try:
        host = resellers.approve_host(user, reseller)
    except resellers.HostError as refusal:
        flash(str(refusal), "error")
    else:
        flash(f"{host} is now active.", "success")
    return redirect(url_for("resellers.index"))


@bp.post("/host/check")
@login_required
def check_host() -> Response:
    """The reseller asks for its DNS TXT record to be looked for now (by a worker)."""
    user = require_staff()
    reseller = user.reseller if user.staff_role is StaffRole.RESELLER_ADMIN else None
    if reseller is None or reseller.pending_host_name is None:
        flash("There is no web address waiting for proof.", "error")
    else:
        resellers.enqueue_check(reseller)
        flash(
            f"Looking for the TXT record of {reseller.pending_host_name}; reload in a moment.",
            "success",
        )
    return redirect(url_for("admin.brand_settings"))
