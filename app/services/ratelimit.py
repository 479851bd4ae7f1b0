"""Rate limits: fixed-window counters in Redis (INCR + EXPIRE), shared by every web worker.

A limit is "N requests per S seconds" for one key (a person, or a remote address, per kind
of request). Each request adds one to the key's counter of the current window; past N it is
refused until the window ends. Redis being down must not take the portal down with it: the
request is let through and the failure logged.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
_LIMIT = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*s?\s*$")


@dataclass(frozen=True)
class Limit:
    """At most `count` requests per `seconds`."""

    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """Read a limit written as "N/S" (N requests per S seconds), e.g. "600/60"."""
        match = _LIMIT.match(text)
        if not match or int(match.group(2)) < 1:
            raise ValueError(f"A rate limit looks like 600/60 (requests/seconds), not {text!r}.")
        return cls(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Refused:
    """Over the limit: wait `retry_after` seconds (the end of the window)."""

    retry_after: int


def hit(redis: Redis, key: str, limit: Limit, now: float) -> Refused | None:
    """Count one request of `key` against `limit` at time `now`; Refused when over it."""
    window = int(now // limit.seconds)
    counter = f"seatwise:ratelimit:{key}:{window}"
    try:
        pipe = redis.pipeline()
        pipe.incr(counter)
        pipe.expire(counter, limit.seconds + 1)
        count = int(pipe.execute()[0])
    except RedisError as error:
        log.warning("rate limit not checked (Redis unavailable): %s", error)
        return None
    if count <= limit.count:
        return None
    return Refused(retry_after=max(1, math.ceil((window + 1) * limit.seconds - now)))


def check(redis: Redis, keyed: list[tuple[str, Limit]], now: float) -> Refused | None:
    """Count the request under each (key, limit); the longest wait if any is over."""
    refusals = [r for key, limit in keyed if (r := hit(redis, key, limit, now)) is not None]
    return max(refusals, key=lambda r: r.retry_after) if refusals else None
