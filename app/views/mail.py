"""E-mail pages: a person's e-mail preferences, the unsubscribe link's landing page, and the
development mailbox (the mails `make run`'s SMTP sink caught; partner admins only)."""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField

from app.services import mail

bp = Blueprint("mail", __name__)

# The HTML body of a caught mail is shown as sent (inline styles, remote logo), sandboxed.
_MAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src * data:; sandbox"


class PreferencesForm(FlaskForm):  # type: ignore[misc]
    """Which mails a person wants."""

    reminders = BooleanField("Renewal and end-of-term reminders (60, 30 and 7 days before)")
    monthly_summary = BooleanField("A monthly summary of the licences (Admins)")


class UnsubscribeForm(FlaskForm):  # type: ignore[misc]
    """The confirmation of an unsubscribe link (a POST, so a mail scanner cannot do it)."""


@bp.route("/account/mail", methods=["GET", "POST"])
@login_required
def preferences() -> Response | str:
    """See and change which mails you get."""
    current = mail.preference(current_user.email or "")
    form = PreferencesForm(obj=current)
    if form.validate_on_submit():
        mail.set_preferences(
            current_user, reminders=form.reminders.data, monthly_summary=form.monthly_summary.data
        )
        flash("Your e-mail preferences are saved.", "success")
        return redirect(url_for("mail.preferences"), 303)
    return render_template("mail_pages/preferences.html", form=form, email=current_user.email)


@bp.route("/mail/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str) -> str | tuple[str, int]:
    """The link in every reminder: confirm, then reminders stop for that address. A link we
    did not sign (cut short when copied, or made up) says so, with what to do instead."""
    email = mail.address_in_token(token)
    if email is None:
        return render_template("mail_pages/unsubscribe.html", invalid=True), 404
    form = UnsubscribeForm()
    done = form.validate_on_submit() and bool(mail.unsubscribe(token))
    return render_template("mail_pages/unsubscribe.html", form=form, email=email, done=done)


@bp.get("/admin/mails")
@login_required
def mailbox() -> str:
    """The mails the development SMTP sink caught, newest first."""
    return render_template("mail_pages/mailbox.html", mails=mail.caught_mails(current_user))


@bp.get("/admin/mails/<key>")
@login_required
def caught(key: str) -> str:
    """One caught mail: its headers and plain-text body."""
    return render_template("mail_pages/caught.html", m=mail.caught_mail(current_user, key))


@bp.get("/admin/mails/<key>/html")
@login_required
def caught_html(key: str) -> Response:
    """The HTML body of a caught mail, in a sandbox."""
    found = mail.caught_mail(current_user, key)
    response = make_response(found.html or "", 200 if found.html else 404)
    response.headers["Content-Security-Policy"] = _MAIL_CSP
    return response
