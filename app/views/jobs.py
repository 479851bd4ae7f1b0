"""Partner admins: running and recent jobs, with progress in place and retry for failures."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.services import access, jobs
from app.services.licensing import ChangeRefused
from app.views.rendering import page_or_partial

bp = Blueprint("jobs", __name__, url_prefix="/admin/jobs")


def _staff() -> None:
    if not access.is_staff(current_user):
        abort(404)


@bp.get("/")
@login_required
def index() -> Response:
    """The jobs page; htmx polls its list while something runs."""
    _staff()
    lines = jobs.recent(current_user)
    running = any(line.running for line in lines)
    return page_or_partial("jobs/_list.html", "jobs/index.html", lines=lines, running=running)


@bp.post("/<kind>/<int:job_id>/retry")
@login_required
def retry(kind: str, job_id: int) -> Response:
    """Try a failed sync or change again."""
    _staff()
    try:
        flash(jobs.retry(current_user, kind, job_id), "success")
    except ChangeRefused as refused:
        flash(str(refused), "error")
    return redirect(url_for("jobs.index"), 303)
