"""The front page, the health check, and the branding every page shows."""

from __future__ import annotations

import hashlib
import io
from functools import cached_property

from flask import (
    Blueprint,
    abort,
    g,
    has_request_context,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from app.services import branding
from app.views.resellers import host_reseller

bp = Blueprint("main", __name__)


@bp.get("/")
def index() -> str:
    """Welcome page: what Seatwise is and the sign-in button."""
    return render_template("main/index.html", user=current_user)


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Liveness probe for load balancers and the run script."""
    return {"status": "ok"}, 200


@bp.get("/brand/logo/<kind>/<int:brand_id>")
def logo(kind: str, brand_id: int) -> Response:
    """A partner's or reseller's logo, as the image type its decoding proved."""
    stored = branding.logo(kind, brand_id)
    if stored is None:
        abort(404)
    response = send_file(
        io.BytesIO(stored.data),
        mimetype=stored.mime,
        etag=hashlib.sha256(stored.data).hexdigest()[:32],
        last_modified=stored.updated_at,
        max_age=3600,
        conditional=True,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Content-Disposition"] = "inline"
    response.cache_control.public = True
    return response


class PageBrand:
    """The branding of the current page, looked up only when a template uses it."""

    @cached_property
    def _brand(self) -> branding.Brand:
        if not has_request_context():
            return branding.Brand(branding.DEFAULT_NAME, branding.DEFAULT_COLOR)
        user = current_user if current_user.is_authenticated else None
        customer = (request.view_args or {}).get("customer")
        try:
            return branding.brand_for(
                host_reseller(),
                user,
                customer if isinstance(customer, str) else None,
                allowed_customer=g.get("company"),
            )
        except SQLAlchemyError:  # an error page must still render when the database fails
            return branding.Brand(branding.DEFAULT_NAME, branding.DEFAULT_COLOR)

    @property
    def name(self) -> str:
        """The partner's or reseller's name."""
        return self._brand.name

    @property
    def primary_color(self) -> str:
        """A #rrggbb colour (validated again before it reaches the page's CSS)."""
        return self._brand.primary_color

    @property
    def support(self) -> str | None:
        """Where this brand's customers get help (shown in the footer and on error pages)."""
        return self._brand.support

    @property
    def logo_url(self) -> str | None:
        """Where the logo is served, with its version so caches refresh when it changes."""
        brand = self._brand
        if not (brand.logo_kind and brand.logo_id):
            return None
        return url_for(
            "main.logo", kind=brand.logo_kind, brand_id=brand.logo_id, v=brand.logo_version
        )


@bp.app_context_processor
def inject_brand() -> dict[str, object]:
    """The name, logo and colour of this page: the reseller's (white-label) or the partner's."""
    return {"brand": PageBrand()}
