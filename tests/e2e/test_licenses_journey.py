"""The license page in Chromium: raise, reduce within the window, refused beyond it, and an
Admin schedules the reduction for renewal. A real worker applies each change."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.support.identities import demo_claims
from tests.support.processes import Emulator, OidcProvider


def sign_in(page: Page, live_server: str, provider: OidcProvider, sub: str) -> None:
    provider.set_user(sub, demo_claims(sub))
    page.goto(live_server)
    page.get_by_role("button", name="Sign in with Microsoft").click()
    page.get_by_placeholder("sub").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()


def pc_sub(emulator: Emulator, sub: str) -> dict[str, Any]:
    for customer in emulator.state()["customers"]:
        for item in customer["subscriptions"]:
            if item["id"] == sub:
                return dict(item)
    raise AssertionError(sub)


def patches(emulator: Emulator) -> int:
    return sum(1 for r in emulator.state()["requests"] if r["method"] == "PATCH")


def test_modify_user_changes_seats_within_the_rules_and_admin_schedules_at_renewal(
    page: Page,
    live_server: str,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    worker: None,
) -> None:
    sign_in(page, live_server, oidc_provider, "ann@northwind.example")
    row = page.locator("#sub-sub-nw-bp")
    expect(row).to_contain_text("2 seats can be reduced now")

    page.get_by_role("button", name="Add one seat to Microsoft 365 Business Premium").click()
    expect(row).to_contain_text("Updating: Change seats from 12 to 13")
    expect(row).to_contain_text("Done: 13 seats.", timeout=15000)
    # A screen reader hears the outcome once, from the page's one live region.
    expect(page.locator("#live")).to_have_text("Done: 13 seats.")
    assert page.locator("[aria-live]").count() == 1
    assert pc_sub(emulator, "sub-nw-bp")["quantity"] == 13

    seats = page.get_by_label("New seat count for Microsoft 365 Business Premium")
    seats.fill("11")
    row.get_by_role("button", name="Update").click()
    expect(row).to_contain_text("Done: 11 seats.", timeout=15000)
    assert pc_sub(emulator, "sub-nw-bp")["quantity"] == 11

    sent = patches(emulator)
    page.get_by_label("New seat count for Microsoft 365 Business Premium").fill("9")
    row.get_by_role("button", name="Update").click()
    expect(row).to_contain_text("Only 1 seat can be reduced now")
    expect(page.locator("#live")).to_contain_text("Only 1 seat can be reduced now")
    assert patches(emulator) == sent  # refused here: nothing went to Partner Center

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, live_server, oidc_provider, "max@northwind.example")
    page.get_by_role("link", name="Northwind Traders").click()
    page.get_by_label("New seat count for Microsoft 365 Business Premium").fill("9")
    row.get_by_role("button", name="Update").click()
    page.get_by_role("button", name=re.compile(r"Schedule 9 seats for renewal on")).click()
    expect(row).to_contain_text("Scheduled: renews with 9 seats.", timeout=15000)
    held = pc_sub(emulator, "sub-nw-bp")
    assert held["scheduledNextTermInstructions"]["quantity"] == 9
    assert held["quantity"] == 11 and held["autoRenewEnabled"] is True

    # The Admin's other actions open in the row's manage panel; turning auto-renew off
    # asks for confirmation first (it would drop the scheduled change).
    row.get_by_text("Manage").click()
    turn_off = row.get_by_role("button", name="Turn auto-renew off")
    expect(turn_off).to_be_visible()
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    # Asked what happens at the end of the term; "cancel at the end" is offered first.
    choice = row.get_by_role("group", name=re.compile("Turn auto-renew off"))
    expect(choice.get_by_role("radio", name="Cancel at the end of the term")).to_be_checked()
    expect(choice.get_by_role("radio", name=re.compile("Extended service term"))).to_be_visible()
    page.once("dialog", accept)
    turn_off.click()
    expect(row).to_contain_text("Auto-renew off", timeout=15000)
    expect(row).to_contain_text(re.compile(r"Ends \d{1,2} [A-Z][a-z]{2} \d{4}"))
    assert asked and "scheduled" in asked[0].lower()
    held = pc_sub(emulator, "sub-nw-bp")
    assert held["autoRenewEnabled"] is False
    assert [a["actionType"] for a in held["scheduledActions"]] == ["Cancel"]

    # Changing one's mind: the extended service term instead, with its price said first.
    row.get_by_text("Manage").click()
    choice = row.get_by_role("group", name=re.compile("At the end of the term"))
    est = choice.get_by_role("radio", name=re.compile("Extended service term"))
    expect(choice).to_contain_text("+3 %")
    est.check()
    row.get_by_role("button", name="Save the end-of-term choice").click()
    expect(row).to_contain_text(
        re.compile(r"Goes to monthly extended term on .* at \+3 %"), timeout=15000
    )
    held = pc_sub(emulator, "sub-nw-bp")
    assert [a["actionType"] for a in held["scheduledActions"]] == ["RenewToExtendedServiceTerm"]


def test_boosted_navigation_and_history_always_show_whole_pages(
    page: Page,
    live_server: str,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
) -> None:
    sign_in(page, live_server, oidc_provider, "pat@partner.example")
    nav = page.get_by_role("navigation", name="Main")
    page.goto(f"{live_server}/c/cust-northwind/licenses")
    expect(page.get_by_role("heading", level=1, name=re.compile("Licenses"))).to_be_visible()
    page.get_by_role("link", name="People", exact=True).click()
    expect(page.get_by_role("heading", level=1, name=re.compile("People"))).to_be_visible()
    nav.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    for step, heading in ((page.go_back, "People"), (page.go_back, "Licenses")):
        step()
        expect(page.get_by_role("heading", level=1, name=re.compile(heading))).to_be_visible()
        expect(nav).to_be_visible()  # a whole page, never a bare fragment
    page.go_forward()
    expect(page.get_by_role("heading", level=1, name=re.compile("People"))).to_be_visible()
    expect(nav).to_be_visible()


def test_retry_on_a_failed_row_replaces_that_row_only(
    page: Page,
    live_server: str,
    oidc_provider: OidcProvider,
    demo: dict[str, int],
    emulator: Emulator,
    worker: None,
) -> None:
    sign_in(page, live_server, oidc_provider, "ann@northwind.example")
    emulator.faults({"method": "PATCH", "path": "sub-nw-bp$", "status": 400, "times": 1})
    row = page.locator("#sub-sub-nw-bp")
    rows = page.locator("tr.subscription").count()
    page.get_by_role("button", name="Add one seat to Microsoft 365 Business Premium").click()
    expect(row).to_contain_text("Failed:", timeout=15000)
    row.get_by_role("button", name="Retry").click()
    expect(row).to_contain_text("Done: 13 seats.", timeout=15000)
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()  # not swapped away
    assert page.locator("tr.subscription").count() == rows
    assert page.locator("#sub-sub-nw-bp").count() == 1
    assert pc_sub(emulator, "sub-nw-bp")["quantity"] == 13
