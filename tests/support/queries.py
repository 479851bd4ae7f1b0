"""Counting the SQL statements a request runs (bounded-query tests)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from app.extensions import db


def statements_of_get(app: Flask, client: FlaskClient, url: str) -> int:
    """GET `url` (it must answer 200) and return how many SQL statements it ran."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200, url
    return len(seen)
