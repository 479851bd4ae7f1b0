"""Traffic control: injected faults, per-tenant throttling and the request log."""

from __future__ import annotations

import math
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

FAULT_STATUSES = (400, 403, 409, 429, 500, 502, 503, 504, "timeout")


@dataclass
class FaultRule:
    """A fault answered to matching requests until ``times`` runs out (None = always)."""

    method: str | None
    path: re.Pattern[str]
    status: int | str
    times: int | None
    retry_after: int | None
    delay: float | None
    applied: bool

    @classmethod
    def parse(cls, raw: Any) -> FaultRule:
        """Build a rule from admin JSON; ValueError when malformed."""
        if not isinstance(raw, dict):
            raise ValueError("a fault rule must be an object")
        status = raw.get("status")
        if status not in FAULT_STATUSES:
            raise ValueError(f"status must be one of {FAULT_STATUSES}")
        times = raw.get("times")
        if times is not None and (not isinstance(times, int) or times < 0):
            raise ValueError("times must be a non-negative integer")
        try:
            pattern = re.compile(str(raw.get("path", "")))
        except re.error as exc:
            raise ValueError(f"path is not a regular expression: {exc}") from exc
        method = raw.get("method")
        return cls(
            method=str(method).upper() if method else None,
            path=pattern,
            status=status,
            times=times,
            retry_after=raw.get("retry_after"),
            delay=raw.get("delay"),
            applied=bool(raw.get("applied", status == "timeout")),
        )

    def describe(self) -> dict[str, Any]:
        """The rule as admin JSON, with the times left."""
        return {
            "method": self.method,
            "path": self.path.pattern,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "applied": self.applied,
        }


class Faults:
    """The fault rules; the first matching rule with times left fires."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, rules: list[FaultRule]) -> None:
        """Add rules after the existing ones."""
        with self._lock:
            self._rules.extend(rules)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    def match(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, using up one of its times."""
        with self._lock:
            for rule in self._rules:
                if rule.method not in (None, method.upper()) or not rule.path.search(path):
                    continue
                if rule.times is None:
                    return rule
                if rule.times > 0:
                    rule.times -= 1
                    return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        """All rules as admin JSON."""
        with self._lock:
            return [rule.describe() for rule in self._rules]


class Throttle:
    """At most ``per_minute`` requests per tenant in any sliding minute of the emulator's
    clock (real time unless a test moves the clock, as the request log's times do)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self.per_minute: int | None = None
        self._hits: dict[str, deque[float]] = {}

    def configure(self, per_minute: int | None) -> None:
        """Set or lift the limit."""
        with self._lock:
            self.per_minute = per_minute
            self._hits.clear()

    def admit(self, key: str) -> int | None:
        """Count a request; return None when admitted, else the seconds to wait."""
        with self._lock:
            if self.per_minute is None:
                return None
            now = self._now().timestamp()
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(1, math.ceil(60 - (now - hits[0]))) if hits else 60
            hits.append(now)
            return None


class RequestLog:
    """Every API request: method, path, status, request id, time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> None:
        """Append one entry."""
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        """Forget the log."""
        with self._lock:
            self._entries.clear()

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the log."""
        with self._lock:
            return list(self._entries)
