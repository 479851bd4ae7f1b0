"""E-mail against a real SMTP server (an aiosmtpd sink on a free port), jobs run by a real RQ
worker: reminders once per subscription and threshold, with the right wording; invitations on
the reseller's host; opting out; monthly summaries; an SMTP server that is down."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from flask import Flask
from rq import Retry
from sqlalchemy import func, select

from app.domain.roles import Role
from app.extensions import db
from app.models import (
    Customer,
    Membership,
    Partner,
    Reseller,
    SentMail,
    StaffRole,
    Subscription,
    User,
)
from app.queue import enqueue
from app.services import access, mail
from jobs.mail import send_monthly_summaries, send_reminders
from tests.support.processes import free_port

TODAY = datetime.now(UTC).date()
BASE = "https://portal.partner.example"
RESELLER_HOST = "licenses.fabrikam.example"


@dataclass
class Sink:
    """A real SMTP server that files every mail it accepts into a Maildir."""

    directory: Path
    url: str

    def mails(self) -> list[mail.CaughtMail]:
        return mail.read_sink(self.directory)


@pytest.fixture
def sink(app: Flask, tmp_path: Path) -> Iterator[Sink]:
    """An aiosmtpd Controller on a free port; the app sends to it for the test."""
    port = free_port()
    controller = Controller(Mailbox(tmp_path / "mails"), hostname="127.0.0.1", port=port)
    controller.start()
    saved = {k: app.config.get(k) for k in ("SMTP_URL", "PUBLIC_BASE_URL")}
    app.config.update(SMTP_URL=f"smtp://127.0.0.1:{port}", PUBLIC_BASE_URL=BASE)
    try:
        yield Sink(tmp_path / "mails", f"smtp://127.0.0.1:{port}")
    finally:
        app.config.update(saved)
        controller.stop()


def _sub(customer: Customer, pc_id: str, ends_in: int, **extra: object) -> Subscription:
    """A P1Y subscription whose term ends `ends_in` days from today (renewal the day after)."""
    end = TODAY + timedelta(days=ends_in - 1)
    start = datetime.combine(end - timedelta(days=364), time(0), UTC)
    values: dict[str, object] = {
        "customer_id": customer.id,
        "pc_id": pc_id,
        "offer_id": f"CFQ7TTC0{pc_id}:0001",
        "sku_id": f"sku-{pc_id}",
        "offer_name": f"Offer {pc_id}",
        "quantity": 10,
        "assigned": 8,
        "status": "active",
        "term_duration": "P1Y",
        "billing_cycle": "monthly",
        "creation_date": start,
        "term_start": start,
        "commitment_end": end,
        "unit_price": Decimal("12.00"),
        **extra,
    }
    sub = Subscription(**values)
    db.session.add(sub)
    return sub


@pytest.fixture
def company(app: Flask) -> Iterator[dict[str, int]]:
    """A partner, a reseller with a proven host, a direct customer with three subscriptions
    (renewing in 45 days, ending in 20, going to EST in 5), two Admins and a Modify user."""
    with app.app_context():
        partner = Partner(name="Contoso Cloud Partner", tenant_id="p-tenant")
        db.session.add(partner)
        db.session.flush()
        reseller = Reseller(
            partner_id=partner.id, pc_id="res-1", name="Fabrikam IT", host_name=RESELLER_HOST
        )
        db.session.add(reseller)
        db.session.flush()
        direct = Customer(
            partner_id=partner.id,
            pc_id="cust-direct",
            name="Northwind Traders",
            tenant_id="t-direct",
            self_service=True,
        )
        resold = Customer(
            partner_id=partner.id,
            reseller_id=reseller.id,
            pc_id="cust-resold",
            name="Tailspin Toys",
            tenant_id="t-resold",
            self_service=True,
        )
        db.session.add_all([direct, resold])
        db.session.flush()
        _sub(direct, "RENEW", 45)
        _sub(direct, "ENDS", 20, auto_renew=False, cancel_at_end=True)
        _sub(direct, "EST", 5, auto_renew=False)
        _sub(direct, "LATER", 200)
        for email, role in (
            ("ann@northwind.example", Role.ADMIN),
            ("max@northwind.example", Role.ADMIN),
            ("mo@northwind.example", Role.MODIFY),
        ):
            db.session.add(Membership(customer_id=direct.id, email=email, role=role))
        pat = User(
            tid="p-tenant",
            oid="pat",
            email="pat@partner.example",
            name="Pat",
            staff_role=StaffRole.PARTNER_ADMIN,
        )
        db.session.add(pat)
        db.session.commit()
        yield {"direct": direct.id, "resold": resold.id, "pat": pat.id}


def _sent_count() -> int:
    return db.session.scalar(select(func.count()).select_from(SentMail)) or 0


def test_one_reminder_per_subscription_and_threshold_with_the_right_wording_and_never_twice(
    app: Flask, company: dict[str, int], sink: Sink, work: Callable[[], None]
) -> None:
    with app.app_context():
        enqueue(send_reminders, TODAY.isoformat())
        work()
        mails = sink.mails()
        # Three subscriptions are due (45, 20 and 5 days left), two Admins, no Modify user.
        assert (
            sorted(m.to for m in mails)
            == ["ann@northwind.example"] * 3 + ["max@northwind.example"] * 3
        )
        ann = {
            m.subject.split(": ", 1)[1].split(" ")[1]: m for m in mails if m.to.startswith("ann")
        }
        renew, ends, est = ann["RENEW"], ann["ENDS"], ann["EST"]

        assert "Offer RENEW renews on" in renew.subject
        assert "RENEWS in 45 days" in renew.text and "with 10 seats" in renew.text
        assert "60 days before the term ends" in renew.text
        assert "Seats at renewal" in renew.text  # what can still be changed ...
        renew_end = TODAY + timedelta(days=44)
        assert f"until the end of {mail.day_text(renew_end)} (UTC)" in renew.text  # ... until when

        assert "Offer ENDS ends on" in ends.subject
        assert "ENDS in 20 days" in ends.text and "cannot be reactivated" in ends.text
        assert "30 days before the term ends" in ends.text
        assert "- Renew" in ends.text  # turning auto-renew back on is still possible

        assert "goes to the extended service term on" in est.subject
        assert "GOES TO THE EXTENDED SERVICE TERM in 5 days" in est.text
        assert "7 days before the term ends" in est.text
        # 12.00 + 20 % (a monthly term's price) + 3 % = 14.83, formatted by Babel
        assert "$14.83 a seat a month (+3 % on the monthly-term price)" in est.text
        assert est.html is not None and "Manage Offer EST" in est.html
        assert f"{BASE}/c/cust-direct/licenses" in est.text
        assert _sent_count() == 6
        assert set(db.session.scalars(select(SentMail.state))) == {"sent"}

        # The next run (the cron again, a retry, a second scheduler) sends nothing more.
        enqueue(send_reminders, TODAY.isoformat())
        work()
        assert len(sink.mails()) == 6
        assert mail.send_reminders(TODAY) == {"sent": 0, "already": 6}

        # Sixteen days later the renewing one reaches 30 days: one new reminder each.
        later = mail.send_reminders(TODAY + timedelta(days=16))
        assert later == {"sent": 4, "already": 0}  # renew@30 and ends@7, for two Admins
        assert any("RENEWS in 29 days" in m.text for m in sink.mails())


def test_an_invitation_for_a_resellers_customer_links_to_the_resellers_host(
    app: Flask, company: dict[str, int], sink: Sink, work: Callable[[], None]
) -> None:
    with app.app_context():
        pat = db.session.get(User, company["pat"])
        resold = db.session.get(Customer, company["resold"])
        direct = db.session.get(Customer, company["direct"])
        assert pat is not None and resold is not None and direct is not None
        access.grant_access(pat, resold, "tom@tailspin.example", Role.VIEW)
        access.grant_access(pat, direct, "new@northwind.example", Role.ADMIN)
        access.grant_access(pat, direct, "new@northwind.example", Role.MODIFY)  # no new mail
        work()
        mails = {m.to: m for m in sink.mails()}
        assert set(mails) == {"tom@tailspin.example", "new@northwind.example"}
        tom = mails["tom@tailspin.example"]
        assert f"https://{RESELLER_HOST}/auth/login" in tom.text
        assert tom.html is not None and f'href="https://{RESELLER_HOST}/auth/login"' in tom.html
        assert "Fabrikam IT" in tom.subject and "Tailspin Toys" in tom.subject
        assert "as View" in tom.text
        direct_mail = mails["new@northwind.example"]
        assert f"{BASE}/auth/login" in direct_mail.text and RESELLER_HOST not in direct_mail.text


def test_opting_out_stops_reminders_for_that_person_only(
    app: Flask, company: dict[str, int], sink: Sink
) -> None:
    with app.app_context():
        token = mail.unsubscribe_token("Max@Northwind.example")
        assert mail.unsubscribe(token) == "max@northwind.example"
        assert mail.preference("max@northwind.example").reminders is False
        mail.send_reminders(TODAY)
        assert {m.to for m in sink.mails()} == {"ann@northwind.example"}
        # Every reminder carries this person's own unsubscribe link, which works for them.
        link = next(
            line for line in sink.mails()[0].text.splitlines() if "/mail/unsubscribe/" in line
        )
        assert mail.email_of_token(link.rsplit("/", 1)[1]) == "ann@northwind.example"


def test_the_monthly_summary_goes_only_to_admins_who_asked_for_it_once(
    app: Flask, company: dict[str, int], sink: Sink, work: Callable[[], None]
) -> None:
    with app.app_context():
        ann = User(tid="t-direct", oid="ann", email="ann@northwind.example", name="Ann")
        db.session.add(ann)
        db.session.commit()
        mail.set_preferences(ann, reminders=True, monthly_summary=True)
        mo = User(tid="t-direct", oid="mo", email="mo@northwind.example", name="Mo")
        db.session.add(mo)
        db.session.commit()
        mail.set_preferences(mo, reminders=True, monthly_summary=True)  # not an Admin
        enqueue(send_monthly_summaries, "2026-10")
        enqueue(send_monthly_summaries, "2026-10")
        work()
        mails = sink.mails()
        assert [m.to for m in mails] == ["ann@northwind.example"]
        assert "Northwind Traders's licences, October 2026" in mails[0].subject
        assert "In total: 40 seats, 32 assigned, $480.00 a month" in mails[0].text
        assert "Offer EST: Goes to monthly extended term on" in mails[0].text


def test_an_smtp_server_that_is_down_fails_the_job_for_a_retry_and_records_nothing(
    app: Flask, company: dict[str, int], sink: Sink, work: Callable[[], None]
) -> None:
    with app.app_context():
        app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens
        job = enqueue(send_reminders, TODAY.isoformat(), retry=Retry(max=2, interval=60))
        work()
        job.refresh()
        assert job.get_status() == "scheduled"  # failed, retried in a minute
        assert job.retries_left == 1
        assert _sent_count() == 0 and sink.mails() == []
        app.config["SMTP_URL"] = sink.url  # back up: the retry sends everything once
        assert mail.send_reminders(TODAY) == {"sent": 6, "already": 0}
        assert len(sink.mails()) == 6


def test_smtp_urls_are_read_with_tls_and_credentials() -> None:
    assert mail.parse_smtp_url("smtp://mail.example") == mail.SmtpSettings(
        "mail.example", 25, "none"
    )
    assert mail.parse_smtp_url("smtp://u%40x:p%3Aw@mail.example:2525?starttls=1") == (
        mail.SmtpSettings("mail.example", 2525, "starttls", "u@x", "p:w")
    )
    assert mail.parse_smtp_url("smtps://u:p@mail.example").port == 465
    with pytest.raises(ValueError, match="SMTP_URL must look like"):
        mail.parse_smtp_url("http://mail.example")


def test_without_smtp_url_a_mail_is_only_logged(
    app: Flask, company: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    with app.app_context():
        app.config["SMTP_URL"] = None
        with caplog.at_level("INFO", logger="app.services.mail"):
            assert mail.send_reminders(TODAY)["sent"] == 6
        assert "SMTP_URL unset, not sent" in caplog.text and "RENEWS in 45 days" in caplog.text


def test_reminders_wait_for_customers_without_self_service(
    app: Flask, company: dict[str, int], sink: Sink
) -> None:
    with app.app_context():
        direct = db.session.get(Customer, company["direct"])
        assert direct is not None
        direct.self_service = False
        db.session.commit()
        assert mail.send_reminders(TODAY) == {"sent": 0, "already": 0}
        assert sink.mails() == []
