"""The HTTP layer both Microsoft clients share: tokens, retries, request ids, errors.

Retry rules (NOTES.md, Partner Center api-throttling-guidance, headers, error-codes):
- 429: wait `Retry-After` seconds (or back off), then retry.
- 409 on a subscription while its renewal is pending: retry after about two minutes.
- 5xx and timeouts: exponential backoff with jitter.
- Every retry of one logical operation reuses its `MS-RequestId`, which is what makes a
  retried write idempotent at Partner Center; `MS-CorrelationId` is new per call.
- The whole operation is bounded in time; past that a clear error is raised.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx


class TokenStore(Protocol):
    """Where tokens are shared between processes (Redis has this interface)."""

    def get(self, name: str) -> Any: ...

    def set(self, name: str, value: str, ex: int) -> Any: ...

    def delete(self, name: str) -> Any: ...


class MicrosoftError(Exception):
    """Microsoft answered with an error (or did not answer in time)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body = body

    @property
    def description(self) -> str:
        """The human part of the error."""
        return str(self)


class Refused(MicrosoftError):
    """Microsoft refused the request as such (4xx other than retryable ones)."""


class EtagMismatch(MicrosoftError):
    """The object changed since it was read (412 Precondition Failed)."""


class NotFound(MicrosoftError):
    """The object does not exist (404)."""


