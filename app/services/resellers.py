"""Indirect resellers: their relationship with the provider, and their proven host names.

- `require_active(customer)`: the one check that a customer's reseller relationship is
  authorised; every change for a reseller's customer calls it before anything reaches
  Partner Center (Microsoft refuses to provision through an unauthorised reseller anyway).
- Host names: a reseller asks for a host name; it becomes the active white-label address
  only after proof of control — a DNS TXT record checked by a job, or the provider's
  approval, whichever the installation chose (`HOST_PROOF`).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Customer, Reseller, StaffRole, User
from app.models._types import utcnow
from app.services import audit
from app.services.errors import NotFound

# Partner Center's PartnerRelationship `state` (retrieve-a-list-of-indirect-resellers):
# "Active" is an authorised relationship. Rows imported before the state was kept verbatim
# say "authorised".
_AUTHORISED = {"active", "authorised", "authorized"}
TXT_PREFIX = "_seatwise-challenge"
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
TXT_VALUE = "seatwise-verification={token}"


class RelationshipNotActive(Exception):
    """Nothing may be changed for this customer: its reseller relationship is not authorised."""


def is_authorised(reseller: Reseller | None) -> bool:
    """Whether the reseller's relationship with the provider is authorised (no reseller:
    a direct customer, nothing to check)."""
    return reseller is None or reseller.relationship_status.strip().lower() in _AUTHORISED


def paused_reason(customer: Customer) -> str | None:
    """Why buying and changes are paused for this customer, or None when they are not."""
    reseller: Reseller | None = customer.reseller
    if is_authorised(reseller):
        return None
    assert reseller is not None
    return (
        f"Buying and changes are paused: the reseller relationship between {reseller.name} "
        f"and the provider is not authorised in Microsoft Partner Center (its state is "
        f"{reseller.relationship_status!r}). Nothing can be bought or changed until it is."
    )


def require_active(
    customer: Customer, refusal: Callable[[str], Exception] = RelationshipNotActive
) -> None:
    """Refuse (raise `refusal(reason)`) any change for a customer whose reseller relationship
    is not authorised; call it before anything is written or sent to Partner Center."""
    reason = paused_reason(customer)
    if reason is not None:
        raise refusal(reason)


# --- the provider's console ------------------------------------------------------------------


@dataclass(frozen=True)
class ResellerRow:
    """One reseller as the provider's console lists it."""

    reseller: Reseller
    authorised: bool
    customers: list[Customer]


def reseller_rows(actor: User) -> list[ResellerRow]:
    """Every reseller with its relationship state and customers (partner admins only)."""
    if actor.staff_role is not StaffRole.PARTNER_ADMIN:
        raise NotFound("resellers")
    rows = []
    for reseller in db.session.scalars(select(Reseller).order_by(func.lower(Reseller.name))):
        customers = list(
            db.session.scalars(
                select(Customer).where(Customer.reseller_id == reseller.id).order_by(Customer.name)
            )
        )
        rows.append(ResellerRow(reseller, is_authorised(reseller), customers))
    return rows


# --- host names: asked for, proven, active -----------------------------------------------


class HostError(ValueError):
    """A host-name step that is refused, with a message a person understands."""


def request_host(reseller: Reseller, host: str, actor: User) -> None:
    """Record `host` as asked for (inactive until proven), with a fresh proof token; the
    caller has checked the host is neither the provider's nor another reseller's. Audited,
    not committed (the caller commits)."""
    reseller.pending_host_name = host
    reseller.host_token = secrets.token_urlsafe(24)
    reseller.host_requested_at = utcnow()
    reseller.host_checked_at = None
    reseller.host_check_result = None
    audit.record(
        "reseller.host_requested",
        actor=actor,
        object_type="reseller",
        object_id=reseller.pc_id,
        after={"host_name": host, "proof": proof_method()},
    )


def proof_method() -> str:
    """How this installation proves a host: "dns" (a TXT record) or "approval"."""
    method = str(current_app.config.get("HOST_PROOF", "approval"))
    return method if method in {"dns", "approval"} else "approval"


def txt_name(host: str) -> str:
    """The DNS name the TXT record goes on."""
    return f"{TXT_PREFIX}.{host}"


def txt_value(token: str) -> str:
    """The TXT record's text."""
    return TXT_VALUE.format(token=token)


def approve_host(actor: User, reseller_pc_id: str) -> str:
    """The provider approves the host a reseller asked for: it becomes active. Audited."""
    if actor.staff_role is not StaffRole.PARTNER_ADMIN:
        raise NotFound("reseller")
    reseller = _reseller(reseller_pc_id)
    if reseller.pending_host_name is None:
        raise HostError(f"{reseller.name} has not asked for a web address.")
    return _activate(reseller, actor, how="approved by the provider")


class TxtResolver(Protocol):
    """Looks up the TXT records of a DNS name (an empty list when there are none)."""

    def txt(self, name: str) -> list[str]:
        """The texts of the name's TXT records."""
        ...


class DnsResolver:
    """TXT look-ups with dnspython, through the configured name servers (or the system's)."""

    def __init__(self, nameservers: Sequence[str] = (), timeout: float = 5.0) -> None:
        import dns.resolver

        self._resolver = dns.resolver.Resolver(configure=not nameservers)
        if nameservers:
            self._resolver.nameservers = []
            ports = {}
            for server in nameservers:
                address, _, port = server.partition("#")
                self._resolver.nameservers.append(address)
                ports[address] = int(port) if port else 53
            self._resolver.nameserver_ports = ports
        self._resolver.lifetime = timeout

    def txt(self, name: str) -> list[str]:
        """The TXT texts of `name` ([] when it has none or does not exist)."""
        import dns.exception
        import dns.resolver

        try:
            answer = self._resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
            return []
        except dns.exception.Timeout:
            raise HostError("The DNS servers did not answer in time; try again later.") from None
        texts = []
        for record in answer:
            texts.append(b"".join(record.strings).decode("utf-8", "replace"))
        return texts


