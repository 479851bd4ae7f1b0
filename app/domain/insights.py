"""Licence insights: seats that are assigned but bring nothing, and what each would save.

Pure rules (no I/O; "now" is a parameter). Four insights, each a list of findings
(one person, one licence, its monthly seat price):

1. disabled  — the account is disabled in Entra ID and still holds licences;
2. inactive  — no sign-in and no activity in any workload for `inactive_days` (default 90);
3. overlap   — the person holds two licences where one covers the other (OVERLAPS);
4. idle_addon — an add-on (Copilot, Teams Premium) whose workload was not used for
   ADDON_IDLE_DAYS.

A licence of a person is counted once, by the first insight that finds it in that order
(a disabled person's E3 is not "inactive" as well), so the savings add up. Excluded products
and excluded people (shared mailboxes, service accounts) are never counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from app.domain.nce import format_day

WORKLOADS = ("exchange", "onedrive", "sharepoint", "teams", "office", "copilot")
DEFAULT_INACTIVE_DAYS = 90
MIN_INACTIVE_DAYS = 14
MAX_INACTIVE_DAYS = 365
# Add-ons are judged over the reports' period (D30): a month without using it.
ADDON_IDLE_DAYS = 30

# Licences that make another one redundant for the same person, by skuPartNumber:
# (covering, redundant, why). Sources: Microsoft's "Product names and service plan
# identifiers for licensing" and the plans' service descriptions (docs/insights.md).
OVERLAPS: tuple[tuple[str, str, str], ...] = (
    ("SPE_E5", "SPE_E3", "Microsoft 365 E5 includes everything in E3"),
    ("SPE_E3", "SPB", "Microsoft 365 E3 and Business Premium give the same apps and mailbox"),
    ("SPE_E5", "SPB", "Microsoft 365 E5 and Business Premium give the same apps and mailbox"),
    ("SPE_E3", "O365_BUSINESS_PREMIUM", "Microsoft 365 E3 includes the Business Standard apps"),
    ("SPE_E5", "O365_BUSINESS_PREMIUM", "Microsoft 365 E5 includes the Business Standard apps"),
    ("SPB", "O365_BUSINESS_PREMIUM", "Business Premium includes Business Standard"),
    ("SPB", "O365_BUSINESS_ESSENTIALS", "Business Premium includes Business Basic"),
    ("O365_BUSINESS_PREMIUM", "O365_BUSINESS_ESSENTIALS", "Business Standard includes Basic"),
    ("SPE_E3", "O365_BUSINESS_ESSENTIALS", "Microsoft 365 E3 includes a mailbox and Teams"),
    ("SPE_E5", "O365_BUSINESS_ESSENTIALS", "Microsoft 365 E5 includes a mailbox and Teams"),
    ("SPE_E3", "EXCHANGESTANDARD", "Microsoft 365 E3 includes Exchange Online (Plan 2)"),
    ("SPE_E5", "EXCHANGESTANDARD", "Microsoft 365 E5 includes Exchange Online (Plan 2)"),
    ("SPE_E3", "EXCHANGEENTERPRISE", "Microsoft 365 E3 includes Exchange Online (Plan 2)"),
    ("SPE_E5", "EXCHANGEENTERPRISE", "Microsoft 365 E5 includes Exchange Online (Plan 2)"),
    ("SPB", "EXCHANGESTANDARD", "Business Premium includes Exchange Online (Plan 1)"),
    ("O365_BUSINESS_PREMIUM", "EXCHANGESTANDARD", "Business Standard includes Exchange (Plan 1)"),
    ("O365_BUSINESS_ESSENTIALS", "EXCHANGESTANDARD", "Business Basic includes Exchange (Plan 1)"),
    ("EXCHANGEENTERPRISE", "EXCHANGESTANDARD", "Exchange Online Plan 2 includes Plan 1"),
    ("SPE_E5", "EMS", "Microsoft 365 E5 includes Enterprise Mobility + Security E3"),
    ("SPE_E3", "EMS", "Microsoft 365 E3 includes Enterprise Mobility + Security E3"),
    ("SPE_E5", "EMSPREMIUM", "Microsoft 365 E5 includes Enterprise Mobility + Security E5"),
    ("SPE_E5", "WIN_DEF_ATP", "Microsoft 365 E5 includes Defender for Endpoint P2"),
    ("SPE_E3", "AAD_PREMIUM", "Microsoft 365 E3 includes Entra ID P1"),
    ("SPE_E5", "AAD_PREMIUM", "Microsoft 365 E5 includes Entra ID P1"),
    ("SPB", "AAD_PREMIUM", "Business Premium includes Entra ID P1"),
    ("EMS", "AAD_PREMIUM", "Enterprise Mobility + Security E3 includes Entra ID P1"),
)
# Add-ons and the workload that shows they are used, by skuPartNumber (lower case,
# prefix). Teams Premium has no report of its own: Teams activity is the closest sign.
ADDON_WORKLOADS: tuple[tuple[str, str, str], ...] = (
    ("microsoft_365_copilot", "copilot", "Copilot"),
    ("microsoft_teams_premium", "teams", "Teams"),
)


class Kind(StrEnum):
    """The four insights, in the order a licence is claimed by them."""

    DISABLED = "disabled"
    INACTIVE = "inactive"
    OVERLAP = "overlap"
    IDLE_ADDON = "idle_addon"


TITLES = {
    Kind.DISABLED: "Disabled accounts still holding licences",
    Kind.INACTIVE: "Licences of inactive people",
    Kind.OVERLAP: "Overlapping licences",
    Kind.IDLE_ADDON: "Add-ons assigned but idle",
}


@dataclass(frozen=True)
class Person:
    """A person of the customer's directory, their CSP licences and last activity."""

    id: int
    name: str
    upn: str
    enabled: bool
    sku_ids: tuple[str, ...]
    last_sign_in: datetime | None = None
    activity: Mapping[str, date] = field(default_factory=dict)
    disabled_since: datetime | None = None  # first seen disabled (Graph gives no date)

    def last_seen(self, with_sign_in: bool) -> date | None:
        """The latest day of any sign-in (when known) or workload activity."""
        days = [d for d in self.activity.values() if d is not None]
        if with_sign_in and self.last_sign_in is not None:
            days.append(self.last_sign_in.date())
        return max(days) if days else None


