"""The emulator's in-memory records: resellers, customers, users, subscriptions, tranches."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from emulator.clock import midnight

REFUND_WINDOW = timedelta(days=7)
# Workloads of the usage reports a user's "activity" names (emulator/graph_reports.py).
WORKLOADS = ("exchange", "onedrive", "sharepoint", "teams", "office", "copilot")
CANCELLATION_WINDOW = timedelta(days=7)
LIVE_STATUSES = ("active", "suspended")


def new_etag() -> str:
    """A fresh opaque etag."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class AzureMeter:
    """One meter used in one resource group of an Azure plan entitlement, the same quantity
    every day from ``start`` to ``end`` (None: still running)."""

    subscription_id: str  # the Azure plan (Partner Center subscription) id
    entitlement_id: str  # the Azure subscription inside the plan
    entitlement_name: str
    resource_group: str
    category: str
    subcategory: str
    name: str
    region: str
    unit: str
    daily_quantity: float
    unit_price: float
    start: date
    end: date | None = None
    currency: str = "USD"

    @property
    def meter_id(self) -> str:
        """A stable meter GUID from the meter's category, sub-category, name and region."""
        key = f"meter:{self.category}|{self.subcategory}|{self.name}|{self.region}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


@dataclass
class Tranche:
    """Seats added at one moment; reducible until ``added + 7 days``."""

    quantity: int
    added: datetime
    refundable: bool = True

    @property
    def allowed_until(self) -> datetime:
        """The end of this tranche's reduction window."""
        return self.added + REFUND_WINDOW


@dataclass
class Reseller:
    """An indirect reseller of the partner."""

    id: str
    name: str
    mpn_id: str = ""
    relationship: str = "authorised"

    @property
    def authorised(self) -> bool:
        """Whether the reseller relationship allows provisioning."""
        return self.relationship.lower() in ("authorised", "authorized", "active")


@dataclass
class User:
    """A user of a customer tenant and the licenses it holds (skuId → disabled plans)."""

    id: str
    upn: str
    name: str
    licenses: dict[str, list[str]] = field(default_factory=dict)
    account_enabled: bool = True
    # signInActivity (Graph) and the usage reports' last activity date per workload
    # (WORKLOADS); None = never. Scenario fields "last_sign_in" and "activity".
    last_sign_in: datetime | None = None
    last_non_interactive_sign_in: datetime | None = None
    activity: dict[str, date | None] = field(default_factory=dict)


@dataclass
class Subscription:
    """A license subscription of a customer."""

    id: str
    customer_id: str
    offer_id: str
    sku_id: str
    offer_name: str
    friendly_name: str
    status: str
    auto_renew: bool
    trial: bool
    nce: bool
    term: str
    billing_cycle: str
    created: datetime
    term_started: datetime
    effective_start: date
    commitment_end: date
    cancel_until: datetime | None
    tranches: list[Tranche]
    partner_id: str | None
    order_id: str
    unit_price: float
    etag: str = field(default_factory=new_etag)
    scheduled: dict[str, Any] | None = None
    update_count: int = 0
    renewal_pending_until: datetime | None = None
    generation: int = 0
    suspension_reasons: list[str] = field(default_factory=list)
    # End of term (emulator/end_of_term.py): "cancel" when auto-renew is off with an explicit
    # cancel at end of term, else None (Microsoft's default: EST in scope, else expiry); then
    # the Extended Service Term state while the subscription is in one.
    term_end_action: str | None = None
    est_since: date | None = None
    est_base_price: float | None = None
    est_uplift: float | None = None
    est_from_term: str | None = None
    est_from_cycle: str | None = None
    ended_at_term_end: bool = False

    @property
    def quantity(self) -> int:
        """Seats: the sum of the tranches."""
        return sum(t.quantity for t in self.tranches)

    @property
    def renew_at(self) -> datetime:
        """00:00 UTC of the day after the (inclusive) commitment end date."""
        return midnight(self.commitment_end + timedelta(days=1))

    def refundable(self, now: datetime) -> list[Tranche]:
        """Tranches whose reduction window is still ahead."""
        return [t for t in self.tranches if t.refundable and t.allowed_until > now]

    def renewal_pending(self, now: datetime) -> bool:
        """Whether a renewal is under way (updates answer 409)."""
        return self.renewal_pending_until is not None and now < self.renewal_pending_until

    def touch(self) -> None:
        """Record a change: a new etag."""
        self.etag = new_etag()


@dataclass
class Customer:
    """A customer tenant with its users and subscriptions."""

    id: str
    name: str
    domain: str
    tenant_id: str
    reseller_id: str | None = None
    users: dict[str, User] = field(default_factory=dict)
    upns: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    consumed: Counter[str] = field(default_factory=Counter)
    generated_users: int = 0
    # Microsoft Entra ID P1/P2 in the tenant: without it, selecting signInActivity answers
    # 403 (scenario field "entra_premium", default true).
    entra_premium: bool = True
    # The admin-centre privacy setting: usage reports show hashes instead of user names.
    conceal_report_names: bool = False
    # When each usage-report request came (the 14-per-10-minutes limit).
    report_calls: list[datetime] = field(default_factory=list)
    azure: list[AzureMeter] = field(default_factory=list)  # Azure plan usage (emulator/billing.py)
    # Licences bought outside CSP (an Enterprise Agreement, say): SKU -> (part number, units)
    # (scenario field "other_licenses"); Graph counts them, Partner Center knows nothing.
    other: dict[str, tuple[str, int]] = field(default_factory=dict)

    def add_user(self, user: User) -> None:
        """Add (or replace) a user and count the licenses it holds."""
        old = self.users.get(user.id)
        if old is not None:
            self.consumed.subtract(old.licenses.keys())
            self.upns.pop(old.upn.lower(), None)
        self.users[user.id] = user
        self.upns[user.upn.lower()] = user.id
        self.consumed.update(user.licenses.keys())

    def find_user(self, key: str) -> User | None:
        """A user by id or user principal name."""
        user = self.users.get(key)
        if user is None and key.lower() in self.upns:
            user = self.users[self.upns[key.lower()]]
        return user

    def units(self, sku_id: str, status: str = "active") -> int:
        """Seats of a SKU over this customer's subscriptions in one status (and, active,
        its units bought outside CSP)."""
        outside = self.other[sku_id][1] if status == "active" and sku_id in self.other else 0
        return outside + sum(
            s.quantity
            for s in self.subscriptions.values()
            if s.sku_id == sku_id and s.status == status
        )

    def sku_ids(self) -> list[str]:
        """SKUs this customer holds through live subscriptions or assignments."""
        seen = dict.fromkeys(
            s.sku_id for s in self.subscriptions.values() if s.status in LIVE_STATUSES
        )
        seen.update(dict.fromkeys(self.other))
        seen.update(dict.fromkeys(sku for sku, n in self.consumed.items() if n > 0))
        return list(seen)
