"""What every API request passes through: faults, tokens, throttling, replays and the log."""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from emulator import errors
from emulator.clock import iso
from emulator.context import Emulator, current
from emulator.errors import ApiError, graph_body, pc_body
from emulator.traffic import FaultRule

PARTNER_BILLING = "/v1.0/reports/partners/billing"  # the partner's own data: its tenant's token
MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_FAULT_CODES = {409: errors.NOT_READY, 429: errors.TOO_MANY_REQUESTS, 500: errors.SERVER_ERROR}
_FAULT_TEXT = {
    400: "The request is invalid.",
    403: "The partner is not authorized to perform this operation.",
    409: "Subscription is not ready to be updated. Retry later.",
    429: "Too many requests.",
    500: "An internal error occurred.",
}


def register(app: Flask) -> None:
    """Install the hooks and error handlers on the app."""
    app.before_request(before_api)
    app.after_request(after_api)
    app.teardown_request(release_lock)
    app.register_error_handler(ApiError, on_api_error)
    app.register_error_handler(HTTPException, on_http_error)


def api_kind(path: str) -> str | None:
    """``graph`` for /v1.0 and /beta, ``pc`` for /v1, None for admin and token routes."""
    if path == "/v1.0" or path.startswith(("/v1.0/", "/beta/")):
        return "graph"
    if path.startswith("/v1/"):
        return "pc"
    return None


def error_response(
    kind: str,
    status: int,
    code: int,
    description: str,
    headers: dict[str, str] | None = None,
    graph_code: str | None = None,
) -> Response:
    """A Partner Center or Graph error response."""
    body = (
        graph_body(status, description, graph_code, _inner_error())
        if kind == "graph"
        else pc_body(code, description)
    )
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def fault_response(rule: FaultRule, kind: str, timeout_seconds: float) -> Response:
    """The answer of an injected fault (a timeout sleeps first, then answers 504)."""
    if rule.status == "timeout":
        time.sleep(rule.delay if rule.delay is not None else timeout_seconds)
        return error_response(kind, 504, errors.GATEWAY_TIMEOUT, "The request timed out.")
    status = int(rule.status)
    retry_after = (
        rule.retry_after if rule.retry_after is not None else (1 if status == 429 else None)
    )
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    code = _FAULT_CODES.get(status, 800000 + status)
    return error_response(kind, status, code, _FAULT_TEXT.get(status, "Injected fault."), headers)


def _graph_request_id() -> str:
    """Graph's ``request-id`` of this request (one per request, in the error body and header)."""
    if "graph_request_id" not in g:
        g.graph_request_id = str(uuid.uuid4())
    return str(g.graph_request_id)


def _client_request_id() -> str:
    """The caller's ``client-request-id``, else (as Graph does) the request-id."""
    return request.headers.get("client-request-id") or _graph_request_id()


def _inner_error() -> dict[str, Any]:
    """A Graph error's innerError: when, and which request (ours and the client's id)."""
    return {
        "date": iso(current().store.now()).removesuffix("Z"),
        "request-id": _graph_request_id(),
        "client-request-id": _client_request_id(),
    }


def _request_id() -> str | None:
    return request.headers.get("MS-RequestId") or request.headers.get("client-request-id")


def _replay_key() -> tuple[str, str, str] | None:
    request_id = _request_id()
    if request.method not in MUTATING or not request_id:
        return None
    return (request.method, request.path, request_id)


