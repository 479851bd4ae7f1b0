"""Insights refresh benchmark: the Graph calls of one refresh for a 5,000-person tenant,
measured against the emulator's request log, and checked against Graph's limits.

`python -m bench.insights [--quick] [--no-record]`

Two tenants of 5,000 people: one with Entra ID P1 (signInActivity; Graph pages it by 120)
and one without (403 first, then the users by 999 and the usage reports only). Limits
(learn.microsoft.com/graph/throttling-limits, ../shared/NOTES.md): usage reports 14
requests per 10 minutes per app and tenant; identity 8,000 resource units per 10 s for a
tenant of more than 500 users (GET users 2 units, 1 with $select; subscribedSkus 3).
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import common

E3, E3_SKU = "CFQ7TTC0LFLX:0001", "05e9a617-0261-4cee-bb44-138d3ef5d965"
REPORTS_LIMIT = 14  # per 10 minutes per app per tenant
IDENTITY_UNITS = 8000  # per 10 s, tenants > 500 users


def _scenario(customer: str, people: int, premium: bool) -> dict[str, Any]:
    return {
        "customers": [
            {
                "id": customer,
                "name": customer,
                "entra_premium": premium,
                "assigned": {E3_SKU: people},
                "subscriptions": [
                    {
                        "id": f"{customer}-e3",
                        "offer_id": E3,
                        "sku_id": E3_SKU,
                        "quantity": people + 10,
                        "created": "-40d",
                        "term_start": "-40d",
                    }
                ],
            }
        ]
    }


def _kind(path: str) -> str:
    if "/reports/" in path:
        return "report"
    if path.endswith("/subscribedSkus"):
        return "skus"
    if path.endswith("/users"):
        return "users"
    return "other"


def run(*, quick: bool = False, record: bool = True) -> common.Result:
    """Refresh each tenant once; count its Graph requests by kind."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Customer
    from app.services import insights, sync

    people = 600 if quick else 5000
    result = common.Result(
        "insights", f"Insights refresh of a {people:,}-person tenant: Graph requests", quick
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        common.emulator() as emu,
        common.redis(Path(tmp)) as redis_url,
        common.seatwise(Path(tmp), emu.url, redis_url) as app,
    ):
        for customer, premium in (("bench-p1", True), ("bench-free", False)):
            emu.load(_scenario(customer, people, premium))
            with app.app_context():
                sync.sync_customer(customer)
                row = db.session.scalar(select(Customer).where(Customer.pc_id == customer))
                assert row is not None
                before = len(emu.request_log())
                started = time.monotonic()
                report = insights.refresh(row.id)
                seconds = time.monotonic() - started
            log = emu.request_log()[before:]
            kinds = Counter(
                _kind(r["path"]) for r in log if r["path"].startswith(("/v1.0", "/beta"))
            )
            failed = sum(1 for r in log if r["status"] >= 400)
            units = kinds["users"] * 1 + kinds["skus"] * 3  # $select takes one unit off users
            label = "with Entra ID P1" if premium else "without P1 (reports only)"
            result.add(
                f"{label}: Graph requests (users pages / subscribedSkus / reports)",
                f"{sum(kinds.values())} ({kinds['users']} / {kinds['skus']} / {kinds['report']})",
            )
            result.add(
                f"{label}: usage-report requests per refresh",
                str(kinds["report"]),
                f"<= {REPORTS_LIMIT} per 10 min",
                kinds["report"] <= REPORTS_LIMIT,
            )
            result.add(
                f"{label}: identity resource units (even if sent within 10 s)",
                str(units),
                f"<= {IDENTITY_UNITS:,} per 10 s",
                units <= IDENTITY_UNITS,
            )
            result.add(
                f"{label}: people matched · refresh time",
                f"{report.people:,} · {seconds:.1f} s",
            )
            if not premium:
                result.add(f"{label}: refused requests (the 403 for signInActivity)", str(failed))
    result.notes.append(
        "One refresh uses 3 usage-report requests, so 4 refreshes of one tenant fit in 10 "
        "minutes; the job runs nightly (cron `nightly-insights`), on demand (Refresh) and "
        "after the demo seed."
    )
    result.notes.append(
        "The cost of selecting signInActivity in resource units is not documented; even at "
        "the full 2 units per users page the refresh stays far below the identity limit."
    )
    common.publish(result, record=record)
    return result


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    options = common.arguments(__doc__, argv)
    run(quick=options.quick, record=options.record)


if __name__ == "__main__":
    main()
