"""Mail jobs: the invitation, the daily reminders and the monthly summaries (docs/email.md).

Each is safe to run again: reminders and summaries are recorded per recipient before they
are sent, so a retry after an SMTP failure sends only what was not sent.
"""

from __future__ import annotations

from datetime import date

from app.services import mail
from jobs import app_context


def send_invitation(membership_id: int) -> bool:
    """Mail the invitation of a membership (False when it was revoked meanwhile)."""
    with app_context():
        return mail.send_invitation(membership_id)


def send_reminders(day: str) -> dict[str, int]:
    """Send the renewal and end-of-term reminders due on `day` (ISO date)."""
    with app_context():
        return mail.send_reminders(date.fromisoformat(day))


def send_monthly_summaries(month: str) -> dict[str, int]:
    """Send the licence summary of `month` (YYYY-MM) to the Admins who asked for it."""
    with app_context():
        return mail.send_monthly_summaries(date.fromisoformat(f"{month}-01"))
