"""Configuration: one Config class read from environment variables."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any


def _flag(name: str, default: bool = False) -> bool:
    """Read a boolean environment variable (1/true/yes/on)."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path, may_generate: bool) -> str | None:
    """SECRET_KEY from the environment; in development, else one generated once and kept in
    the instance folder; otherwise None (create_app then refuses to start)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if not may_generate:
        return None
    path = instance_path / "secret_key"
    if not path.exists():
        instance_path.mkdir(parents=True, exist_ok=True)
        _write_private_once(path, secrets.token_hex(32))
    return path.read_text().strip()


def _write_private_once(path: Path, text: str) -> None:
    """Create `path` holding `text`, readable by its owner only from its first byte on.

    The key is written to a private temporary file (created 0600 with O_EXCL, so nobody
    else can open it), then linked into place: another process that starts at the same
    time either wins the link or reads the winner's complete file, never a partial one.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


class Config:
    """Settings of one running Seatwise; every value can come from the environment."""

    def __init__(self, instance_path: Path) -> None:
        env = os.environ.get
        self.SEATWISE_DEMO = _flag("SEATWISE_DEMO")
        self.DEVELOPMENT = _flag("SEATWISE_DEVELOPMENT", default=self.SEATWISE_DEMO)
        self.SECRET_KEY = _secret_key(instance_path, may_generate=self.DEVELOPMENT)
        self.SQLALCHEMY_DATABASE_URI = env(
            "DATABASE_URL", f"sqlite:///{instance_path / 'seatwise.db'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True}
        # Unset means: start (or join) an embedded redis-server kept in the instance folder.
        self.REDIS_URL = env("REDIS_URL")
        self.REDIS_EMBEDDED_PATH = str(instance_path / "redis.db")
        self.RQ_QUEUE = env("RQ_QUEUE", "seatwise")

        # The partner's own host names (comma-separated): no reseller may claim one as its
        # white-label address. SERVER_NAME and the host a request came to count as well.
        self.PROVIDER_HOSTS = [
            h.strip().lower() for h in env("PROVIDER_HOSTS", "").split(",") if h.strip()
        ]

        # A reseller's host name becomes active only once proven: "approval" (the provider
        # approves it in the console) or "dns" (a job finds the TXT record
        # _seatwise-challenge.<host>); name servers for that look-up as "address[#port]",
        # comma-separated (empty: the system's).
        self.HOST_PROOF = env("HOST_PROOF", "approval").strip().lower()
        self.HOST_PROOF_NAMESERVERS = [
            s.strip() for s in env("HOST_PROOF_NAMESERVERS", "").split(",") if s.strip()
        ]
        # Reverse proxies in front of Seatwise whose X-Forwarded-For/-Proto/-Host are trusted
        # (Werkzeug's ProxyFix); 0 = none: the Host header the client sent is used as is, and
        # X-Forwarded-Host is ignored.
        self.TRUSTED_PROXY_COUNT = int(env("TRUSTED_PROXY_COUNT", "0"))

        # Sign-in (Microsoft Entra ID in production, the local provider in development).
        self.OIDC_AUTHORITY = env(
            "OIDC_AUTHORITY", "https://login.microsoftonline.com/organizations/v2.0"
        )
        self.OIDC_CLIENT_ID = env("OIDC_CLIENT_ID", "seatwise-local")
        self.OIDC_CLIENT_SECRET = env("OIDC_CLIENT_SECRET", "seatwise-local-secret")
        self.OIDC_ALLOWED_TENANTS = [
            t.strip() for t in env("OIDC_ALLOWED_TENANTS", "").split(",") if t.strip()
        ]

        # Microsoft APIs (the local emulator in development).
        self.PARTNER_CENTER_URL = env(
            "PARTNER_CENTER_URL", "https://api.partnercenter.microsoft.com"
        )
        self.GRAPH_URL = env("GRAPH_URL", "https://graph.microsoft.com")
        self.TOKEN_AUTHORITY = env("TOKEN_AUTHORITY", "https://login.microsoftonline.com")
        # The partner's app registration for Partner Center and Graph (app-only tokens).
        self.PARTNER_TENANT_ID = env("PARTNER_TENANT_ID", "00000000-0000-4000-8000-0000000000aa")
        self.MICROSOFT_CLIENT_ID = env("MICROSOFT_CLIENT_ID", "seatwise-local")
        self.MICROSOFT_CLIENT_SECRET = env("MICROSOFT_CLIENT_SECRET", "seatwise-local-secret")
        # Retrying Microsoft: total time per operation, and the wait on a renewal-pending 409.
        self.MICROSOFT_RETRY_SECONDS = float(env("MICROSOFT_RETRY_SECONDS", "300"))
        self.MICROSOFT_CONFLICT_DELAY = float(env("MICROSOFT_CONFLICT_DELAY", "120"))
        self.MICROSOFT_TIMEOUT = float(env("MICROSOFT_TIMEOUT", "30"))
        self.SYNC_CRON = env("SYNC_CRON", "0 * * * *")
        # The daily Azure usage import (jobs/schedule.py), "minute hour * * *" in UTC.
        self.AZURE_USAGE_CRON = env("AZURE_USAGE_CRON", "0 4 * * *")
        # Customers synced at once by `flask sync` (each waits on its own tenant's limits).
        self.SYNC_CONCURRENCY = int(env("SYNC_CONCURRENCY", "4"))
        # Finished sync runs (one per customer and hour) are kept this many days.
        self.SYNC_RUNS_KEEP_DAYS = int(env("SYNC_RUNS_KEEP_DAYS", "30"))
        # Change jobs: RQ's time limit (raised to outlive the retry budget), the attempts
        # before the requeue gives up, and the customer's lock (wait for it; its time to
        # live, renewed while the job runs, so a killed worker frees the customer soon).
        self.CHANGE_JOB_TIMEOUT = int(env("CHANGE_JOB_TIMEOUT", "900"))
        self.CHANGE_MAX_ATTEMPTS = int(env("CHANGE_MAX_ATTEMPTS", "5"))
        self.CHANGE_LOCK_WAIT = float(env("CHANGE_LOCK_WAIT", "30"))
        self.CHANGE_LOCK_TTL = float(env("CHANGE_LOCK_TTL", "30"))

        # Rate limits, "requests/seconds" (fixed windows in Redis): far above what a person
        # does, so only floods are refused. Sign-in per address; changes (POSTs) per person
        # and per address (many people can share an office's address).
        self.RATELIMIT_SIGNIN_PER_ADDRESS = env("RATELIMIT_SIGNIN_PER_ADDRESS", "600/60")
        self.RATELIMIT_CHANGES_PER_USER = env("RATELIMIT_CHANGES_PER_USER", "600/60")
        self.RATELIMIT_CHANGES_PER_ADDRESS = env("RATELIMIT_CHANGES_PER_ADDRESS", "12000/60")

        # E-mail (docs/email.md): smtp://[user:password@]host[:port] (add ?starttls=1 to
        # upgrade the connection) or smtps://... (TLS from the start). Unset: mails are only
        # logged. `make run` points it at a local SMTP sink that files every mail into
        # MAIL_SINK_DIR (a Maildir), which partner admins read at /admin/mails.
        self.SMTP_URL = env("SMTP_URL") or None
        self.SMTP_TIMEOUT = float(env("SMTP_TIMEOUT", "15"))
        self.MAIL_FROM = env("MAIL_FROM", "Seatwise <no-reply@seatwise.invalid>")
        self.MAIL_SINK_DIR = env("MAIL_SINK_DIR") or None
        self.MAIL_LOCALE = env("MAIL_LOCALE", "en")
        # Where links in mails point (scheme and host; a reseller's customers get the
        # reseller's proven host with the same scheme). Default: the first PROVIDER_HOSTS
        # over HTTPS, else the local app.
        self.PUBLIC_BASE_URL = (
            env("PUBLIC_BASE_URL")
            or (f"https://{self.PROVIDER_HOSTS[0]}" if self.PROVIDER_HOSTS else None)
            or f"http://127.0.0.1:{env('PORT', '5000')}"
        ).rstrip("/")

        # Forms and CSRF: pages left open keep working (see NOTES.md, Flask-WTF).
        self.WTF_CSRF_TIME_LIMIT = None
        self.WTF_CSRF_SSL_STRICT = True
        # Request size bounds (an oversized form is a 413 page, never a 500): the whole body
        # (a logo upload is the largest), one form field in memory, and the number of parts.
        self.MAX_CONTENT_LENGTH = 2 * 1024 * 1024
        self.MAX_FORM_MEMORY_SIZE = 500_000
        self.MAX_FORM_PARTS = 1_000

        # Session cookies: HttpOnly always; Secure everywhere but local development.
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = not self.DEVELOPMENT
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SECURE = not self.DEVELOPMENT

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a mapping for app.config.from_mapping."""
        return {k: v for k, v in vars(self).items() if k.isupper()}
