"""The JSON shapes of Microsoft Graph resources: user, subscribedSku, licenseDetails,
organization, and what ``$select`` keeps of them.

Sources (Microsoft Learn, Graph v1.0; see README.md, "Graph routes"):
- user-list / user-get: without ``$select`` only the default property set is returned;
  with it, exactly the properties named (``id`` included only when named).
- resources/subscribedsku and subscribedsku-list: accountId, accountName, appliesTo,
  capabilityStatus, consumedUnits, id, prepaidUnits, servicePlans, skuId, skuPartNumber,
  subscriptionIds.
- resources/licensedetails and user-list-licensedetails: id, skuId, skuPartNumber,
  servicePlans.
- resources/organization and organization-get: a collection of exactly one organization.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from emulator.clock import iso
from emulator.model import LIVE_STATUSES, Customer, User
from emulator.shapes import sku_names

# user-list: "By default, only a limited set of properties are returned".
USER_DEFAULT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)
# Properties of microsoft.graph.user the emulator can return when they are selected. Real
# Graph knows many more; naming one of those here is refused (README.md, "Not modelled").
USER_SELECTABLE = (
    *USER_DEFAULT,
    "accountEnabled",
    "assignedLicenses",
    "usageLocation",
    "userType",
    "mailNickname",
    "department",
    "companyName",
    "otherMails",
    "proxyAddresses",
    "signInActivity",
)
SUBSCRIBED_SKU_PROPERTIES = (
    "accountId",
    "accountName",
    "appliesTo",
    "capabilityStatus",
    "consumedUnits",
    "id",
    "prepaidUnits",
    "servicePlans",
    "skuId",
    "skuPartNumber",
    "subscriptionIds",
)
LICENSE_DETAILS_PROPERTIES = ("id", "skuId", "skuPartNumber", "servicePlans")
ORGANIZATION_PROPERTIES = (
    "id",
    "deletedDateTime",
    "assignedPlans",
    "businessPhones",
    "city",
    "country",
    "countryLetterCode",
    "createdDateTime",
    "defaultUsageLocation",
    "displayName",
    "marketingNotificationEmails",
    "onPremisesLastSyncDateTime",
    "onPremisesSyncEnabled",
    "postalCode",
    "preferredLanguage",
    "privacyProfile",
    "provisionedPlans",
    "securityComplianceNotificationMails",
    "securityComplianceNotificationPhones",
    "state",
    "street",
    "technicalNotificationMails",
    "tenantType",
    "verifiedDomains",
)

# Generated identifiers are UUIDv5 in one namespace: stable across runs and resets.
_NAMESPACE = uuid.UUID("6f1d7c2e-5b0a-4c1e-9d3f-2a8b4e6c0d15")
# Each SKU gets two generated service plans: one that applies to the user, one to the
# company (as the documented examples mix both). Real plan ids and names differ per SKU.
_PLANS = (("USER", "User"), ("COMPANY", "Company"))


def stable_id(*parts: str) -> str:
    """A GUID derived from the parts (the same parts give the same GUID)."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def pick(resource: dict[str, Any], names: list[str] | None, default: tuple[str, ...]) -> Any:
    """The properties ``$select`` names, else the default set, in the resource's order."""
    wanted = set(names) if names is not None else set(default)
    return {key: value for key, value in resource.items() if key in wanted}


def user_resource(user: User) -> dict[str, Any]:
    """Every user property the emulator models (``pick`` decides which are sent)."""
    return {
        "businessPhones": [],
        "displayName": user.name,
        "givenName": None,
        "jobTitle": None,
        "mail": user.upn,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": None,
        "userPrincipalName": user.upn,
        "id": user.id,
        "accountEnabled": user.account_enabled,
        "assignedLicenses": [
            {"disabledPlans": list(plans), "skuId": sku} for sku, plans in user.licenses.items()
        ],
        "usageLocation": None,
        "userType": "Member",
        "mailNickname": user.upn.split("@", 1)[0],
        "department": None,
        "companyName": None,
        "otherMails": [],
        "proxyAddresses": [],
        "signInActivity": sign_in_activity(user),
    }


def sign_in_activity(user: User) -> dict[str, Any] | None:
    """user.signInActivity (resources/signinactivity): the last interactive, non-interactive
    and successful sign-in; null for a user who never signed in. The request ids are stable
    GUIDs per user and moment."""

    def moment(when: datetime | None, kind: str) -> tuple[str | None, str | None]:
        if when is None:
            return None, None
        return iso(when), stable_id("signin", kind, user.id, iso(when))

    interactive, interactive_id = moment(user.last_sign_in, "interactive")
    background, background_id = moment(user.last_non_interactive_sign_in, "non-interactive")
    if interactive is None and background is None:
        return None
    latest = max(m for m in (user.last_sign_in, user.last_non_interactive_sign_in) if m is not None)
    success, success_id = moment(latest, "success")
    return {
        "lastSignInDateTime": interactive,
        "lastSignInRequestId": interactive_id,
        "lastNonInteractiveSignInDateTime": background,
        "lastNonInteractiveSignInRequestId": background_id,
        "lastSuccessfulSignInDateTime": success,
        "lastSuccessfulSignInRequestId": success_id,
    }


