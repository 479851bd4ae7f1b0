"""Per-customer locks in Redis: two workers never work on one customer at the same time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

# Delete the lock only while a holder whose token starts with ARGV[1] has it.
_BREAK = """
local held = redis.call('get', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class Busy(Exception):
    """Another worker holds the customer's lock."""


def _key(customer_pc_id: str) -> str:
    return f"seatwise:lock:customer:{customer_pc_id}"


@contextmanager
def customer_lock(
    customer_pc_id: str, *, timeout: int = 3600, wait: float = 5, holder: str = "worker"
) -> Iterator[None]:
    """Hold the customer's lock for the block (released even on errors; expires by itself).
    `holder` names who holds it, so a holder known to be dead can be broken."""
    from app.queue import get_redis

    lock = get_redis().lock(_key(customer_pc_id), timeout=timeout, blocking_timeout=wait)
    if not lock.acquire(token=f"{holder}:{uuid.uuid4().hex}"):
        raise Busy(f"Another worker is working on customer {customer_pc_id}; try again later.")
    try:
        yield
    finally:
        lock.release()


def break_lock(customer_pc_id: str, holder: str) -> bool:
    """Free the customer's lock if `holder` has it (a worker killed mid-job keeps it until it
    expires); True when it was freed."""
    from app.queue import get_redis

    return bool(get_redis().eval(_BREAK, 1, _key(customer_pc_id), f"{holder}:"))
