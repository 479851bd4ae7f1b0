"""Building the Microsoft clients from the app's configuration."""

from __future__ import annotations

import ssl
from functools import cache

import httpx
from flask import current_app

from app.queue import get_redis
from app.services.microsoft.graph import GraphClient
from app.services.microsoft.http import RetryPolicy
from app.services.microsoft.partner_center import PartnerCenterClient


def _policy() -> RetryPolicy:
    config = current_app.config
    return RetryPolicy(
        total_seconds=config["MICROSOFT_RETRY_SECONDS"],
        conflict_delay=config["MICROSOFT_CONFLICT_DELAY"],
    )


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of this process (the one httpx would build).

    Building one reads the whole CA bundle (~20 ms); a worker builds it before it forks,
    so its jobs do not.
    """
    return httpx.create_ssl_context()


def _http() -> httpx.Client:
    timeout = current_app.config["MICROSOFT_TIMEOUT"]
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)), verify=tls_context()
    )


def partner_center() -> PartnerCenterClient:
    """A Partner Center client for the partner tenant of this app."""
    config = current_app.config
    return PartnerCenterClient(
        base_url=config["PARTNER_CENTER_URL"],
        graph_url=config["GRAPH_URL"],
        token_authority=config["TOKEN_AUTHORITY"],
        partner_tenant=config["PARTNER_TENANT_ID"],
        client_id=config["MICROSOFT_CLIENT_ID"],
        client_secret=config["MICROSOFT_CLIENT_SECRET"],
        http=_http(),
        policy=_policy(),
        token_store=get_redis(),
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
        token_store=get_redis(),
    )


def warm_up() -> None:
    """What every job would otherwise pay for again in its forked work horse.

    Called by `flask worker` before it starts forking: the TLS context, httpx's transport
    modules (imported lazily at the first client) and one client to import the rest.
    """
    _http().close()
