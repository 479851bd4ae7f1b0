"""The e-mail pages: a person's own preferences, the unsubscribe link's landing page (signed
token, CSRF-safe POST), and the development mailbox (partner admins only, only with a sink)."""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent
from app.services import mail
from tests.support.signin import csrf_token


def _pref(app: Flask, email: str) -> tuple[bool, bool]:
    with app.app_context():
        found = mail.preference(email)
        return found.reminders, found.monthly_summary


def test_a_person_changes_their_own_mail_preferences(
    app: Flask, demo: dict[str, int], signed_in: Callable[[str], FlaskClient]
) -> None:
    ada = signed_in("ada@contoso.example")
    page = ada.get("/account/mail")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Mails go to ada@contoso.example" in html
    assert 'href="/account/mail" aria-current="page">E-mail preferences' in html  # in the nav
    assert '<input checked id="reminders"' in html  # on by default

    refused = ada.post("/account/mail", data={"monthly_summary": "y"})  # no CSRF token
    assert refused.status_code == 400
    assert _pref(app, "ada@contoso.example") == (True, False)

    saved = ada.post("/account/mail", data={"csrf_token": csrf_token(html), "monthly_summary": "y"})
    assert saved.status_code == 303 and saved.headers["Location"] == "/account/mail"
    assert _pref(app, "ada@contoso.example") == (False, True)
    assert "Your e-mail preferences are saved." in ada.get("/account/mail").get_data(as_text=True)
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.kind == "mail.preferences_changed")
        )
        assert event is not None and event.actor == "ada@contoso.example"
        assert event.after == {"reminders": False, "monthly_summary": True}


def test_the_unsubscribe_link_asks_then_stops_reminders_for_its_address_only(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        token = mail.unsubscribe_token("ann@northwind.example")
    landing = client.get(f"/mail/unsubscribe/{token}")
    html = landing.get_data(as_text=True)
    assert landing.status_code == 200 and "Stop the renewal and end-of-term reminders" in html
    assert _pref(app, "ann@northwind.example") == (
        True,
        False,
    )  # a GET (a mail scanner) does nothing

    assert client.post(f"/mail/unsubscribe/{token}").status_code == 400  # no CSRF token
    done = client.post(f"/mail/unsubscribe/{token}", data={"csrf_token": csrf_token(html)})
    assert done.status_code == 200 and "no more renewal" in done.get_data(as_text=True)
    assert "Location" not in done.headers  # no redirect at all, let alone an open one
    assert _pref(app, "ann@northwind.example") == (False, False)
    assert _pref(app, "max@northwind.example") == (True, False)

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/mail/unsubscribe/{forged}").status_code == 404
    cut_short = client.get(f"/mail/unsubscribe/{token[:20]}")
    assert cut_short.status_code == 404
    said = cut_short.get_data(as_text=True)
    assert "This link is not valid" in said and "E-mail preferences" in said
    assert "Stop reminders" not in said  # nothing to confirm
    refused = client.post("/mail/unsubscribe/not-a-token", data={"csrf_token": csrf_token(html)})
    assert refused.status_code == 404
    assert _pref(app, "max@northwind.example") == (True, False)


@pytest.fixture
def caught(app: Flask, tmp_path: Path) -> Iterator[str]:
    """A sink directory holding one mail, as `make run`'s SMTP sink files it."""
    directory = tmp_path / "mails"
    box = mailbox.Maildir(directory, create=True)
    message = EmailMessage()
    message["To"] = "ada@contoso.example"
    message["Subject"] = "Seatwise: Project Plan 3 renews on January 6, 2027 (Contoso Ltd)"
    message["Date"] = "Thu, 26 Nov 2026 07:00:00 +0000"
    message.set_content("Project Plan 3 of Contoso Ltd RENEWS in 41 days <b>not bold</b>")
    message.add_alternative("<p>Project Plan 3 <strong>renews</strong></p>", subtype="html")
    key = box.add(message)
    app.config["MAIL_SINK_DIR"] = str(directory)
    try:
        yield key
    finally:
        app.config["MAIL_SINK_DIR"] = None


def test_the_dev_mailbox_shows_caught_mails_to_partner_admins_only(
    app: Flask, demo: dict[str, int], signed_in: Callable[[str], FlaskClient], caught: str
) -> None:
    pat = signed_in("pat@partner.example")
    listing = pat.get("/admin/mails")
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200
    assert "Project Plan 3 renews on January 6, 2027" in html and "ada@contoso.example" in html
    assert "Mails caught</a>" in html  # in the nav, for partner admins with a sink
    one = pat.get(f"/admin/mails/{caught}").get_data(as_text=True)
    assert "RENEWS in 41 days &lt;b&gt;not bold&lt;/b&gt;" in one  # the text, escaped
    body = pat.get(f"/admin/mails/{caught}/html")
    assert body.status_code == 200 and "<strong>renews</strong>" in body.get_data(as_text=True)
    assert "sandbox" in body.headers["Content-Security-Policy"]
    assert pat.get("/admin/mails/no-such-mail").status_code == 404

    for who in ("rita@fabrikam.example", "ada@contoso.example"):
        other = signed_in(who)
        assert other.get("/admin/mails").status_code == 404, who
        assert other.get(f"/admin/mails/{caught}").status_code == 404, who
        assert "Mails caught" not in other.get("/account/mail").get_data(as_text=True)
    anonymous = app.test_client().get("/admin/mails")
    assert anonymous.status_code in (302, 401) and "Project Plan" not in anonymous.get_data(
        as_text=True
    )

    app.config["MAIL_SINK_DIR"] = None  # no sink (production): no mailbox, for anyone
    assert pat.get("/admin/mails").status_code == 404
    assert "Mails caught" not in pat.get("/account/mail").get_data(as_text=True)
