"""Per-customer locks in Redis: two workers never work on one customer at the same time."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from redis.exceptions import LockError
from redis.lock import Lock

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
    customer_pc_id: str,
    *,
    timeout: float = 3600,
    wait: float = 5,
    holder: str = "worker",
    renew: bool = False,
) -> Iterator[None]:
    """Hold the customer's lock for the block (released even on errors; expires by itself).
    `holder` names who holds it, so a holder known to be dead can be broken. With `renew`,
    a short `timeout` is renewed every third of it while the block runs: a holder killed
    mid-block frees the customer within `timeout`, not after the longest job could last."""
    from app.queue import get_redis

    lock = get_redis().lock(
        _key(customer_pc_id),
        timeout=timeout,
        blocking_timeout=wait,
        thread_local=False,  # the keeper thread renews the token this thread acquired
    )
    if not lock.acquire(token=f"{holder}:{uuid.uuid4().hex}"):
        raise Busy(f"Another worker is working on customer {customer_pc_id}; try again later.")
    stop = threading.Event()
    keeper = threading.Thread(target=_keep, args=(lock, timeout / 3, stop), daemon=True)
    if renew:
        keeper.start()
    try:
        yield
    finally:
        stop.set()
        if renew:
            keeper.join()
        with suppress(LockError):  # it expired meanwhile: nothing left to release
            lock.release()


def _keep(lock: Lock, every: float, stop: threading.Event) -> None:
    """Renew the lock's time to live until told to stop (or it is lost)."""
    while not stop.wait(every):
        try:
            lock.reacquire()
        except LockError:
            return


def break_lock(customer_pc_id: str, holder: str) -> bool:
    """Free the customer's lock if `holder` has it (a worker killed mid-job keeps it until it
    expires); True when it was freed."""
    from app.queue import get_redis

    return bool(get_redis().eval(_BREAK, 1, _key(customer_pc_id), f"{holder}:"))