def service_plans(customer: Customer, sku_id: str, active: bool) -> list[dict[str, Any]]:
    """The SKU's service plans (generated, stable per SKU): what ``disabledPlans`` names."""
    _name, part = sku_names(customer, sku_id)
    return [
        {
            "servicePlanId": stable_id("plan", sku_id, suffix),
            "servicePlanName": f"{part}_{suffix}",
            "provisioningStatus": "Success" if active else "Disabled",
            "appliesTo": applies_to,
        }
        for suffix, applies_to in _PLANS
    ]


def plan_ids(customer: Customer, sku_id: str) -> set[str]:
    """The servicePlanIds of a SKU."""
    return {p["servicePlanId"] for p in service_plans(customer, sku_id, True)}


def subscribed_sku(customer: Customer, sku_id: str) -> dict[str, Any]:
    """One subscribedSku: enabled = seats of active subscriptions, suspended likewise,
    consumed = users holding the SKU; subscriptionIds = its live subscriptions' ids."""
    active = customer.units(sku_id)
    _name, part = sku_names(customer, sku_id)
    return {
        "accountName": customer.name,
        "accountId": stable_id("account", customer.tenant_id),
        "appliesTo": "User",
        "capabilityStatus": "Enabled" if active else "Suspended",
        "consumedUnits": customer.consumed[sku_id],
        "id": f"{customer.tenant_id}_{sku_id}",
        "prepaidUnits": {
            "enabled": active,
            "lockedOut": 0,
            "suspended": customer.units(sku_id, "suspended"),
            "warning": 0,
        },
        "servicePlans": service_plans(customer, sku_id, bool(active)),
        "skuId": sku_id,
        "skuPartNumber": part,
        "subscriptionIds": [
            s.id
            for s in customer.subscriptions.values()
            if s.sku_id == sku_id and s.status in LIVE_STATUSES
        ],
    }


def license_details(customer: Customer, user: User) -> list[dict[str, Any]]:
    """A user's licenseDetails: per SKU held, its plans; disabled plans say ``Disabled``."""
    items = []
    for sku_id, disabled in user.licenses.items():
        _name, part = sku_names(customer, sku_id)
        plans = service_plans(customer, sku_id, True)
        for plan in plans:
            if plan["servicePlanId"] in disabled:
                plan["provisioningStatus"] = "Disabled"
        raw = uuid.UUID(stable_id("licenseDetails", user.id, sku_id)).bytes
        items.append(
            {
                "id": base64.urlsafe_b64encode(raw).decode().rstrip("="),
                "skuId": sku_id,
                "skuPartNumber": part,
                "servicePlans": plans,
            }
        )
    return items


def _domains(customer: Customer) -> list[dict[str, Any]]:
    """The tenant's initial ``*.onmicrosoft.com`` domain and its own domain (the default)."""
    domain = customer.domain.lower()
    initial = (
        domain
        if domain.endswith(".onmicrosoft.com")
        else f"{domain.split('.', 1)[0]}.onmicrosoft.com"
    )
    names = [initial] if initial == domain else [initial, domain]
    return [
        {
            "capabilities": "Email, OfficeCommunicationsOnline",
            "isDefault": name == domain,
            "isInitial": name == initial,
            "name": name,
            "type": "Managed",
        }
        for name in names
    ]


def organization(customer: Customer, now: datetime) -> dict[str, Any]:
    """The customer tenant as an organization (address and contacts are not modelled)."""
    created = min((s.created for s in customer.subscriptions.values()), default=now)
    plans = []
    for sku_id in customer.sku_ids():
        active = bool(customer.units(sku_id))
        started = min(
            (s.created for s in customer.subscriptions.values() if s.sku_id == sku_id),
            default=created,
        )
        plans += [
            {
                "assignedDateTime": iso(started),
                "capabilityStatus": "Enabled" if active else "Suspended",
                "service": plan["servicePlanName"],
                "servicePlanId": plan["servicePlanId"],
            }
            for plan in service_plans(customer, sku_id, active)
        ]
    return {
        "id": customer.tenant_id,
        "deletedDateTime": None,
        "assignedPlans": plans,
        "businessPhones": [],
        "city": None,
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": iso(created),
        "defaultUsageLocation": None,
        "displayName": customer.name,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "postalCode": None,
        "preferredLanguage": "en",
        "privacyProfile": None,
        "provisionedPlans": [],
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": None,
        "street": None,
        "technicalNotificationMails": [],
        "tenantType": "AAD",
        "verifiedDomains": _domains(customer),
    }
