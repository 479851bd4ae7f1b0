"""Partner Center and Graph error bodies, and the error codes the emulator answers with."""

from __future__ import annotations

from typing import Any

# Partner Center codes (the "code" of the error body). Stable: tests and clients rely on them.
# Where Partner Center documents a code for the same refusal (error-codes.md, and the example
# responses of the pages), the emulator answers with it; the 8001xx codes below are the
# emulator's own for rules whose documented code it has not matched, chosen among numbers
# error-codes.md does not use (see emulator/README.md).
INVALID_INPUT = 800002
NOT_READY = 800082  # 409: a renewal (or an injected conflict) is in progress
UNAUTHORIZED = 800401
NOT_FOUND = 800404
PRECONDITION_FAILED = 800412
TOO_MANY_REQUESTS = 800429
SERVER_ERROR = 800500
GATEWAY_TIMEOUT = 800504
# change-the-quantity-of-a-subscription.md, "Response example for new commerce license
# reduction": 800090 "Subscription quantity cannot be decreased." (error-codes.md: 800090).
DECREASE_OUTSIDE_WINDOW = 800090
BELOW_ONE_SEAT = 800101
BELOW_ASSIGNED = 800102
CANCEL_OUTSIDE_WINDOW = 800103
TRIAL_LOCKED = 800104
SCHEDULE_NEEDS_ACTIVE_AUTO_RENEW = 800105
NOT_ACTIVE = 800106
ADDON_LIMIT = 800108
ONE_PER_CUSTOMER = 800109
TOO_MANY_RESELLERS = 800110
TRANSITION_NOT_ALLOWED = 800113
EST_NOT_ELIGIBLE = 800116
# Documented codes (error-codes.md) for refusals the emulator answered with 8001xx codes
# that Partner Center documents with other meanings (800107 "Term changes are not supported
# for trial offers", 800111 / 800112 / 800114 / 800115 Azure entitlement and overage errors).
UPDATE_CAP_REACHED = 900311  # "This subscription has been updated too many times."
ATTESTATION_REQUIRED = 900206  # "Partner Attestation is missing"
RESELLER_NOT_AUTHORISED = 800016  # "PartnerID isn't a valid Indirect Reseller"
UNKNOWN_CATALOG_ITEM = 800004  # "Invalid offer ID"
# A cart line's customTermEndDate that is not one of the allowed custom term end dates: the
# emulator answers the generic invalid-input code (Microsoft's own code is not documented).
CUSTOM_END_NOT_ALLOWED = INVALID_INPUT
# Documented codes of transitions into an existing subscription and of a shorter term.
TARGET_ENDS_EARLIER = 900236  # "Target subscription CommitmentEndDate must be later ..."
TARGET_NOT_ACTIVE = 900258  # "The target transition ToSubscriptionId ... must be active."
TARGET_IS_SOURCE = 900259  # "... Target subscription id can't be the same as the source ..."
TARGET_OTHER_ITEM = 900260  # "... must have the same CatalogItemId as in the transition ..."
TARGET_TERM_SHORTER = 900267  # "Target transition can't have a term duration shorter ..."

_GRAPH_CODES = {
    400: "Request_BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Authorization_RequestDenied",
    404: "Request_ResourceNotFound",
    405: "Request_BadRequest",
    409: "Conflict",
    412: "PreconditionFailed",
    429: "TooManyRequests",
    500: "InternalServerError",
    504: "GatewayTimeout",
}


class ApiError(Exception):
    """A refusal answered with a Partner Center (or Graph) error body."""

    def __init__(
        self,
        status: int,
        code: int,
        description: str,
        headers: dict[str, str] | None = None,
        graph_code: str | None = None,
    ) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.headers = headers or {}
        self.graph_code = graph_code


def pc_body(code: int, description: str) -> dict[str, Any]:
    """A Partner Center error body."""
    return {"code": code, "description": description, "data": [], "source": "PartnerFD"}


def graph_body(
    status: int, message: str, code: str | None = None, inner: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Microsoft Graph error body; ``inner`` is its innerError (date, request-id,
    client-request-id), as Microsoft Learn's "Microsoft Graph error responses" shows."""
    return {
        "error": {
            "code": code or _GRAPH_CODES.get(status, "UnknownError"),
            "message": message,
            "innerError": inner or {},
        }
    }


def invalid(description: str) -> ApiError:
    """A 400 for a malformed request."""
    return ApiError(400, INVALID_INPUT, description)


def refused(code: int, description: str) -> ApiError:
    """A 400 for a request the NCE rules refuse."""
    return ApiError(400, code, description)


def not_found(what: str) -> ApiError:
    """A 404 for a missing resource."""
    return ApiError(404, NOT_FOUND, f"{what} was not found.")
