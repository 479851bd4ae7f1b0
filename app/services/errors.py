"""The one not-found exception services raise; the web layer maps it to 404 once."""

from __future__ import annotations


class NotFound(LookupError):
    """What was asked for does not exist, or not for this company (never say which)."""
