"""The emulator's whole state behind one lock, with indexes and the timeline of term ends."""

from __future__ import annotations

import heapq
import json
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from emulator import lifecycle
from emulator.clock import Clock, iso
from emulator.errors import not_found
from emulator.model import Customer, Reseller, Subscription

DEFAULT_RENEWAL_PENDING = timedelta(hours=2)
DEFAULT_UPDATE_CAP = 1200


class Store:
    """Customers, subscriptions and the logs; every access holds ``lock``."""

    def __init__(
        self,
        clock: Clock,
        renewal_pending: timedelta = DEFAULT_RENEWAL_PENDING,
        update_cap: int = DEFAULT_UPDATE_CAP,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.renewal_pending = renewal_pending
        self.update_cap = update_cap
        self.reset()

    def reset(self) -> None:
        """Forget everything (the clock is reset by the caller)."""
        with self.lock:
            self.customers: dict[str, Customer] = {}
            self.tenants: dict[str, str] = {}
            self.resellers: dict[str, Reseller] = {}
            self.by_reseller: dict[str, list[str]] = {}
            self.subscription_owner: dict[str, str] = {}
            self.carts: dict[str, dict[str, Any]] = {}
            self.checkouts: dict[str, dict[str, Any]] = {}  # cart id -> CartCheckoutResult
            self.transitions: dict[str, list[dict[str, Any]]] = {}  # subscription id -> done
            self.audit: list[dict[str, Any]] = []
            self.billing_exports: dict[str, dict[str, Any]] = {}  # operation id -> export
            self.replays: dict[tuple[str, str, str], tuple[int, bytes, str]] = {}
            self._timeline: list[tuple[datetime, int, str, int, str]] = []
            self._sequence = 0

    def now(self) -> datetime:
        """The emulator clock's current time."""
        return self.clock.now()

    def reseller_by_partner_id(self, partner_id: str) -> Reseller | None:
        """The reseller whose PartnerID (MPN id) this is."""
        return next((r for r in self.resellers.values() if r.mpn_id == partner_id), None)

    def add_reseller(self, reseller: Reseller) -> None:
        """Add or replace a reseller."""
        self.resellers[reseller.id] = reseller

    def add_customer(self, customer: Customer) -> Customer:
        """Add a customer, or return the existing one with the same id."""
        existing = self.customers.get(customer.id)
        if existing is not None:
            return existing
        self.customers[customer.id] = customer
        self.tenants[customer.tenant_id.lower()] = customer.id
        self.tenants[customer.domain.lower()] = customer.id
        if customer.reseller_id:
            self.by_reseller.setdefault(customer.reseller_id, []).append(customer.id)
        return customer

    def add_subscription(self, customer: Customer, sub: Subscription) -> None:
        """Add (or replace) a subscription and put its term end on the timeline."""
        replaced = customer.subscriptions.get(sub.id)
        if replaced is not None:
            sub.generation = replaced.generation + 1
        customer.subscriptions[sub.id] = sub
        self.subscription_owner[sub.id] = customer.id
        self.schedule(sub, sub.renew_at, "term_end")

    def customer(self, customer_id: str) -> Customer:
        """A customer, or a 404."""
        found = self.customers.get(customer_id)
        if found is None:
            raise not_found(f"Customer {customer_id}")
        return found

    def customer_by_tenant(self, tenant: str) -> Customer | None:
        """The customer whose tenant id (or domain) this is."""
        customer_id = self.tenants.get(tenant.lower())
        return self.customers.get(customer_id) if customer_id else None

    def subscription(self, customer: Customer, subscription_id: str) -> Subscription:
        """A subscription of a customer, or a 404."""
        found = customer.subscriptions.get(subscription_id)
        if found is None:
            raise not_found(f"Subscription {subscription_id}")
        return found

    def schedule(self, sub: Subscription, when: datetime, kind: str) -> None:
        """Put an event for a subscription on the timeline."""
        self._sequence += 1
        heapq.heappush(self._timeline, (when, self._sequence, sub.id, sub.generation, kind))

    def process_due(self) -> None:
        """Run every renewal, expiry and trial end the clock has passed, in time order."""
        now = self.now()
        while self._timeline and self._timeline[0][0] <= now:
            when, _, sub_id, generation, kind = heapq.heappop(self._timeline)
            owner = self.subscription_owner.get(sub_id)
            sub = self.customers[owner].subscriptions.get(sub_id) if owner else None
            if sub is None or sub.generation != generation:
                continue
            lifecycle.handle(self, sub, kind, when)

    def record(
        self,
        operation: str,
        customer: Customer,
        resource_type: str,
        new: dict[str, Any] | None,
        old: dict[str, Any] | None = None,
        at: datetime | None = None,
        data: list[dict[str, str]] | None = None,
    ) -> None:
        """Append an audit record (``data`` becomes its ``customizedData``)."""
        self.audit.append(
            {
                "id": str(uuid.uuid4()),
                "partnerId": customer.reseller_id or "",
                "customerId": customer.id,
                "customerName": customer.name,
                "userPrincipalName": "emulator@partner.example",
                "applicationId": "",
                "resourceType": resource_type,
                "resourceNewValue": json.dumps(new) if new is not None else None,
                "resourceOldValue": json.dumps(old) if old is not None else None,
                "operationType": operation,
                "operationStatus": "succeeded",
                "operationDate": iso(at or self.now()),
                "customizedData": list(data or []),
                "attributes": {"objectType": "AuditRecord"},
            }
        )
