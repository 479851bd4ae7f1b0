"""E-mail: the one place mails are rendered and sent (docs/email.md).

- Transport: the standard library's smtplib to `SMTP_URL` (smtp://, smtp://...?starttls=1,
  smtps://; user:password in the URL; `SMTP_TIMEOUT`). Without `SMTP_URL` a mail is only
  logged. `make run` points it at a local SMTP sink that files mails into `MAIL_SINK_DIR`.
- Mails: the invitation when someone is given portal access; renewal / end-of-term
  reminders 60, 30 and 7 days before a term ends (`app.domain.reminders`); the monthly
  licence summary for Admins who ask for it. Each is an HTML and a plain-text body rendered
  from `templates/mail/`, with the partner's or reseller's name, dates and money by Babel.
- Never twice: a reminder or summary is claimed in `sent_mail` (unique per subscription,
  threshold, term end and recipient) and committed *before* it is sent, then marked sent.
  An SMTP error deletes the claim and fails the job (RQ retries it); a worker that dies
  between the SMTP server's acceptance and the "sent" mark leaves the claim "sending", and
  the mail is not sent again (at most once: a lost reminder is better than a duplicate).
"""

from __future__ import annotations

import logging
import mailbox
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from babel.dates import format_date
from babel.numbers import format_currency
from flask import current_app, render_template
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from app.domain import nce
from app.domain.end_of_term import EndOfTerm, est_unit_price, est_uplift
from app.domain.reminders import due_threshold
from app.domain.roles import Role
from app.extensions import db
from app.models import Customer, MailPreference, Membership, Partner, SentMail, User
from app.models._types import utcnow
from app.services import audit, branding, reports
from app.services.errors import NotFound
from app.services.licensing import facts_of

log = logging.getLogger(__name__)

SEND_JOB = "jobs.mail"
SIGN_IN_PATH = "/auth/login"
_TOKEN_SALT = "seatwise-mail-unsubscribe"  # noqa: S105 (a salt, not a secret)


# --- transport ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """One mail to one recipient, both bodies rendered."""

    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send, read from SMTP_URL."""

    host: str
    port: int
    tls: str  # "none" | "starttls" | "ssl"
    user: str | None = None
    password: str | None = None


class MailError(RuntimeError):
    """The mail could not be handed to the SMTP server (the job fails and is retried)."""


def parse_smtp_url(url: str) -> SmtpSettings:
    """smtp://[user:password@]host[:port][?starttls=1] or smtps://...; a clear error else."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"SMTP_URL must look like smtp://host:25 or smtps://host:465, not {url!r}")
    query = parse_qs(parts.query)
    starttls = query.get("starttls", ["0"])[0].lower() in ("1", "true", "yes", "on")
    tls = "ssl" if parts.scheme == "smtps" else ("starttls" if starttls else "none")
    port = parts.port or {"ssl": 465, "starttls": 587, "none": 25}[tls]
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return SmtpSettings(parts.hostname, port, tls, user, password)