def configured_resolver() -> TxtResolver:
    """The resolver the installation configured (HOST_PROOF_NAMESERVERS, or the system's)."""
    return DnsResolver(current_app.config.get("HOST_PROOF_NAMESERVERS") or ())


def check_host_proof(reseller_id: int, resolver: TxtResolver | None = None) -> bool:
    """Look for the TXT record of the host a reseller asked for; activate the host when it
    is there. Records what was found either way. Safe to run twice."""
    reseller = db.session.get(Reseller, reseller_id)
    if reseller is None or reseller.pending_host_name is None or reseller.host_token is None:
        return False
    host = reseller.pending_host_name
    expected = txt_value(reseller.host_token)
    failure: str | None = None
    try:
        found = (resolver or configured_resolver()).txt(txt_name(host))
    except HostError as error:
        found, failure = [], str(error)
    reseller.host_checked_at = utcnow()
    if expected in found:
        _activate(reseller, "dns-check", how="DNS TXT record found")
        return True
    reseller.host_check_result = failure or (
        f"No TXT record {txt_name(host)} with the text {expected} was found yet."
    )
    db.session.commit()
    return False


def enqueue_check(reseller: Reseller) -> None:
    """Ask a worker to look for the reseller's TXT record now."""
    from app.queue import enqueue

    enqueue("jobs.hosts.check_host", reseller.id, job_timeout=60)


def _activate(reseller: Reseller, actor: User | str, *, how: str) -> str:
    host = reseller.pending_host_name
    assert host is not None
    taken = db.session.scalar(
        select(Reseller.id).where(Reseller.host_name == host, Reseller.id != reseller.id)
    )
    if taken:
        raise HostError(f"{host} is already used by another reseller.")
    before = {"host_name": reseller.host_name}
    reseller.host_name = host
    reseller.pending_host_name = reseller.host_token = None
    reseller.host_check_result = how
    audit.record(
        "reseller.host_activated",
        actor=actor,
        object_type="reseller",
        object_id=reseller.pc_id,
        before=before,
        after={"host_name": host, "how": how},
    )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise HostError(f"{host} is already used by another reseller.") from None
    return host


def _reseller(pc_id: str) -> Reseller:
    reseller: Reseller | None = db.session.scalar(select(Reseller).where(Reseller.pc_id == pc_id))
    if reseller is None:
        raise NotFound("reseller")
    return reseller


# --- staying on the reseller's host ---------------------------------------------------------


def reseller_on_host(host: str) -> Reseller | None:
    """The reseller whose active (proven) host name `host` is, or None (at once for an IP
    address: a reseller's host name is never one)."""
    name = _bare(host)
    if not name or _IPV4.match(name):
        return None
    found: Reseller | None = db.session.execute(_ON_HOST, {"host_name": name}).scalar()
    return found


# Built once per process: every page of a signed-in person runs it (docs/performance.md).
_ON_HOST = select(Reseller).where(Reseller.host_name == bindparam("host_name"))


def belongs_on(user: User, reseller: Reseller) -> bool:
    """Whether `user` belongs on `reseller`'s host: its admins, the provider's admins, and
    people invited to at least one of its customers."""
    from app.services.access import companies_query

    if user.staff_role is StaffRole.PARTNER_ADMIN:
        return True
    if user.staff_role is StaffRole.RESELLER_ADMIN:
        return user.reseller_id == reseller.id
    mine = companies_query(user).where(Customer.reseller_id == reseller.id).limit(1)
    return db.session.scalar(mine) is not None


def home_host(user: User, provider_hosts: Sequence[str]) -> str:
    """The host `user` belongs on: its reseller's active host when every company it reaches
    (or, for a reseller admin, its reseller) has one and the same; else the provider's."""
    from app.services.access import companies_query

    provider = provider_hosts[0] if provider_hosts else "127.0.0.1"
    if user.staff_role is StaffRole.RESELLER_ADMIN:
        reseller = user.reseller
        return reseller.host_name if reseller is not None and reseller.host_name else provider
    if user.staff_role is StaffRole.PARTNER_ADMIN:
        return provider
    ids = set(db.session.scalars(companies_query(user).with_only_columns(Customer.reseller_id)))
    if len(ids) == 1 and (only := ids.pop()) is not None:
        theirs = db.session.get(Reseller, only)
        if theirs is not None and theirs.host_name:
            return theirs.host_name
    return provider


def verified_host(request_host: str, provider_hosts: Sequence[str]) -> str:
    """The host a sign-in may come back to: the request's own when it is one of the
    provider's or a reseller's active (proven) host; else the provider's first host. With no
    provider host configured (development), the request's host."""
    name = _bare(request_host)
    if not provider_hosts or name in {_bare(h) for h in provider_hosts}:
        return request_host
    if reseller_on_host(request_host) is not None:
        return request_host
    port = request_host.rpartition(":")[2] if ":" in request_host else ""
    return f"{provider_hosts[0]}:{port}" if port else provider_hosts[0]


def _bare(host: str) -> str:
    name = host.strip().lower()
    if name.startswith("["):
        return ""
    return name.rsplit(":", 1)[0].rstrip(".")
