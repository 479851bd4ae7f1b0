"""Per-customer locks in Redis: two workers never work on one customer at the same time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class Busy(Exception):
    """Another worker holds the customer's lock."""


@contextmanager
def customer_lock(customer_pc_id: str, *, timeout: int = 3600, wait: float = 5) -> Iterator[None]:
    """Hold the customer's lock for the block (released even on errors; expires by itself)."""
    from app.queue import get_redis

    lock = get_redis().lock(
        f"seatwise:lock:customer:{customer_pc_id}", timeout=timeout, blocking_timeout=wait
    )
    if not lock.acquire():
        raise Busy(f"Another worker is working on customer {customer_pc_id}; try again later.")
    try:
        yield
    finally:
        lock.release()