@dataclass(frozen=True)
class Product:
    """A product the customer buys: its SKU, name, skuPartNumber and monthly seat price."""

    sku_id: str
    name: str
    part_number: str
    seat_price: Decimal
    currency: str = "USD"


@dataclass(frozen=True)
class Rules:
    """A customer's insight settings."""

    inactive_days: int = DEFAULT_INACTIVE_DAYS
    excluded_skus: frozenset[str] = frozenset()
    excluded_people: frozenset[str] = frozenset()  # lower-case sign-in names
    with_sign_in: bool = True  # signInActivity known (Entra ID P1/P2), else reports only
    # The usage reports could be matched to people (False: the tenant conceals user names
    # in reports, so workload activity is unknown: no inactive or idle finding rests on it).
    reports_known: bool = True


@dataclass(frozen=True)
class Finding:
    """One licence of one person that could go, and what it saves a month."""

    kind: Kind
    person: Person
    product: Product
    reason: str

    @property
    def saving(self) -> Decimal:
        """The monthly seat price of the licence."""
        return self.product.seat_price


@dataclass(frozen=True)
class Insight:
    """One insight: its findings and their sum."""

    kind: Kind
    findings: tuple[Finding, ...]

    @property
    def title(self) -> str:
        """What the insight is about."""
        return TITLES[self.kind]

    @property
    def saving(self) -> Decimal:
        """The monthly saving of acting on every finding."""
        return sum((f.saving for f in self.findings), Decimal(0))

    @property
    def people(self) -> int:
        """How many people it concerns."""
        return len({f.person.id for f in self.findings})


@dataclass(frozen=True)
class Overview:
    """A customer's four insights and the monthly saving of all of them."""

    insights: tuple[Insight, ...]

    @property
    def saving(self) -> Decimal:
        """The monthly saving of every finding (each licence counted once)."""
        return sum((i.saving for i in self.insights), Decimal(0))

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding, insight by insight."""
        return tuple(f for i in self.insights for f in i.findings)


def validate_inactive_days(days: int) -> int:
    """The inactivity threshold, or ValueError saying the allowed range."""
    if not MIN_INACTIVE_DAYS <= days <= MAX_INACTIVE_DAYS:
        raise ValueError(
            f"Inactive after must be between {MIN_INACTIVE_DAYS} and {MAX_INACTIVE_DAYS} days."
        )
    return days


def _days_text(last: date | None, today: date) -> str:
    if last is None:
        return "never active"
    return f"last active {last.isoformat()} ({(today - last).days} days ago)"


def find(
    people: Iterable[Person], products: Iterable[Product], rules: Rules, now: datetime
) -> Overview:
    """The customer's insights at `now` (licences of products not bought here are ignored)."""
    catalogue = {p.sku_id: p for p in products if p.sku_id not in rules.excluded_skus}
    today = now.date()
    found: dict[Kind, list[Finding]] = {kind: [] for kind in Kind}
    for person in sorted(people, key=lambda p: (p.name.lower(), p.id)):
        if person.upn.lower() in rules.excluded_people:
            continue
        held = [catalogue[s] for s in person.sku_ids if s in catalogue]
        if not held:
            continue
        last = person.last_seen(rules.with_sign_in)
        if not person.enabled:
            why = "account disabled in Entra ID" + (
                f" (seen disabled since {format_day(person.disabled_since.date())})"
                if person.disabled_since is not None
                else ""
            )
            findings = [Finding(Kind.DISABLED, person, p, why) for p in held]
        elif (rules.with_sign_in or rules.reports_known) and (
            last is None or today - last >= timedelta(days=rules.inactive_days)
        ):
            findings = [Finding(Kind.INACTIVE, person, p, _days_text(last, today)) for p in held]
        else:
            findings = _unneeded(held, person, today, rules.reports_known)
        claimed: set[str] = set()
        for finding in findings:  # a licence is counted once, by its first finding
            if finding.product.sku_id not in claimed:
                claimed.add(finding.product.sku_id)
                found[finding.kind].append(finding)
    return Overview(tuple(Insight(kind, tuple(found[kind])) for kind in Kind))


