"""The emulator's own clock (UTC) and the date arithmetic it needs."""

from __future__ import annotations

import calendar
import re
import threading
from datetime import UTC, date, datetime, timedelta

_RELATIVE = re.compile(r"^([+-])(\d+)([wdhms])$")
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def utc(moment: datetime) -> datetime:
    """Return the moment as an aware UTC datetime (naive means UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 date or date-time (``Z`` allowed) into aware UTC."""
    return utc(datetime.fromisoformat(text.strip()))


def parse_when(value: str, now: datetime) -> datetime:
    """Parse an ISO date-time or a time relative to ``now`` such as ``-3d``, ``+2h``."""
    match = _RELATIVE.match(value.strip())
    if match:
        sign, amount, unit = match.groups()
        delta = timedelta(**{_UNITS[unit]: int(amount)})
        return now - delta if sign == "-" else now + delta
    return parse_iso(value)


def add_months[Moment: (date, datetime)](moment: Moment, months: int) -> Moment:
    """Add calendar months, clamping the day to the end of a shorter month."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def parse_duration(text: str) -> tuple[int, timedelta]:
    """Split an ISO 8601 duration (``P1Y2M3W4DT5H6M7S``) into months and a timedelta."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise ValueError(f"not an ISO 8601 duration: {text!r}")
    years, months, weeks, days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    delta = timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return years * 12 + months, delta


def add_duration(moment: datetime, text: str) -> datetime:
    """Move a moment forward by an ISO 8601 duration."""
    months, delta = parse_duration(text)
    return add_months(moment, months) + delta


def term_months(term: str) -> int:
    """Number of months in a subscription term such as ``P1M``, ``P1Y`` or ``P3Y``."""
    months, delta = parse_duration(term)
    if months < 1 or delta:
        raise ValueError(f"not a term duration: {term!r}")
    return months


def midnight(day: date) -> datetime:
    """00:00 UTC at the start of a day."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def iso(moment: datetime) -> str:
    """Format a moment the way Partner Center does (``2024-05-01T12:00:00Z``)."""
    return utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_day(day: date) -> str:
    """Format a date as Partner Center's midnight date-time."""
    return f"{day.isoformat()}T00:00:00Z"


class Clock:
    """Real UTC time plus an offset, or frozen at a chosen moment; whole seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        """The emulator's current time."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC).replace(microsecond=0) + self._offset

    @property
    def frozen(self) -> bool:
        """Whether the clock stands still."""
        return self._frozen is not None

    def set(self, moment: datetime, frozen: bool = True) -> None:
        """Jump to a moment; frozen there, or running on from it."""
        moment = utc(moment).replace(microsecond=0)
        with self._lock:
            if frozen:
                self._frozen = moment
            else:
                self._frozen = None
                self._offset = moment - datetime.now(UTC).replace(microsecond=0)

    def advance(self, duration: str) -> None:
        """Move the clock forward by an ISO 8601 duration, keeping it frozen or running."""
        target = add_duration(self.now(), duration)
        self.set(target, frozen=self.frozen)

    def real(self) -> None:
        """Go back to real time."""
        with self._lock:
            self._frozen = None
            self._offset = timedelta(0)
