"""A deliberately configurable OpenID provider, to prove sign-in refuses bad tokens.

The local provider (oidc-provider-mock) always issues correct tokens; this one issues
whatever a test asks for: a wrong issuer, audience or nonce, an Entra-style issuer
template, any claims. It signs with its own RSA key, served from its JWKS endpoint.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.support.processes import serve_in_thread


@dataclass
class Behaviour:
    """What the next tokens look like; tests change these fields."""

    claims: dict[str, Any] = field(default_factory=dict)
    issuer: str | None = None  # None: the right one for the token's tenant
    audience: str | None = None  # None: the client id that asked
    nonce: str | None = None  # None: the nonce of the request
    issuer_template: bool = True  # discovery issuer with {tenantid}, as Entra publishes


@dataclass
class RogueIdp:
    """The running provider: its URL and the behaviour of its next tokens."""

    url: str
    behaviour: Behaviour


@contextmanager
def rogue_idp() -> Iterator[RogueIdp]:
    """Serve the provider on a free port for the block."""
    key = RSAKey.generate_key(2048, parameters={"kid": "rogue-1", "use": "sig", "alg": "RS256"})
    behaviour = Behaviour()
    codes: dict[str, dict[str, str]] = {}
    app = Flask("rogue_idp")
    base = {"url": ""}

    def discovery_issuer() -> str:
        return f"{base['url']}/{{tenantid}}/v2.0" if behaviour.issuer_template else base["url"]

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Any:
        return jsonify(
            issuer=discovery_issuer(),
            authorization_endpoint=f"{base['url']}/authorize",
            token_endpoint=f"{base['url']}/token",
            jwks_uri=f"{base['url']}/keys",
            response_types_supported=["code"],
            subject_types_supported=["pairwise"],
            id_token_signing_alg_values_supported=["RS256"],
        )

    @app.get("/keys")
    def keys() -> Any:
        return jsonify(KeySet([key]).as_dict(private=False))

    @app.get("/authorize")
    def authorize() -> Any:
        code = secrets.token_urlsafe(16)
        codes[code] = {
            "nonce": request.args.get("nonce", ""),
            "client_id": request.args["client_id"],
        }
        query = urlencode({"code": code, "state": request.args["state"]})
        return redirect(f"{request.args['redirect_uri']}?{query}")

    @app.post("/token")
    def token() -> Any:
        grant = codes.pop(request.form["code"])
        claims = {
            "tid": "11111111-2222-3333-4444-555555555555",
            "oid": "rogue-oid",
            "sub": "rogue-sub",
            "name": "Rogue",
            **behaviour.claims,
        }
        tid = str(claims.get("tid", ""))
        now = int(time.time())
        claims.update(
            iss=behaviour.issuer or discovery_issuer().replace("{tenantid}", tid),
            aud=behaviour.audience or grant["client_id"],
            nonce=behaviour.nonce or grant["nonce"],
            iat=now,
            nbf=now,
            exp=now + 600,
        )
        id_token = jwt.encode({"alg": "RS256", "kid": "rogue-1"}, claims, key)
        return jsonify(
            access_token=secrets.token_urlsafe(16),
            token_type="Bearer",
            expires_in=600,
            id_token=id_token,
        )

    with serve_in_thread(app) as url:
        base["url"] = url
        yield RogueIdp(url=url, behaviour=behaviour)
