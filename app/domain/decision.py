"""What a rule answers: allowed, refused with a reason, or possible only at renewal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class Verdict(StrEnum):
    """The answer of a rule."""

    ALLOWED = "allowed"
    REFUSED = "refused"
    AT_RENEWAL_ONLY = "at_renewal_only"


class Code(StrEnum):
    """A stable, machine-readable name for why a rule answered as it did."""

    OK = "ok"
    NO_CHANGE = "no_change"
    NOT_ACTIVE = "not_active"
    NOT_SUSPENDED = "not_suspended"
    TRIAL = "trial"
    NOT_TRIAL = "not_trial"
    NOT_NCE = "not_nce"
    RENEWAL_PENDING = "renewal_pending"
    TERM_ENDED = "term_ended"
    UPDATE_CAP = "update_cap"
    BELOW_MINIMUM = "below_minimum"
    BELOW_ASSIGNED = "below_assigned"
    OUTSIDE_WINDOW = "outside_window"
    AUTO_RENEW_OFF = "auto_renew_off"
    NO_SCHEDULED_CHANGES = "no_scheduled_changes"
    TRIAL_MINIMUM = "trial_minimum"
    TARGET_ENDS_EARLIER = "target_ends_earlier"
    TARGET_NOT_USABLE = "target_not_usable"
    ADDON_LIMIT = "addon_limit"
    ADDON_MINIMUM = "addon_minimum"
    ONE_PER_CUSTOMER = "one_per_customer"
    NOT_AN_UPGRADE = "not_an_upgrade"
    UNSUPPORTED_PATH = "unsupported_path"
    UNKNOWN_OFFER = "unknown_offer"
    EST_NOT_IN_SCOPE = "est_not_in_scope"
    CHANGED_ELSEWHERE = "changed_elsewhere"


@dataclass(frozen=True, slots=True)
class Decision:
    """A rule's verdict, a reason a person understands, warnings and the data behind it.

    `lowest_quantity_now`: the lowest seat count a decrease may reach now;
    `deadline`: until when the allowed action stays possible (decrease or cancel window);
    `renewal_on`: the renewal day, when something is possible only then;
    `refund`: the prorated refund of a cancellation; `retry_after`: when to try again.
    """

    verdict: Verdict
    reason: str
    code: Code = Code.OK
    warnings: tuple[str, ...] = ()
    lowest_quantity_now: int | None = None
    deadline: datetime | None = None
    renewal_on: date | None = None
    refund: Decimal | None = None
    retry_after: timedelta | None = None

    @property
    def allowed(self) -> bool:
        """True when the action may be done now."""
        return self.verdict is Verdict.ALLOWED

    def require(self) -> Decision:
        """Return self when allowed now; raise RuleViolation otherwise."""
        if not self.allowed:
            raise RuleViolation(self)
        return self


class RuleViolation(Exception):
    """Raised by services when a request breaks a rule; carries the decision."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


def allow(reason: str, warnings: tuple[str, ...] = ()) -> Decision:
    """An ALLOWED decision with its warnings."""
    return Decision(Verdict.ALLOWED, reason, Code.OK, warnings)


def refuse(code: Code, reason: str) -> Decision:
    """A REFUSED decision."""
    return Decision(Verdict.REFUSED, reason, code)
