"""The navigation links, rendered once per worker for each set of things they depend on.

Every signed-in page shows them, and rendering them (a dozen `url_for`s and role tests) was
about a tenth of a busy page's CPU (docs/performance.md). What the links show depends only
on the key below: the page's endpoint (which link is current), the company on screen (its
id and whether its reports are open) and the role on it, the person's staff role,
whether mails are caught, and the script root the URLs are under. The sign-out form (with
its CSRF token) stays outside, rendered with each page.
"""

from __future__ import annotations

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from markupsafe import Markup

from app.views.license_page import kept_html

KEPT = 2_000  # link sets kept per worker, least recently used dropped first


def nav_links() -> Markup:
    """The links for this page and person (templates call it from `_nav.html`)."""
    company = g.get("company")
    key = (
        request.script_root,
        request.endpoint,
        company.pc_id if company is not None else None,
        bool(company.reporting) if company is not None else None,
        g.get("company_role"),
        current_user.staff_role,
        bool(current_app.config.get("MAIL_SINK_DIR")),
    )
    return Markup(  # noqa: S704 (an autoescaped template)
        kept_html("seatwise.nav", key, lambda: render_template("_nav_links.html"), KEPT)
    )


def register(app: Flask) -> None:
    """Give the templates `nav_links`."""
    app.jinja_env.globals["nav_links"] = nav_links
