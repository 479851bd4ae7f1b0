"""Relationship settings of a customer: names, defaults, parsing and the rules between them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

SettingValue = bool | Decimal | int


@dataclass(frozen=True)
class SettingSpec:
    """One relationship setting as PRODUCT.md describes it."""

    key: str
    label: str
    kind: Literal["bool", "percent", "days"]
    default: SettingValue
    help: str
    # Who decides (PRODUCT.md, issue 19): "reseller" settings may be switched by a reseller
    # admin for its own customers (and by the provider); "provider" settings are the
    # commercial ones only the provider's administrators change.
    decided_by: Literal["provider", "reseller"] = "provider"


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "self_service",
        "Self service",
        "bool",
        False,
        "The customer's invited users may use the portal.",
        decided_by="reseller",
    ),
    SettingSpec(
        "reporting",
        "Reporting",
        "bool",
        False,
        "Portal users may open the reports.",
        decided_by="reseller",
    ),
    SettingSpec(
        "partner_center_sync",
        "Partner Center sync",
        "bool",
        True,
        "Users, subscriptions and assigned counts are kept in step with Partner Center.",
    ),
    SettingSpec(
        "azure_sync",
        "Azure sync",
        "bool",
        False,
        "Azure usage is imported for reports and billing.",
    ),
    SettingSpec(
        "unmanaged_license_sync",
        "Unmanaged license sync",
        "bool",
        False,
        "Non-CSP licenses (e.g. Enterprise Agreement) are imported and shown read-only.",
    ),
    SettingSpec(
        "auto_license_adjustment",
        "Auto license adjustment",
        "bool",
        False,
        "Nightly reconciliation returns unused seats; requires Auto increment.",
    ),
    SettingSpec(
        "send_all_subscriptions",
        "Send all subscriptions",
        "bool",
        False,
        "The billing export includes every subscription, present and future.",
    ),
    SettingSpec(
        "auto_increment",
        "Auto increment",
        "bool",
        False,
        "Assigning a license always buys one more seat first.",
    ),
    SettingSpec(
        "azure_markup_percent",
        "Azure report mark-up %",
        "percent",
        Decimal("17.65"),
        "Customers see Azure cost as partner cost × (1 + mark-up).",
    ),
    SettingSpec(
        "unassign_disabled_after_days",
        "Unassign licences of disabled people after (days)",
        "days",
        0,
        "The nightly reconciliation unassigns the CSP licences of people seen disabled in "
        "Entra for more than this many days, before it returns seats (the preview lists "
        "them; people excluded in the insights are never touched). 0 or empty: off.",
    ),
)

SPECS: dict[str, SettingSpec] = {spec.key: spec for spec in SETTINGS}

MARKUP_MIN = Decimal("0")
MARKUP_MAX = Decimal("500")
DAYS_MIN = 7
DAYS_MAX = 730
_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0"}


class SettingError(ValueError):
    """A setting change that is refused, with a message a person understands."""


class ProviderOnlySetting(SettingError):
    """A reseller admin asked to change a setting only the provider decides."""


def reseller_may_change(key: str) -> bool:
    """Whether a reseller admin may change this setting for its own customers."""
    spec = SPECS.get(key)
    return spec is not None and spec.decided_by == "reseller"


def check_reseller_changes(keys: Iterable[str]) -> None:
    """Refuse (ProviderOnlySetting) any key a reseller admin may not change."""
    for key in keys:
        if key in SPECS and not reseller_may_change(key):
            raise ProviderOnlySetting(
                f"{SPECS[key].label} is decided by the provider; a reseller can switch only "
                + " and ".join(s.label for s in SETTINGS if s.decided_by == "reseller")
                + "."
            )


def parse_value(key: str, raw: str) -> SettingValue:
    """Turn a text value (form or command line) into the setting's type, or refuse it."""
    spec = SPECS.get(key)
    if spec is None:
        known = ", ".join(SPECS)
        raise SettingError(f"Unknown setting {key!r}. Known settings: {known}.")
    text = raw.strip().lower()
    if spec.kind == "bool":
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise SettingError(f"{spec.label} must be on or off, not {raw!r}.")
    if spec.kind == "days":
        return parse_days(spec, raw)
    return parse_percent(spec, raw)


def parse_days(spec: SettingSpec, raw: str) -> int:
    """Read a number of days: 0 or empty (or off) is off, else between 7 and 730."""
    text = raw.strip().lower()
    if text in ("", "off"):
        return 0
    message = (
        f"{spec.label} takes a whole number of days from {DAYS_MIN} to {DAYS_MAX}, "
        f"or 0 to switch it off, not {raw.strip()!r}."
    )
    if not text.isdigit() or len(text) > 6:
        raise SettingError(message)
    days = int(text)
    if days != 0 and not DAYS_MIN <= days <= DAYS_MAX:
        raise SettingError(message)
    return days


def parse_percent(spec: SettingSpec, raw: str) -> Decimal:
    """Read a percentage between 0 and 500 with at most two decimals."""
    try:
        value = Decimal(raw.strip().rstrip("%").strip())
    except InvalidOperation:
        raise SettingError(f"{spec.label} must be a number such as 17.65, not {raw!r}.") from None
    if not value.is_finite():
        raise SettingError(f"{spec.label} must be a number such as 17.65, not {raw!r}.")
    if value < MARKUP_MIN or value > MARKUP_MAX:
        raise SettingError(f"{spec.label} must be between 0 and 500, not {raw.strip()}.")
    if value != value.quantize(Decimal("0.01")):
        raise SettingError(f"{spec.label} takes at most two decimals, not {raw.strip()}.")
    return value.quantize(Decimal("0.01"))


def check_combination(values: Mapping[str, SettingValue]) -> None:
    """Refuse a set of settings that breaks a rule between settings."""
    if values.get("auto_license_adjustment") and not values.get("auto_increment"):
        raise SettingError(
            "Auto license adjustment needs Auto increment on: with adjustment there is no "
            "free-seat buffer, so assigning a license must buy the seat. "
            "Turn on Auto increment first."
        )


def apply_changes(
    current: Mapping[str, SettingValue], raw_changes: Mapping[str, str]
) -> dict[str, SettingValue]:
    """Return the settings after the requested changes, or raise SettingError for any bad one."""
    new = dict(current)
    for key, raw in raw_changes.items():
        new[key] = parse_value(key, raw)
    check_combination(new)
    return new


def format_value(value: SettingValue) -> str:
    """Show a setting value the way the command line and the audit log write it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, int):
        return str(value)
    return f"{value:.2f}"