def build_message(mail: Outgoing) -> EmailMessage:
    """The MIME message: plain text first, HTML as the alternative."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain="seatwise")
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


def deliver(mail: Outgoing) -> None:
    """Hand the mail to SMTP_URL; without it, log it. Raises MailError when the server is
    unreachable or refuses it."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        log.info("mail (SMTP_URL unset, not sent) to %s: %s\n%s", mail.to, mail.subject, mail.text)
        return
    settings = parse_smtp_url(url)
    timeout = float(current_app.config.get("SMTP_TIMEOUT", 15))
    message = build_message(mail)
    try:
        smtp: smtplib.SMTP
        if settings.tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with smtp:
            if settings.tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.user:
                smtp.login(settings.user, settings.password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(
            f"The SMTP server {settings.host}:{settings.port} failed: {error}"
        ) from error


# --- what every mail shows ---------------------------------------------------------------------


def brand_name(customer: Customer) -> str:
    """The name the customer knows: its reseller's brand, else the partner's."""
    if customer.reseller is not None:
        return branding.brand_of(customer.reseller).name
    partner = db.session.get(Partner, customer.partner_id)
    return branding.brand_of(partner).name if partner else branding.DEFAULT_NAME


def base_url(customer: Customer) -> str:
    """Where links in a mail about `customer` point: its reseller's proven host (with the
    scheme of PUBLIC_BASE_URL), else PUBLIC_BASE_URL."""
    base = str(current_app.config["PUBLIC_BASE_URL"]).rstrip("/")
    reseller = customer.reseller
    if reseller is not None and reseller.host_name:
        return f"{urlsplit(base).scheme or 'https'}://{reseller.host_name}"
    return base


def _logo_url(customer: Customer, base: str) -> str | None:
    owner = customer.reseller or db.session.get(Partner, customer.partner_id)
    if owner is None:
        return None
    brand = branding.brand_of(owner)
    if brand.logo_kind is None:
        return None
    return f"{base}/brand/logo/{brand.logo_kind}/{brand.logo_id}?v={brand.logo_version}"


def day_text(day: date) -> str:
    """A date in words, in the mail locale ('December 11, 2026')."""
    return format_date(day, format="long", locale=current_app.config.get("MAIL_LOCALE", "en"))


def money(value: Decimal | int, currency: str) -> str:
    """An amount with its currency, in the mail locale."""
    return format_currency(value, currency, locale=current_app.config.get("MAIL_LOCALE", "en"))


def _render(template: str, **context: Any) -> tuple[str, str]:
    context.setdefault("day", day_text)
    context.setdefault("money", money)
    return (
        render_template(f"mail/{template}.txt", **context),
        render_template(f"mail/{template}.html", **context),
    )


# --- preferences and unsubscribing -------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_TOKEN_SALT)


def unsubscribe_token(email: str) -> str:
    """A signed token naming one address: whoever holds it may turn that address's
    reminders off (and nothing else)."""
    return _serializer().dumps({"e": email.strip().lower()})


def email_of_token(token: str) -> str:
    """The address a token names; NotFound when it was not signed by us."""
    email = address_in_token(token)
    if email is None:
        raise NotFound("unsubscribe token")
    return email


def address_in_token(token: str) -> str | None:
    """The address a token names, or None when it was not signed by us."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("e"), str):
        return None
    return str(data["e"])


def preference(email: str) -> MailPreference:
    """The address's preferences (the defaults, unsaved, when it has none)."""
    address = email.strip().lower()
    found = db.session.scalar(select(MailPreference).where(MailPreference.email == address))
    return found or MailPreference(email=address, reminders=True, monthly_summary=False)


def set_preferences(actor: User, *, reminders: bool, monthly_summary: bool) -> MailPreference:
    """A person changes which mails they get (for the address they signed in with). Audited."""
    if not actor.email:
        raise NotFound("e-mail address")
    return _save(actor.email, actor, reminders=reminders, monthly_summary=monthly_summary)


def unsubscribe(token: str) -> str:
    """Turn reminders off for the address the token names; its address. Audited."""
    email = email_of_token(token)
    current = preference(email)
    _save(
        email,
        f"unsubscribe link ({email})",
        reminders=False,
        monthly_summary=current.monthly_summary,
    )
    return email


def _save(
    email: str, actor: User | str, *, reminders: bool, monthly_summary: bool
) -> MailPreference:
    pref = preference(email)
    before = {"reminders": pref.reminders, "monthly_summary": pref.monthly_summary}
    after = {"reminders": reminders, "monthly_summary": monthly_summary}
    if pref.id is None:
        db.session.add(pref)
    pref.reminders, pref.monthly_summary = reminders, monthly_summary
    if before != after:
        audit.record(
            "mail.preferences_changed",
            actor=actor,
            object_type="mail_preference",
            object_id=pref.email,
            before=before,
            after=after,
        )
    db.session.commit()
    return pref


# --- the invitation ------------------------------------------------------------------------------


def queue_invitation(membership_id: int) -> None:
    """After an invitation is committed: send its mail from a worker (retried if SMTP is
    down). If the queue itself is down the access stays granted; the mail is logged lost."""
    from rq import Retry

    from app.queue import enqueue

    try:
        enqueue(
            f"{SEND_JOB}.send_invitation",
            membership_id,
            job_timeout=120,
            retry=Retry(max=3, interval=[60, 300, 900]),
        )
    except Exception:  # Redis unreachable: the grant stands, the mail is not sent
        log.exception("could not queue the invitation mail of membership %s", membership_id)


def invitation(membership: Membership) -> Outgoing:
    """The invitation mail of one membership."""
    customer = membership.customer
    base = base_url(customer)
    brand = brand_name(customer)
    context = {
        "brand": brand,
        "logo_url": _logo_url(customer, base),
        "customer": customer,
        "role": membership.role,
        "sign_in_url": f"{base}{SIGN_IN_PATH}",
        "base_url": base,
    }
    text, html = _render("invitation", **context)
    subject = f"{brand}: you can now manage {customer.name}'s Microsoft 365 licenses"
    return Outgoing(membership.email, subject, text, html)


def send_invitation(membership_id: int) -> bool:
    """Send the invitation of a membership (False when it was revoked meanwhile)."""
    membership = db.session.get(Membership, membership_id)
    if membership is None:
        return False
    deliver(invitation(membership))
    return True


# --- renewal and end-of-term reminders ---------------------------------------------------------


@dataclass(frozen=True)
class Reminder:
    """One reminder due: a subscription's end of term, the threshold, what happens then."""

    renewal: reports.Renewal
    threshold: int
    days_left: int
    term_end: date  # the commitment end: the last day of the term
    changeable_until: date
    est_price: Decimal | None


def due_reminders(customer: Customer, today: date) -> list[Reminder]:
    """The reminders due today for the customer's subscriptions (sent or not)."""
    now = datetime.combine(today, time(12), UTC)
    subs = list(customer.subscriptions)
    found = []
    for renewal in reports.renewals(subs, now):
        facts = facts_of(renewal.sub)
        threshold = due_threshold(today, facts.renewal_on, facts.term_duration, renewal.choice)
        if threshold is None:
            continue
        found.append(
            Reminder(
                renewal=renewal,
                threshold=threshold,
                days_left=(facts.renewal_on - today).days,
                term_end=facts.commitment_end,
                changeable_until=facts.commitment_end,
                est_price=est_unit_price(facts) if renewal.choice is EndOfTerm.EST else None,
            )
        )
    return found


def reminder(customer: Customer, due: Reminder, to: str) -> Outgoing:
    """The reminder mail for one recipient."""
    base = base_url(customer)
    brand = brand_name(customer)
    sub = due.renewal.sub
    name = sub.friendly_name or sub.offer_name
    facts = facts_of(sub)
    subject = {
        EndOfTerm.RENEW: f"{name} renews on {day_text(facts.renewal_on)}",
        EndOfTerm.CANCEL: f"{name} ends on {day_text(due.term_end)}",
        EndOfTerm.EST: (
            f"{name} goes to the extended service term on {day_text(facts.renewal_on)}"
        ),
    }[due.renewal.choice]
    token = unsubscribe_token(to)
    context = {
        "brand": brand,
        "logo_url": _logo_url(customer, base),
        "customer": customer,
        "sub": sub,
        "name": name,
        "due": due,
        "choice": due.renewal.choice.value,
        "renewal_on": facts.renewal_on,
        "uplift": int(est_uplift(facts) * 100),
        "licenses_url": f"{base}/c/{customer.pc_id}/licenses",
        "preferences_url": f"{base}/account/mail",
        "unsubscribe_url": f"{base}/mail/unsubscribe/{token}",
        "seats": nce.seats,
    }
    text, html = _render("reminder", **context)
    headers = {"List-Unsubscribe": f"<{base}/mail/unsubscribe/{token}>"}
    return Outgoing(to, f"{brand}: {subject} ({customer.name})", text, html, headers)


def _admins(customer: Customer, want: str) -> list[str]:
    """The addresses of the customer's Admins that want `want` ("reminders" or
    "monthly_summary"), by address."""
    emails = db.session.scalars(
        select(Membership.email)
        .where(Membership.customer_id == customer.id, Membership.role == Role.ADMIN)
        .order_by(Membership.email)
    )
    return [email for email in emails if getattr(preference(email), want)]


def send_reminders(today: date) -> dict[str, int]:
    """Send every reminder due today that was not sent before; the counts. Raises
    MailError (after sending what it could) when the SMTP server fails: the job retries."""
    counts = {"sent": 0, "already": 0}
    customers = db.session.scalars(
        select(Customer).where(Customer.self_service.is_(True)).order_by(Customer.id)
    )
    for customer in list(customers):
        dues = due_reminders(customer, today)
        if not dues:
            continue
        for to in _admins(customer, "reminders"):
            for due in dues:
                mail = reminder(customer, due, to)
                claim = SentMail(
                    kind="reminder",
                    customer_id=customer.id,
                    subscription_id=due.renewal.sub.id,
                    threshold=due.threshold,
                    term_end=due.term_end,
                    recipient=to,
                    subject=mail.subject[:300],
                )
                counts["sent" if _send_once(claim, mail) else "already"] += 1
    return counts


def _send_once(claim: SentMail, mail: Outgoing) -> bool:
    """Claim (commit), send, mark sent. False when it was claimed before; MailError (with
    the claim removed) when the SMTP server fails."""
    db.session.add(claim)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    try:
        deliver(mail)
    except Exception:
        db.session.rollback()
        db.session.execute(delete(SentMail).where(SentMail.id == claim.id))
        db.session.commit()
        raise
    claim.state, claim.sent_at = "sent", utcnow()
    db.session.commit()
    return True


# --- the monthly licence summary ---------------------------------------------------------------


def summary(customer: Customer, month: date, to: str, today: date) -> Outgoing:
    """The monthly licence summary of one customer for one recipient."""
    base = base_url(customer)
    brand = brand_name(customer)
    subs = list(customer.subscriptions)
    lines = reports.product_lines(subs)
    now = datetime.combine(today, time(12), UTC)
    upcoming = [r for r in reports.renewals(subs, now) if r.day <= today + timedelta(days=60)]
    currency = lines[0].currency if lines else "USD"
    context = {
        "brand": brand,
        "logo_url": _logo_url(customer, base),
        "customer": customer,
        "month": month,
        "month_name": format_date(month, "MMMM y", locale=current_app.config["MAIL_LOCALE"]),
        "lines": lines,
        "currency": currency,
        "seats_total": sum(line.seats for line in lines),
        "assigned_total": sum(line.assigned for line in lines),
        "cost_total": sum((line.monthly_cost for line in lines), Decimal(0)),
        "waste_total": sum((line.waste for line in lines), Decimal(0)),
        "upcoming": upcoming,
        "licenses_url": f"{base}/c/{customer.pc_id}/licenses",
        "preferences_url": f"{base}/account/mail",
    }
    text, html = _render("summary", **context)
    subject = f"{brand}: {customer.name}'s licences, {context['month_name']}"
    return Outgoing(to, subject, text, html)


def send_monthly_summaries(month: date, today: date | None = None) -> dict[str, int]:
    """Send the summary of `month` (its first day) to every Admin who asked for it, once."""
    today = today or utcnow().date()
    month = month.replace(day=1)
    counts = {"sent": 0, "already": 0}
    customers = db.session.scalars(
        select(Customer).where(Customer.self_service.is_(True)).order_by(Customer.id)
    )
    for customer in list(customers):
        for to in _admins(customer, "monthly_summary"):
            mail = summary(customer, month, to, today)
            claim = SentMail(
                kind="summary",
                customer_id=customer.id,
                subscription_id=0,
                threshold=0,
                term_end=month,
                recipient=to,
                subject=mail.subject[:300],
            )
            counts["sent" if _send_once(claim, mail) else "already"] += 1
    return counts


# --- the development mailbox (the SMTP sink of `make run`) -------------------------------------


@dataclass(frozen=True)
class CaughtMail:
    """A mail the local SMTP sink caught."""

    key: str
    to: str
    subject: str
    sent: datetime | None
    text: str
    html: str | None


def _sink() -> mailbox.Maildir:
    directory = current_app.config.get("MAIL_SINK_DIR")
    if not directory:
        raise NotFound("mail sink")
    return mailbox.Maildir(Path(directory), create=True)


def caught_mails(actor: User, limit: int = 200) -> list[CaughtMail]:
    """The mails the development sink caught, newest first (partner admins only; NotFound
    when no sink is in use)."""
    _require_partner_admin(actor)
    found = [_caught(key, message) for key, message in _sink().items()]
    found.sort(key=lambda m: m.sent or datetime.min.replace(tzinfo=UTC), reverse=True)
    return found[:limit]


def caught_mail(actor: User, key: str) -> CaughtMail:
    """One caught mail; NotFound for an unknown key."""
    _require_partner_admin(actor)
    box = _sink()
    try:
        return _caught(key, box[key])
    except KeyError:
        raise NotFound("mail") from None


def read_sink(directory: str | Path) -> list[CaughtMail]:
    """Every mail in a sink directory, oldest first (tests and tools)."""
    box = mailbox.Maildir(Path(directory), create=True)
    found = [_caught(key, message) for key, message in box.items()]
    found.sort(key=lambda m: m.sent or datetime.min.replace(tzinfo=UTC))
    return found


def _caught(key: str, message: mailbox.MaildirMessage) -> CaughtMail:
    text, html = "", None
    for part in message.walk():
        kind = part.get_content_type()
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        body = payload.decode(part.get_content_charset() or "utf-8", errors="replace")
        if kind == "text/plain" and not text:
            text = body
        elif kind == "text/html" and html is None:
            html = body
    try:
        sent: datetime | None = parsedate_to_datetime(str(message["Date"]))
    except (TypeError, ValueError):
        sent = None
    return CaughtMail(
        key, str(message["To"] or ""), str(message["Subject"] or ""), sent, text, html
    )


def _require_partner_admin(actor: User) -> None:
    from app.models import StaffRole

    if actor.staff_role is not StaffRole.PARTNER_ADMIN:
        raise NotFound("mails")
