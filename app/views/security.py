"""Security headers on every answer, and the one inline `<style>` the Content-Security-Policy
allows (by its hash).

The policy allows scripts, styles, images and connections from this site only, no inline
script at all, forms posting only here and no framing by anyone. The page's brand colour
is the one inline style: `brand_style` renders it and records its hash for this answer's
policy. htmx needs no inline style (`includeIndicatorStyles: false`) and no eval (no
`hx-on`, filters or `js:` values; `allowEval: false` in base.html).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from flask import Flask, g, request
from markupsafe import Markup
from werkzeug.wrappers import Response

HSTS = "max-age=31536000; includeSubDomains"
REFERRER_POLICY = "strict-origin-when-cross-origin"  # CSRF over HTTPS needs the Referer


def content_security_policy(style_hashes: list[str]) -> str:
    """The policy of a page whose inline styles have these hashes."""
    return _policy(tuple(style_hashes))


@lru_cache(maxsize=256)
def _policy(style_hashes: tuple[str, ...]) -> str:
    styles = " ".join(["'self'", *(f"'{h}'" for h in style_hashes)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {styles}",
            "img-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def brand_style(color: str) -> Markup:
    """The `<style>` that sets the brand colour, allowed by its hash in this answer's policy.

    `color` was checked to be #rrggbb (app.services.branding); it is escaped all the same.
    """
    css = f":root {{ --brand: {Markup.escape(color)}; }}"
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    hashes: list[str] = g.setdefault("csp_style_hashes", [])
    if f"sha256-{digest}" not in hashes:
        hashes.append(f"sha256-{digest}")
    return Markup(f"<style>{css}</style>")  # noqa: S704 (escaped above)


def register(app: Flask) -> None:
    """Add the headers to every answer (an answer that set its own policy keeps it)."""
    app.jinja_env.globals["brand_style"] = brand_style

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault(
            "Content-Security-Policy", content_security_policy(g.get("csp_style_hashes", []))
        )
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
