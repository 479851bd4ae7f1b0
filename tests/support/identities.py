"""Claims of the demo people, as the local provider issues them."""

from __future__ import annotations

from typing import Any

from app.services.demo import IDENTITIES, provider_claims


def demo_claims(sub: str) -> dict[str, Any]:
    """The provider claims of the demo identity `sub`."""
    identity = next(i for i in IDENTITIES if i["sub"] == sub)
    return provider_claims(identity)
