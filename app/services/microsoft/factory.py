"""Building the Microsoft clients from the app's configuration."""

from __future__ import annotations

import httpx
from flask import current_app

from app.services.microsoft.graph import GraphClient
from app.services.microsoft.http import RetryPolicy
from app.services.microsoft.partner_center import PartnerCenterClient


def _policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(
        total_seconds=config["MICROSOFT_RETRY_SECONDS"],
        conflict_delay=config["MICROSOFT_CONFLICT_DELAY"],
    )


def _http() -> httpx.Client:
    timeout = current_app.config["MICROSOFT_TIMEOUT"]
    return httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)))


def partner_center() -> PartnerCenterClient:
    """A Partner Center client for the partner tenant of this app."""
    config = current_app.config
    return PartnerCenterClient(
        base_url=config["PARTNER_CENTER_URL"],
        token_authority=config["TOKEN_AUTHORITY"],
        partner_tenant=config["PARTNER_TENANT_ID"],
        client_id=config["MICROSOFT_CLIENT_ID"],
        client_secret=config["MICROSOFT_CLIENT_SECRET"],
        http=_http(),
        policy=_policy(),
    )


def graph(tenant_id: str) -> GraphClient:
    """A Graph client for one customer tenant."""
    config = current_app.config
    return GraphClient(
        base_url=config["GRAPH_URL"],
        token_authority=config["TOKEN_AUTHORITY"],
        tenant_id=tenant_id,
        client_id=config["MICROSOFT_CLIENT_ID"],
        client_secret=config["MICROSOFT_CLIENT_SECRET"],
        http=_http(),
        policy=_policy(),
    )
