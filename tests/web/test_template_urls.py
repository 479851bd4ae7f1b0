"""Templates' `url_for` keeps each URL it built (app/views/urls.py): the same URLs as
Flask's own, whatever the arguments, their order and types, the script root."""

from __future__ import annotations

from flask import Flask, render_template_string, url_for


def test_kept_urls_are_the_urls_flask_builds(app: Flask) -> None:
    cases = [
        ("portal.licenses", {"customer": "cust-1"}),
        ("portal.licenses", {"customer": "cust 2/é", "page": 2, "q": "a&b"}),
        ("portal.licenses", {"q": "x", "customer": "cust-1", "page": 3}),  # order kept
        ("admin.customer_list", {"page": 1}),
        ("admin.customer_list", {"page": True}),  # equal to 1 as a key, not as a URL
        ("static", {"filename": "css/seatwise.css"}),
        ("admin.customer_list", {"_anchor": "table"}),
    ]
    template = "{{ url_for(endpoint, **values) }}"
    for root in ("", "/seatwise"):
        with app.test_request_context("/", base_url=f"http://localhost{root}/"):
            for _ in range(2):  # built, then kept
                for endpoint, values in cases:
                    shown = render_template_string(template, endpoint=endpoint, values=values)
                    assert shown == str(url_for(endpoint, **values)).replace("&", "&amp;")
                    assert root == "" or shown.startswith(root)
