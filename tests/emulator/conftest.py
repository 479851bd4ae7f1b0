"""Fixtures for the emulator's tests: an app with a frozen clock, a client, tokens, helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from emulator import create_app
from tests.emulator.helpers import NOW, PARTNER_TENANT, TENANT, Api, issue_token, northwind


@pytest.fixture
def emulator_app() -> Flask:
    """An emulator whose clock is frozen at NOW and whose timeouts are short."""
    return create_app({"EMULATOR_NOW": NOW, "EMULATOR_TIMEOUT_SECONDS": 0.01})


@pytest.fixture
def emu(emulator_app: Flask) -> FlaskClient:
    """The emulator's Flask test client."""
    return emulator_app.test_client()


@pytest.fixture
def pc(emu: FlaskClient) -> Api:
    """Partner Center calls with the partner's token."""
    return Api(emu, issue_token(emu, PARTNER_TENANT))


@pytest.fixture
def graph(emu: FlaskClient) -> Api:
    """Graph calls with a token for Northwind's tenant."""
    return Api(emu, issue_token(emu, TENANT))


@pytest.fixture
def load(emu: FlaskClient) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Load a scenario into the emulator."""

    def _load(scenario: dict[str, Any]) -> dict[str, Any]:
        response = emu.post("/_emulator/scenario", json=scenario)
        assert response.status_code == 201, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    return _load


@pytest.fixture
def clock(emu: FlaskClient) -> Callable[..., dict[str, Any]]:
    """Set or advance the emulator clock."""

    def _clock(**body: Any) -> dict[str, Any]:
        response = emu.post("/_emulator/clock", json=body)
        assert response.status_code == 200, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    return _clock


@pytest.fixture
def northwind_loaded(load: Callable[[dict[str, Any]], dict[str, Any]]) -> dict[str, Any]:
    """Northwind with one Business Premium subscription of 12 seats (2 added 3 days ago)."""
    return load(northwind())
