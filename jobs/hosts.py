"""Host-name jobs: look for the DNS TXT record that proves a reseller controls its host."""

from __future__ import annotations

from app.services import resellers
from jobs import app_context


def check_host(reseller_id: int) -> bool:
    """Check the TXT record of the host the reseller asked for; activate it when found."""
    with app_context():
        return resellers.check_host_proof(reseller_id)