def _unneeded(
    held: list[Product], person: Person, today: date, reports_known: bool
) -> list[Finding]:
    """An active person's overlapping licences and idle add-ons."""
    findings = []
    parts = {p.part_number.upper(): p for p in held}
    for covering, redundant, why in OVERLAPS:
        if covering in parts and redundant in parts:
            kept = parts[covering].name
            findings.append(
                Finding(Kind.OVERLAP, person, parts[redundant], f"{why} ({kept} is kept)")
            )
    for product in held if reports_known else ():
        workload = addon_workload(product.part_number)
        if workload is None:
            continue
        used = person.activity.get(workload[0])
        if used is None or today - used >= timedelta(days=ADDON_IDLE_DAYS):
            when = "never used" if used is None else f"last used {used.isoformat()}"
            findings.append(Finding(Kind.IDLE_ADDON, person, product, f"{workload[1]} {when}"))
    return findings


def addon_workload(part_number: str) -> tuple[str, str] | None:
    """(workload, its name) that shows an add-on is used; None for a base licence."""
    part = part_number.lower()
    for prefix, workload, label in ADDON_WORKLOADS:
        if part.startswith(prefix):
            return workload, label
    return None


@dataclass(frozen=True)
class SeatReturn:
    """When a seat freed now leaves the bill."""

    text: str
    now: bool  # returned by the next reconciliation (a reduction is allowed now)


def seat_return(
    *,
    auto_adjustment: bool,
    reducible_now: int,
    renewal_on: date | None,
    is_nce: bool = True,
) -> SeatReturn:
    """What happens to a seat freed by unassigning a licence (the reconciliation returns
    free seats within the NCE rules: reductions only within 7 days of a purchase or at
    renewal)."""
    if not auto_adjustment:
        return SeatReturn(
            "The seat stays free (and paid for) until someone reduces the subscription: "
            "Auto license adjustment is off for this company.",
            False,
        )
    if reducible_now > 0 or not is_nce:
        return SeatReturn("The free seat is returned at the next reconciliation (tonight).", True)
    when = f"on {format_day(renewal_on)}" if renewal_on else "at the end of the term"
    return SeatReturn(
        f"The free seat is returned at renewal {when}: new commerce allows no reduction "
        "before then.",
        False,
    )


# --- unassigning the licences of people disabled for long (a relationship setting) --------


def seen_disabled_since(previous: datetime | None, enabled: bool, now: datetime) -> datetime | None:
    """When the account was first seen disabled: Graph has no disable date, so the first
    sync or refresh that reads `accountEnabled` false starts the count; enabled again, it is
    cleared (a later disable starts afresh)."""
    if enabled:
        return None
    return previous or now


@dataclass(frozen=True)
class Unassignment:
    """One licence the reconciliation unassigns from a person disabled for long."""

    person: Person
    sku_id: str
    disabled_since: datetime


def disabled_to_unassign(
    people: Iterable[Person],
    *,
    after_days: int,
    managed_skus: Iterable[str],
    excluded_people: Iterable[str] = (),
    excluded_skus: Iterable[str] = (),
    now: datetime,
) -> list[Unassignment]:
    """The licences to unassign: of people disabled (and seen so) for more than
    `after_days` days, only products bought through CSP for this customer, never an
    excluded person or product. `after_days` 0 (the setting off) unassigns nothing; so does
    a disabled person with no date yet (the count starts when Seatwise first sees it)."""
    if after_days <= 0:
        return []
    managed = set(managed_skus)
    skipped_people = {upn.lower() for upn in excluded_people}
    skipped_skus = set(excluded_skus)
    cutoff = now - timedelta(days=after_days)
    found = []
    for person in people:
        since = person.disabled_since
        if person.enabled or since is None or since >= cutoff:
            continue
        if person.upn.lower() in skipped_people:
            continue
        for sku in dict.fromkeys(person.sku_ids):
            if sku in managed and sku not in skipped_skus:
                found.append(Unassignment(person, sku, since))
    return found
