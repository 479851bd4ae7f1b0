"""gunicorn's production settings for Seatwise (`gunicorn wsgi:app` reads this file).

Command-line options override these; the environment can set WEB_CONCURRENCY (workers),
GUNICORN_THREADS and PORT.
"""

from __future__ import annotations

import gc
import os
from typing import Any

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", str(max((os.cpu_count() or 1), 2))))
worker_class = "gthread"
# Threads need Python 3.12 or newer: CPython 3.11.7 corrupts memory when a collection runs
# while another thread reads an object's __dict__ (docs/known-defects.md).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Keep-alive connections stay with the worker that accepted them; without a bound, one worker
# can take every connection of a burst and leave the other core idle (bench/BENCHMARKS.md).
# With at most 3 x threads connections (2 x threads kept alive) a worker stops accepting and
# closes surplus keep-alives, so clients spread over the workers.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", str(3 * threads)))
# Load the app once in the master, then fork: workers share its memory and start warm.
preload_app = True
# Ask the proxy's forwarded headers only of the local proxy (the default).
forwarded_allow_ips = "127.0.0.1"


def pre_fork(server: Any, worker: Any) -> None:
    """Move everything loaded so far out of the garbage collector's sight.

    A rendered license page of 300 rows allocates enough objects to start several full
    collections, each of which walked every object of the loaded app (~20 % of the page's
    CPU, bench/BENCHMARKS.md). Frozen objects are never scanned, and their memory pages
    stay shared with the master instead of being copied when the collector touches them.
    """
    gc.freeze()


def post_fork(server: Any, worker: Any) -> None:
    """Each worker opens its own database connections (none may cross the fork)."""
    from app.extensions import db
    from wsgi import app

    with app.app_context():
        db.engine.dispose(close=False)
