"""The token endpoint (client credentials, refresh token) and the tokens it has issued."""

from __future__ import annotations

import secrets
import threading
import time
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from emulator.context import current

TOKEN_LIFETIME = 3600

bp = Blueprint("tokens", __name__)


class Tokens:
    """Bearer and refresh tokens, each bound to the tenant it was issued for."""

    def __init__(self, lifetime: int = TOKEN_LIFETIME) -> None:
        self._lock = threading.Lock()
        self.lifetime = lifetime
        self._access: dict[str, tuple[str, float]] = {}
        self._refresh: dict[str, str] = {}

    def issue(self, tenant: str) -> dict[str, Any]:
        """A new token response for a tenant."""
        access, refresh = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._lock:
            self._access[access] = (tenant, time.monotonic() + self.lifetime)
            self._refresh[refresh] = tenant
        return {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "refresh_token": refresh,
        }

    def tenant_of(self, access: str) -> str | None:
        """The tenant of a valid (issued, unexpired) bearer token."""
        with self._lock:
            found = self._access.get(access)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def redeem(self, refresh: str) -> str | None:
        """The tenant of a refresh token this endpoint issued."""
        with self._lock:
            return self._refresh.get(refresh)


def _oauth_error(error: str, description: str) -> ResponseReturnValue:
    return jsonify({"error": error, "error_description": description}), 400


@bp.post("/<tenant>/oauth2/v2.0/token")
def token(tenant: str) -> ResponseReturnValue:
    """Issue a bearer token for the tenant in the path."""
    tokens = current().tokens
    grant = request.form.get("grant_type", "")
    if grant == "client_credentials":
        return jsonify(tokens.issue(tenant))
    if grant == "refresh_token":
        owner = tokens.redeem(request.form.get("refresh_token", ""))
        if owner is None or owner.lower() != tenant.lower():
            return _oauth_error("invalid_grant", "The refresh token was not issued here.")
        return jsonify(tokens.issue(tenant))
    return _oauth_error("unsupported_grant_type", f"grant_type {grant!r} is not supported.")
