"""Azure usage job: the daily import of every Azure-synced customer's usage."""

from __future__ import annotations

from typing import Any

from app.services import azure_usage
from jobs import app_context


def import_azure_usage() -> dict[str, Any]:
    """Import last month's and this month's unbilled Azure usage (safe to run twice: a
    month imported again replaces its rows)."""
    with app_context():
        return azure_usage.import_usage().as_dict()
