"""The navigation links, rendered once per worker for each set of things they depend on.

Every signed-in page shows them, and rendering them (a dozen `url_for`s and role tests) was
about a tenth of a busy page's CPU (docs/performance.md). What the links show depends only
on the key below: the page's endpoint (which link is current), the company on screen (its
id and whether its reports are open) and the role on it, the person's staff role,
whether mails are caught, and the script root the URLs are under. The sign-out form (with
its CSRF token) stays outside, rendered with each page.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from markupsafe import Markup

KEPT = 2_000  # link sets kept per worker, least recently used dropped first


class _Kept:
    def __init__(self) -> None:
        self.links: OrderedDict[Hashable, Markup] = OrderedDict()
        self.lock = threading.Lock()


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
    kept: _Kept = current_app.extensions["seatwise.nav"]
    with kept.lock:
        links = kept.links.get(key)
        if links is not None:
            kept.links.move_to_end(key)
            return links
    links = Markup(render_template("_nav_links.html"))  # noqa: S704 (an autoescaped template)
    with kept.lock:
        kept.links[key] = links
        while len(kept.links) > KEPT:
            kept.links.popitem(last=False)
    return links


def register(app: Flask) -> None:
    """Give the templates `nav_links`."""
    app.extensions["seatwise.nav"] = _Kept()
    app.jinja_env.globals["nav_links"] = nav_links
