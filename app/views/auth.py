"""Sign in with Microsoft (OpenID Connect, authorization code + PKCE), sign out, sessions."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_login import current_user, login_required, login_user, logout_user
from joserfc.errors import JoseError
from requests import RequestException
from sqlalchemy import bindparam, select
from werkzeug.wrappers import Response

from app.domain.identity import SignInRefused, expected_issuer, identity_from_claims
from app.extensions import db, htmx, login_manager
from app.models import User
from app.services import access, resellers
from app.services import identity as identity_service

bp = Blueprint("auth", __name__, url_prefix="/auth")

IDLE_TIMEOUT_S = 2 * 60 * 60
# How stale the idle clock may get before a request moves it on. Moving it rewrites the
# session cookie (JSON, zlib, HMAC and a Set-Cookie header); once a minute is plenty for a
# two-hour limit, and most answers then send no cookie at all.
SEEN_EVERY_S = 60
ABSOLUTE_TIMEOUT_S = 12 * 60 * 60
SIGN_IN_TIMEOUT_S = 10
RETRY_AFTER_S = 60


@bp.record_once
def _init_oauth(state: BlueprintSetupState) -> None:
    """One OAuth registry per app, so apps with different providers never share a client."""
    app: Flask = state.app
    oauth = OAuth(app)
    authority = app.config["OIDC_AUTHORITY"].rstrip("/")
    oauth.register(
        "microsoft",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{authority}/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid profile email",
            "code_challenge_method": "S256",
            "default_timeout": SIGN_IN_TIMEOUT_S,  # a silent provider must not hang a worker
        },
    )
    app.extensions["seatwise.oauth"] = oauth


def _client() -> Any:
    """The Microsoft OpenID client of the current app."""
    return current_app.extensions["seatwise.oauth"].microsoft


def _claims_options() -> dict[str, Any]:
    """Issuer checked against the token's own tenant, audience against our client id; built
    afresh per call (authlib pops `validate`)."""
    template = _client().load_server_metadata()["issuer"]
    client_id = current_app.config["OIDC_CLIENT_ID"]

    def valid_issuer(claims: Any, value: Any) -> bool:
        tid = claims.get("tid")
        return bool(tid) and value == expected_issuer(template, str(tid))

    def valid_audience(claims: Any, value: Any) -> bool:
        # authlib alone checks only `azp`: a token minted for another app that names us as
        # its azp would pass. The audience must be us (a string, or a list holding us).
        return value == client_id or (isinstance(value, list) and client_id in value)

    return {
        "iss": {"essential": True, "validate": valid_issuer},
        "aud": {"essential": True, "validate": valid_audience},
    }


def safe_next(target: str | None) -> str | None:
    """Keep a post-sign-in target only if it is a path on this site (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target:
        return None
    return target


# Built once per process, as every statement each page runs (docs/performance.md).
_USER = select(User).where(User.id == bindparam("id"))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Load the signed-in person for this request, unless their sessions were ended since
    this cookie was issued (sign-out ends every copy of the cookie, server-side)."""
    user = db.session.execute(_USER, {"id": int(user_id)}).scalar() if user_id.isdigit() else None
    # A cookie from before generations existed counts as generation 0: valid until the
    # person's next sign-out moves the generation on.
    if user is None or session.get("session_generation", 0) != user.session_generation:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """Send people to sign in; htmx requests get 401 and a full-page redirect header."""
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if htmx:
        return Response("Sign-in required", 401, {"HX-Redirect": login_url})
    return redirect(login_url)


@bp.before_app_request
def enforce_session_timeouts() -> Response | None:
    """End sessions idle for too long or older than the absolute limit."""
    if not current_user.is_authenticated:
        return None
    now = time.time()
    signed_in = session.get("signed_in_at", 0)
    seen = session.get("seen_at", signed_in)
    if now - signed_in > ABSOLUTE_TIMEOUT_S or now - seen > IDLE_TIMEOUT_S:
        logout_user()
        session.clear()
        flash("Your session ended. Please sign in again.", "warning")
        return unauthorized()
    if now - seen >= SEEN_EVERY_S:
        session["seen_at"] = now
    return None


# What a reseller admin without a recorded reseller may still open: sign-in and sign-out,
# the front page, the health check, logos (public) and static files.
_OPEN_TO_UNRECORDED = {
    "auth.login",
    "auth.callback",
    "auth.logout",
    "main.index",
    "main.healthz",
    "main.logo",
    "static",
}


@bp.before_app_request
def refuse_unrecorded_reseller() -> tuple[str, int] | None:
    """A reseller admin whose reseller is not recorded reaches nothing, and is told why."""
    if not current_user.is_authenticated or not access.reseller_unrecorded(current_user):
        return None
    if request.endpoint in _OPEN_TO_UNRECORDED:
        return None
    return render_template("auth/reseller_unrecorded.html"), 403


@bp.get("/login")
def login() -> Response:
    """Start the Microsoft sign-in (state, nonce and PKCE are handled by authlib)."""
    session["next"] = safe_next(request.args.get("next"))
    response: Response = _client().authorize_redirect(redirect_uri())
    return response


def redirect_uri() -> str:
    """Where Microsoft sends the person back: the callback on the host the sign-in started
    on, when that host is verified (the provider's, or a reseller's proven host; each must
    be registered as a redirect URI of the Entra app, README); else on the provider's."""
    host = resellers.verified_host(request.host, current_app.config["PROVIDER_HOSTS"])
    return f"{request.scheme}://{host}{url_for('auth.callback')}"


@bp.get("/callback")
def callback() -> Response | tuple[str, int]:
    """Finish the sign-in: validate the ID token, then sign the person in."""
    try:
        token = _client().authorize_access_token(claims_options=_claims_options())
        identity = identity_from_claims(
            token.get("userinfo") or {},
            allowed_tenants=current_app.config["OIDC_ALLOWED_TENANTS"],
        )
    except SignInRefused as refused:
        return _refuse(str(refused))
    except (OAuthError, JoseError) as error:
        current_app.logger.warning("sign-in refused: %s", error)
        return _refuse("Microsoft's answer could not be verified, so you were not signed in.")
    result = identity_service.sign_in(identity)
    target = session.get("next")
    session.clear()  # a fresh session at sign-in (no fixation)
    login_user(result.user)
    session["session_generation"] = result.user.session_generation
    session["signed_in_at"] = session["seen_at"] = time.time()
    for company in result.refused:
        flash(
            f"An invitation to {company} was sent to your email address, but your Microsoft "
            "account does not prove it owns that address. Ask your administrator to invite "
            "the account of that company's own directory.",
            "warning",
        )
    home = "admin.overview" if result.user.staff_role is not None else "portal.companies"
    return redirect(target or url_for(home))


def _refuse(reason: str) -> tuple[str, int]:
    """Show why sign-in failed and keep it in the audit trail."""
    identity_service.record_refused_sign_in(reason, request.remote_addr or "")
    return render_template("auth/refused.html", reason=reason), 403


@bp.errorhandler(RequestException)
def provider_unreachable(error: RequestException) -> tuple[str, int, dict[str, str]]:
    """Microsoft's sign-in metadata or keys cannot be fetched: say so (503), one log line."""
    current_app.logger.warning(
        "sign-in unavailable: the OpenID provider could not be reached (%s: %s)",
        type(error).__name__,
        str(error)[:200],
    )
    body = render_template("auth/unavailable.html", retry_after=RETRY_AFTER_S)
    return body, 503, {"Retry-After": str(RETRY_AFTER_S)}


@bp.post("/logout")
@login_required
def logout() -> Response:
    """Sign out: end this person's sessions server-side (copies of the cookie included)."""
    identity_service.sign_out(current_user._get_current_object())
    logout_user()
    session.clear()
    flash("You are signed out.", "success")
    return redirect(url_for("main.index"))
