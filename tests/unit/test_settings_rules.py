"""Relationship settings: parsing, limits and the rule between settings."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.domain.settings import SPECS, SettingError, apply_changes, format_value, parse_value

DEFAULTS = {key: spec.default for key, spec in SPECS.items()}


def test_defaults_are_those_of_the_product() -> None:
    assert DEFAULTS["partner_center_sync"] is True
    assert DEFAULTS["azure_markup_percent"] == Decimal("17.65")
    assert [k for k, v in DEFAULTS.items() if v is True] == ["partner_center_sync"]


@pytest.mark.parametrize(
    ("raw", "value"), [("on", True), ("TRUE", True), ("off", False), ("0", False), (" yes ", True)]
)
def test_booleans_accept_on_off_true_false(raw: str, value: bool) -> None:
    assert parse_value("reporting", raw) is value


def test_adjustment_without_auto_increment_is_refused_with_the_reason() -> None:
    with pytest.raises(SettingError, match="needs Auto increment on"):
        apply_changes(DEFAULTS, {"auto_license_adjustment": "on"})
    both = apply_changes(DEFAULTS, {"auto_license_adjustment": "on", "auto_increment": "on"})
    assert both["auto_license_adjustment"] is True


def test_turning_auto_increment_off_while_adjustment_is_on_is_refused() -> None:
    on = apply_changes(DEFAULTS, {"auto_license_adjustment": "on", "auto_increment": "on"})
    with pytest.raises(SettingError, match="needs Auto increment on"):
        apply_changes(on, {"auto_increment": "off"})


@given(st.decimals(min_value=0, max_value=500, places=2, allow_nan=False))
def test_any_percentage_from_0_to_500_with_two_decimals_round_trips(value: Decimal) -> None:
    parsed = parse_value("azure_markup_percent", str(value))
    assert parsed == value
    assert parse_value("azure_markup_percent", format_value(parsed)) == parsed


@pytest.mark.parametrize("raw", ["-1", "500.001", "500.01", "abc", "NaN", "Infinity", "1.234"])
def test_out_of_range_or_malformed_percentages_are_refused(raw: str) -> None:
    with pytest.raises(SettingError):
        parse_value("azure_markup_percent", raw)