class GaveUp(MicrosoftError):
    """Retries ran out or the time budget was spent; the last answer is attached."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one logical operation."""

    attempts: int = 8
    total_seconds: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    conflict_delay: float = 120.0  # Partner Center: renewal pending, retry after ~2 minutes
    retry_conflicts: bool = True

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the attempt-th retry."""
        ceiling = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class TokenSource:
    """Client-credentials tokens per tenant, cached until shortly before they expire.

    With a `store` (the app's Redis), tokens are shared by every process: each RQ job runs
    in a fresh work horse, which would otherwise ask Microsoft for a token every job.
    """

    authority: str
    client_id: str
    client_secret: str
    scope: str
    http: httpx.Client
    store: TokenStore | None = None
    _cache: dict[str, tuple[str, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token(self, tenant: str) -> str:
        """A bearer token for `tenant`."""
        with self._lock:
            cached = self._cache.get(tenant)
            if cached and cached[1] > time.monotonic():
                return cached[0]
        shared = self._shared(tenant)
        if shared is not None:
            return shared
        answer = self.http.post(
            f"{self.authority.rstrip('/')}/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": self.scope,
            },
        )
        if answer.status_code != 200:
            raise MicrosoftError(
                f"Could not get a Microsoft token for tenant {tenant} (HTTP {answer.status_code}).",
                status=answer.status_code,
            )
        data = answer.json()
        lifetime = max(float(data.get("expires_in", 3600)) - 60, 30)
        self._keep(tenant, str(data["access_token"]), lifetime)
        if self.store is not None:
            self.store.set(self._key(tenant), str(data["access_token"]), ex=int(lifetime))
        return str(data["access_token"])

    def _keep(self, tenant: str, token: str, lifetime: float) -> None:
        with self._lock:
            self._cache[tenant] = (token, time.monotonic() + lifetime)

    def _shared(self, tenant: str) -> str | None:
        """A token another process fetched (kept locally for the rest of this job)."""
        if self.store is None:
            return None
        value = self.store.get(self._key(tenant))
        if not value:
            return None
        token = value.decode() if isinstance(value, bytes) else str(value)
        self._keep(tenant, token, 30.0)
        return token

    def _key(self, tenant: str) -> str:
        """The store's key: which authority, application, tenant and scope (no secret)."""
        who = "|".join((self.authority.rstrip("/"), self.client_id, tenant.lower(), self.scope))
        return "seatwise:token:" + hashlib.sha256(who.encode()).hexdigest()

    def forget(self, tenant: str) -> None:
        """Drop a cached token (after a 401)."""
        with self._lock:
            self._cache.pop(tenant, None)
        if self.store is not None:
            self.store.delete(self._key(tenant))


@dataclass
class Caller:
    """Sends requests to one Microsoft API with tokens, retries and request ids."""

    base_url: str
    tokens: TokenSource
    tenant: str
    http: httpx.Client
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    error_reader: Callable[[httpx.Response], tuple[str | None, str]] | None = None
    calls: int = 0  # requests sent (a sync shares one client between threads)
    _count_lock: threading.Lock = field(default_factory=threading.Lock)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> httpx.Response:
        """Send one logical operation, retrying as the rules say; return the final answer."""
        request_id = request_id or str(uuid.uuid4())
        url = path if path.startswith("http") else f"{self.base_url.rstrip('/')}{path}"
        started = time.monotonic()
        last: httpx.Response | None = None
        last_error: Exception | None = None
        for attempt in range(self.policy.attempts):
            wait = 0.0
            try:
                answer = self._send(method, url, json, params, headers, request_id)
            except httpx.TimeoutException as error:
                last_error, last = error, None
                wait = self.policy.backoff(attempt)
            except httpx.TransportError as error:
                last_error, last = error, None
                wait = self.policy.backoff(attempt)
            else:
                last = answer
                if answer.status_code == 401 and attempt == 0:
                    self.tokens.forget(self.tenant)
                    continue
                if answer.status_code == 429:
                    wait = _retry_after(answer) or self.policy.backoff(attempt)
                elif answer.status_code == 409 and self.policy.retry_conflicts:
                    wait = _retry_after(answer) or self.policy.conflict_delay
                elif answer.status_code >= 500:
                    wait = _retry_after(answer) or self.policy.backoff(attempt)
                else:
                    return self._raise_for(answer)
            if time.monotonic() - started + wait > self.policy.total_seconds:
                break
            self.sleep(wait)
        if last is not None:
            code, text = self._read_error(last)
            raise GaveUp(
                f"Microsoft kept answering HTTP {last.status_code} ({text}); gave up after "
                f"{time.monotonic() - started:.0f} s. Nothing more was sent; try again later.",
                status=last.status_code,
                code=code,
                body=_json_or_none(last),
            )
        raise GaveUp(
            f"Microsoft did not answer ({type(last_error).__name__}); gave up after "
            f"{time.monotonic() - started:.0f} s. Try again later."
        )

    def _send(
        self,
        method: str,
        url: str,
        json: Any,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        request_id: str,
    ) -> httpx.Response:
        with self._count_lock:
            self.calls += 1
        all_headers = {
            "Authorization": f"Bearer {self.tokens.token(self.tenant)}",
            "Accept": "application/json",
            "MS-RequestId": request_id,
            "MS-CorrelationId": str(uuid.uuid4()),
            "MS-Contract-Version": "v1",
            **(headers or {}),
        }
        return self.http.request(method, url, json=json, params=params, headers=all_headers)

    def _raise_for(self, answer: httpx.Response) -> httpx.Response:
        """Return 2xx/3xx answers; turn the others into typed errors with Microsoft's words."""
        if answer.status_code < 400:
            return answer
        code, text = self._read_error(answer)
        kind: type[MicrosoftError] = Refused
        if answer.status_code == 412:
            kind = EtagMismatch
        elif answer.status_code == 404:
            kind = NotFound
        raise kind(text, status=answer.status_code, code=code, body=_json_or_none(answer))

    def _read_error(self, answer: httpx.Response) -> tuple[str | None, str]:
        if self.error_reader is not None:
            return self.error_reader(answer)
        return None, f"HTTP {answer.status_code}"


def _retry_after(answer: httpx.Response) -> float | None:
    """Seconds from a Retry-After header, when present and numeric."""
    value = answer.headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _json_or_none(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return None


def connect(
    *,
    api_url: str,
    token_authority: str,
    tenant: str,
    client_id: str,
    client_secret: str,
    scope: str,
    http: httpx.Client | None,
    policy: RetryPolicy | None,
    token_store: TokenStore | None,
    error_reader: Callable[[httpx.Response], tuple[str | None, str]],
) -> Caller:
    """A Caller of one Microsoft API for one tenant (with a new HTTP client unless given)."""
    client = http or httpx.Client(timeout=httpx.Timeout(30.0, connect=5.0))
    return Caller(
        base_url=api_url,
        tokens=TokenSource(token_authority, client_id, client_secret, scope, client, token_store),
        tenant=tenant,
        http=client,
        policy=policy or RetryPolicy(),
        error_reader=error_reader,
    )
