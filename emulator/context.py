"""The emulator instance bound to a Flask app: state, tokens and traffic control."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from emulator.state import Store
    from emulator.tokens import Tokens
    from emulator.traffic import Faults, RequestLog, Throttle


@dataclass
class Emulator:
    """Everything one emulator app holds."""

    store: Store
    tokens: Tokens
    faults: Faults
    throttle: Throttle
    log: RequestLog
    timeout_seconds: float


def current() -> Emulator:
    """The emulator of the app handling this request."""
    emulator: Emulator = current_app.extensions["emulator"]
    return emulator
