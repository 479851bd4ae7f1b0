"""E-mail: who wants which mails, and which reminders and summaries went out (docs/email.md)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models._types import UTCDateTime, utcnow


class MailPreference(db.Model):  # type: ignore[name-defined,misc]
    """What one e-mail address wants: renewal reminders (on unless turned off) and the
    monthly licence summary (off unless turned on). No row = the defaults."""

    __tablename__ = "mail_preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    reminders: Mapped[bool] = mapped_column(default=True)
    monthly_summary: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SentMail(db.Model):  # type: ignore[name-defined,misc]
    """One reminder (subscription, threshold, term end) or summary (customer, month) to one
    recipient, claimed before it is sent: the unique key means it is never sent twice.

    state: "sending" (claimed, the SMTP server has not yet accepted it — or the worker died
    between sending and recording) or "sent".
    """

    __tablename__ = "sent_mail"
    __table_args__ = (
        UniqueConstraint(
            "kind", "customer_id", "subscription_id", "threshold", "term_end", "recipient"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # "reminder" | "summary"
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    # Reminders: the subscription, the threshold in days and the term end it is about.
    # Summaries: 0, 0 and the first day of the month (NULLs would not be unique in SQL).
    # No foreign key on the subscription: the record outlives it.
    subscription_id: Mapped[int] = mapped_column(default=0)
    threshold: Mapped[int] = mapped_column(default=0)
    term_end: Mapped[date] = mapped_column(Date)
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[str] = mapped_column(String(10), default="sending")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
