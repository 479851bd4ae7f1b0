"""Shared helpers of the emulator's tests: constants, a scenario builder, a token client."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

NOW = "2025-03-10T12:00:00Z"
TENANT = "11111111-2222-3333-4444-555555555555"
PARTNER_TENANT = "partner.example"
BP = "CFQ7TTC0LCHC:0002"
SKU_BP = "sku-bp"


def northwind(**subscription: Any) -> dict[str, Any]:
    """A one-customer scenario; keyword arguments override the subscription's fields."""
    sub = {
        "id": "sub-1",
        "offer_id": BP,
        "sku_id": SKU_BP,
        "offer_name": "Microsoft 365 Business Premium",
        "term": "P1Y",
        "created": "-40d",
        "term_start": "-40d",
        "tranches": [{"quantity": 10, "added": "-40d"}, {"quantity": 2, "added": "-3d"}],
    }
    sub.update(subscription)
    return {
        "resellers": [{"id": "res-1", "name": "Fabrikam IT", "mpn_id": "1234567"}],
        "customers": [
            {
                "id": "cust-1",
                "name": "Northwind Traders",
                "domain": "northwind.example",
                "tenant_id": TENANT,
                "reseller_id": "res-1",
                "users": [
                    {
                        "id": "u-1",
                        "upn": "ann@northwind.example",
                        "name": "Ann Lee",
                        "licenses": [SKU_BP],
                    }
                ],
                "assigned": {SKU_BP: 4},
                "subscriptions": [sub],
            }
        ],
    }


class Api:
    """A test client that sends a bearer token and JSON."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(headers or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **kw: Any) -> TestResponse:
        """GET with the token."""
        return self.client.get(path, headers=self._headers(headers), **kw)

    def post(
        self, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> TestResponse:
        """POST JSON with the token."""
        return self.client.post(path, json=body, headers=self._headers(headers))

    def patch(self, path: str, body: Any, headers: dict[str, str] | None = None) -> TestResponse:
        """PATCH JSON with the token."""
        return self.client.patch(path, json=body, headers=self._headers(headers))


def issue_token(client: FlaskClient, tenant: str) -> str:
    """A bearer token from the emulator's token endpoint."""
    response = client.post(
        f"/{tenant}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
    )
    assert response.status_code == 200
    token: str = response.get_json()["access_token"]
    return token
