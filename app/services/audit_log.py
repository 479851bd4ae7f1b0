"""Reading the audit trail: filters, pages newest first, and a CSV export safe for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import AuditEvent, Customer, StaffRole, User
from app.services import paging

PER_PAGE = 50
CSV_COLUMNS = (
    "when (UTC)",
    "who",
    "customer",
    "customer id",
    "kind",
    "object",
    "before",
    "after",
    "outcome",
    "message",
)
# A spreadsheet runs a cell starting with one of these as a formula (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class AuditFilterError(ValueError):
    """A filter that cannot be applied, with messages a person understands."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(" ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class AuditFilter:
    """What the log is narrowed to; empty values mean 'any'. Dates are inclusive, UTC."""

    customer: str = ""  # a customer's name (part of it) or Partner Center id
    person: str = ""  # part of the actor's email, name or job label
    kind: str = ""
    since: date | None = None
    until: date | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AuditFilter:
        """Read the filter from query-string values; bad dates raise AuditFilterError."""
        errors: list[str] = []
        since = _date(args.get("since", ""), "From", errors)
        until = _date(args.get("until", ""), "To", errors)
        if since and until and since > until:
            errors.append(f"The From date ({since}) is after the To date ({until}).")
        if errors:
            raise AuditFilterError(errors)
        return cls(
            customer=args.get("customer", "").strip()[:200],
            person=args.get("person", "").strip()[:320],
            kind=args.get("kind", "").strip()[:64],
            since=since,
            until=until,
        )

    def as_args(self) -> dict[str, str]:
        """The non-empty values as query-string arguments (paging and export links)."""
        values = {
            "customer": self.customer,
            "person": self.person,
            "kind": self.kind,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {key: value for key, value in values.items() if value}


@dataclass(frozen=True)
class AuditRow:
    """One event as the log shows it."""

    id: int
    at: datetime
    actor: str
    customer_name: str | None
    customer_pc_id: str | None
    kind: str
    object_type: str | None
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    outcome: str
    message: str | None

    @property
    def object_label(self) -> str:
        """The changed object as 'type id'."""
        return " ".join(part for part in (self.object_type, self.object_id) if part)


@dataclass(frozen=True)
class AuditPage:
    """One page of events and where it sits among the others."""

    rows: list[AuditRow]
    total: int
    page: int
    pages: int


def search(user: User, filters: AuditFilter, page: int = 1, per_page: int = PER_PAGE) -> AuditPage:
    """The events `user` may see that match the filter, newest first: one page."""
    query = _query(user, filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    page, pages = paging.bounds(total, page, per_page)
    result = db.session.execute(query.limit(per_page).offset((page - 1) * per_page))
    return AuditPage(
        rows=[_row(event, name, pc_id) for event, name, pc_id in result],
        total=total,
        page=page,
        pages=pages,
    )


def kinds(user: User) -> list[str]:
    """The kinds of event `user` can filter by."""
    query = select(AuditEvent.kind).distinct().order_by(AuditEvent.kind)
    if user.staff_role is not StaffRole.PARTNER_ADMIN:
        query = query.where(AuditEvent.customer_id.in_(_visible_customer_ids(user)))
    return list(db.session.scalars(query))


def export_csv(user: User, filters: AuditFilter) -> Iterator[str]:
    """Every matching event as CSV text, header first, produced a chunk of rows at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_COLUMNS)
    yield take()
    result = db.session.execute(_query(user, filters).execution_options(yield_per=500))
    for count, (event, name, pc_id) in enumerate(result, start=1):
        writer.writerow([safe_cell(value) for value in _csv_values(_row(event, name, pc_id))])
        if count % 500 == 0:
            yield take()
    yield take()


def safe_cell(value: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def _csv_values(row: AuditRow) -> list[str]:
    return [
        row.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        row.actor,
        row.customer_name or "",
        row.customer_pc_id or "",
        row.kind,
        row.object_label,
        _json(row.before),
        _json(row.after),
        row.outcome,
        row.message or "",
    ]


def _json(value: dict[str, Any] | None) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False) if value else ""


def _row(event: AuditEvent, name: str | None, pc_id: str | None) -> AuditRow:
    return AuditRow(
        id=event.id,
        at=event.at,
        actor=event.actor,
        customer_name=name,
        customer_pc_id=pc_id,
        kind=event.kind,
        object_type=event.object_type,
        object_id=event.object_id,
        before=event.before,
        after=event.after,
        outcome=event.outcome,
        message=event.message,
    )


def _visible_customer_ids(user: User) -> Select[int]:
    """The ids of the customers a reseller admin manages (nothing for anyone else)."""
    if user.staff_role is StaffRole.RESELLER_ADMIN and user.reseller_id is not None:
        return select(Customer.id).where(Customer.reseller_id == user.reseller_id)
    return select(Customer.id).where(Customer.id.is_(None))


def _query(user: User, filters: AuditFilter) -> Select[AuditEvent, str, str]:
    """Events `user` may see (partner admin: all; reseller admin: their customers')."""
    query = (
        select(AuditEvent, Customer.name, Customer.pc_id)
        .outerjoin(Customer, Customer.id == AuditEvent.customer_id)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    if user.staff_role is not StaffRole.PARTNER_ADMIN:
        query = query.where(AuditEvent.customer_id.in_(_visible_customer_ids(user)))
    if filters.customer:
        query = query.where(
            (Customer.pc_id == filters.customer)
            | Customer.name.icontains(filters.customer, autoescape=True)
        )
    if filters.person:
        query = query.where(AuditEvent.actor.icontains(filters.person, autoescape=True))
    if filters.kind:
        query = query.where(AuditEvent.kind == filters.kind)
    if filters.since:
        query = query.where(AuditEvent.at >= datetime.combine(filters.since, time(), UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        query = query.where(AuditEvent.at < end)
    return query


def _date(raw: str, label: str, errors: list[str]) -> date | None:
    """A YYYY-MM-DD date, or None when empty; a message in `errors` when it is not a date."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        errors.append(f"{label} must be a date like 2026-01-31, not {text[:40]!r}.")
        return None
    if not 2000 <= value.year <= 2100:
        errors.append(f"{label} must be a date between 2000 and 2100, not {text}.")
        return None
    return value