def _authenticate(emulator: Emulator, kind: str) -> str:
    """The tenant of the bearer token; 401 without a token the emulator issued."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    tenant = emulator.tokens.tenant_of(token.strip()) if scheme.lower() == "bearer" else None
    if tenant is None:
        message = "The bearer token is missing, unknown or expired."
        if kind == "graph":
            message = (
                "Access token is empty."
                if not token.strip()
                else "Access token validation failure: the token is unknown or expired."
            )
        raise ApiError(
            401,
            errors.UNAUTHORIZED,
            message,
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if kind == "graph" and not request.path.startswith(PARTNER_BILLING):
        customer = emulator.store.customer_by_tenant(tenant)
        if customer is None:
            raise ApiError(
                403,
                errors.UNAUTHORIZED,
                "Insufficient privileges to complete the operation: "
                f"tenant {tenant} is not a customer tenant of this emulator.",
            )
        g.customer = customer
    return tenant


def _throttle_key(emulator: Emulator, kind: str, tenant: str) -> str:
    """Throttling counts per customer tenant, as Partner Center does."""
    if kind == "graph":
        return tenant.lower()
    parts = request.path.split("/")
    if len(parts) > 3 and parts[2] == "customers":
        customer = emulator.store.customers.get(parts[3])
        return customer.tenant_id.lower() if customer else parts[3]
    return "partner"


def before_api() -> Response | None:
    """Faults, then (under the state lock) due renewals, token, throttle and replay."""
    kind = api_kind(request.path)
    if kind is None:
        return None
    emulator = current()
    g.kind = kind
    g.rule = emulator.faults.match(request.method, request.path)
    if g.rule is not None and not g.rule.applied:
        return fault_response(g.rule, kind, emulator.timeout_seconds)
    emulator.store.lock.acquire()
    g.locked = True
    emulator.store.process_due()
    tenant = _authenticate(emulator, kind)
    wait = emulator.throttle.admit(_throttle_key(emulator, kind, tenant))
    if wait is not None:
        raise ApiError(
            429, errors.TOO_MANY_REQUESTS, "Too many requests.", {"Retry-After": str(wait)}
        )
    key = _replay_key()
    if key is not None and key in emulator.store.replays:
        status, data, mimetype = emulator.store.replays[key]
        g.replayed = True
        return Response(data, status=status, mimetype=mimetype)
    g.handled = True
    return None


def after_api(response: Response) -> Response:
    """Keep the answer for replays, log the request, release the lock, apply a late fault."""
    kind = g.get("kind")
    if kind is None:
        return response
    emulator = current()
    key = _replay_key()
    if g.get("handled") and key is not None and response.status_code < 500:
        emulator.store.replays[key] = (
            response.status_code,
            response.get_data(),
            response.mimetype or "application/json",
        )
    rule: FaultRule | None = g.get("rule")
    late = rule is not None and rule.applied
    status = response.status_code
    if late and rule is not None:
        status = 504 if rule.status == "timeout" else int(rule.status)
    entry: dict[str, Any] = {
        "method": request.method,
        "path": request.path,
        "status": status,
        "request_id": _request_id(),
        "at": iso(emulator.store.now()),
        "replayed": bool(g.get("replayed")),
        "fault": rule is not None,
    }
    emulator.log.add(entry)
    release_lock(None)
    if late and rule is not None:
        response = fault_response(rule, kind, emulator.timeout_seconds)
    response.headers["MS-RequestId"] = _request_id() or str(uuid.uuid4())
    if kind == "graph":
        response.headers["request-id"] = _graph_request_id()
        response.headers["client-request-id"] = _client_request_id()
    response.headers["MS-CorrelationId"] = request.headers.get("MS-CorrelationId") or str(
        uuid.uuid4()
    )
    return response


def release_lock(_: BaseException | None) -> None:
    """Release the state lock if this request holds it."""
    if g.get("locked"):
        g.locked = False
        current().store.lock.release()


def on_api_error(error: ApiError) -> Response:
    """Answer an ApiError in the caller's dialect."""
    kind = api_kind(request.path) or "pc"
    return error_response(
        kind, error.status, error.code, error.description, error.headers, error.graph_code
    )


def on_http_error(error: HTTPException) -> Response:
    """Unknown routes and methods answer JSON too."""
    status = error.code or 500
    kind = api_kind(request.path)
    if kind is None:
        response = jsonify({"error": error.description})
        response.status_code = status
        return response
    return error_response(kind, status, 800000 + status, error.description or error.name)
