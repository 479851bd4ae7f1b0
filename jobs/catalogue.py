"""Catalogue job: refresh the cached Partner Center catalogue (prices per term and billing)."""

from __future__ import annotations

from typing import Any

from app.services import catalogue
from jobs import app_context


def refresh_catalogue() -> dict[str, Any]:
    """Read the catalogue from Partner Center into the database; what it found."""
    with app_context():
        report = catalogue.refresh()
        return {"items": report.items, "added": report.added, "removed": report.removed}
