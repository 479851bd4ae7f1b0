"""The audit log: every change newest first, filters, paging, CSV export, reseller scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import insert, select

from app.extensions import db
from app.models import AuditEvent, Customer
from app.services.audit_log import safe_cell
from tests.support.signin import csrf_token

LOG = "/admin/audit"
HX = {"HX-Request": "true"}


def customer_id(app: Flask, pc_id: str) -> int:
    with app.app_context():
        found = db.session.scalar(select(Customer.id).where(Customer.pc_id == pc_id))
        assert found is not None
        return int(found)


def add_event(app: Flask, **values: object) -> None:
    row = {
        "at": datetime.now(UTC),
        "actor": "job:sync",
        "kind": "test.event",
        "outcome": "ok",
        **values,
    }
    with app.app_context():
        db.session.execute(insert(AuditEvent), [row])
        db.session.commit()


@pytest.fixture
def pat(signed_in: Callable[[str], FlaskClient], demo: dict[str, int]) -> FlaskClient:
    return signed_in("pat@partner.example")


def test_a_settings_change_appears_first_with_who_customer_object_before_and_after(
    pat: FlaskClient,
) -> None:
    token = csrf_token(pat.get("/admin/customers/cust-contoso").get_data(as_text=True))
    pat.post(
        "/admin/customers/cust-contoso/settings/reporting",
        data={"value": "on", "csrf_token": token},
    )
    page = pat.get(LOG)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    first = html[html.index("<tbody>") :]
    first = first[: first.index("</tr>")]
    for text in (
        "pat@partner.example",
        "Contoso Ltd",
        "settings.changed",
        "customer cust-contoso",
        "reporting: off",
        "reporting: on",
        ">ok<",
    ):
        assert text in first, text


def test_filters_by_customer_person_kind_and_dates(app: Flask, pat: FlaskClient) -> None:
    contoso = customer_id(app, "cust-contoso")
    old = datetime(2025, 3, 10, 23, 30, tzinfo=UTC)
    add_event(app, customer_id=contoso, actor="zed@partner.example", kind="x.one", at=old)
    add_event(app, actor="someone@else.example", kind="x.two", at=old + timedelta(days=5))

    def shown(**query: str) -> str:
        answer = pat.get(LOG, query_string=query)
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    assert "zed@partner.example" in shown(customer="contoso")
    assert "zed@partner.example" in shown(customer="cust-contoso")
    assert "zed@partner.example" not in shown(customer="Northwind")
    assert "someone@else.example" not in shown(person="zed")
    html = shown(kind="x.two")
    assert "someone@else.example" in html and "zed@partner.example" not in html
    html = shown(since="2025-03-10", until="2025-03-10")  # both ends inclusive
    assert "zed@partner.example" in html and "someone@else.example" not in html
    assert "1 event" in html
    assert "x.one" in shown()  # the kinds offered in the filter


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "yesterday"}, "From must be a date like 2026-01-31, not &#39;yesterday&#39;."),
        ({"until": "2025-02-30"}, "To must be a date like 2026-01-31"),
        ({"since": "0001-01-01"}, "From must be a date between 2000 and 2100"),
        (
            {"since": "2025-05-02", "until": "2025-05-01"},
            "The From date (2025-05-02) is after the To date (2025-05-01).",
        ),
    ],
)
def test_bad_dates_get_a_clear_message_not_an_error_page(
    pat: FlaskClient, query: dict[str, str], message: str
) -> None:
    page = pat.get(LOG, query_string=query)
    assert page.status_code == 422  # the one status of a refused form, page or fragment
    assert message in page.get_data(as_text=True)
    fragment = pat.get(LOG, query_string=query, headers=HX)
    assert fragment.status_code == 422  # base.html tells htmx to swap it
    assert message in fragment.get_data(as_text=True)
    export = pat.get(f"{LOG}.csv", query_string=query)
    assert export.status_code == 400 and export.mimetype == "text/plain"
    assert message.replace("&#39;", "'") in export.get_data(as_text=True)


def test_htmx_filtering_returns_only_the_table(pat: FlaskClient) -> None:
    fragment = pat.get(LOG, query_string={"kind": "demo.seeded"}, headers=HX)
    html = fragment.get_data(as_text=True)
    assert "<html" not in html and html.lstrip().startswith('<div id="audit-table">')
    assert "demo.seeded" in html
    assert "HX-Request" in fragment.headers["Vary"]
    assert "<html" in pat.get(LOG, query_string={"kind": "demo.seeded"}).get_data(as_text=True)


def test_the_log_is_paged_newest_first(app: Flask, pat: FlaskClient) -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with app.app_context():
        db.session.execute(
            insert(AuditEvent),
            [
                {
                    "at": start + timedelta(minutes=n),
                    "actor": f"n{n:03d}@x.example",
                    "kind": "bulk.event",
                    "outcome": "ok",
                }
                for n in range(120)
            ],
        )
        db.session.commit()
    first = pat.get(LOG, query_string={"kind": "bulk.event"}).get_data(as_text=True)
    assert "120 events" in first and "page 1 of 3" in first
    assert first.index("n119@") < first.index("n118@") and "n069@" not in first
    third = pat.get(LOG, query_string={"kind": "bulk.event", "page": "3"}).get_data(as_text=True)
    assert "n000@" in third and "n020@" not in third and "kind=bulk.event" in third


def test_csv_export_has_the_filtered_rows_escaped_and_safe_from_formulas(
    app: Flask, pat: FlaskClient
) -> None:
    contoso = customer_id(app, "cust-contoso")
    add_event(
        app,
        customer_id=contoso,
        actor='=HYPERLINK("http://evil.example","click")',
        kind="csv.test",
        object_type="subscription",
        object_id="sub-1",
        before={"quantity": 5},
        after={"quantity": 6},
        outcome="failed",
        message='+cmd, "quoted"\nsecond line',
    )
    add_event(app, actor="@sum", kind="csv.test", message="-1")
    export = pat.get(f"{LOG}.csv", query_string={"kind": "csv.test"})
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    assert "attachment" in export.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(export.get_data(as_text=True))))
    assert rows[0][:3] == ["when (UTC)", "who", "customer"]
    assert len(rows) == 3
    second, first = rows[1], rows[2]  # newest first
    assert first[1] == '\'=HYPERLINK("http://evil.example","click")'
    assert first[2:6] == ["Contoso Ltd", "cust-contoso", "csv.test", "subscription sub-1"]
    assert first[6:9] == ['{"quantity": 5}', '{"quantity": 6}', "failed"]
    assert first[9] == '\'+cmd, "quoted"\nsecond line'
    assert second[1] == "'@sum" and second[9] == "'-1"


def test_safe_cell_quotes_only_what_a_spreadsheet_would_run() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+1", "-1", "@A1", "\t=1", "ann", "1-2")] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@A1",
        "'\t=1",
        "ann",
        "1-2",
    ]


def test_reseller_admin_sees_only_events_of_their_customers(
    app: Flask, signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    add_event(app, customer_id=customer_id(app, "cust-contoso"), actor="contoso-event")
    add_event(app, customer_id=customer_id(app, "cust-northwind"), actor="northwind-event")
    add_event(app, actor="partner-wide-event")
    rita = signed_in("rita@fabrikam.example")
    html = rita.get(LOG).get_data(as_text=True)
    assert "northwind-event" in html
    assert "contoso-event" not in html and "partner-wide-event" not in html
    assert "Contoso Ltd" not in html and "demo.seeded" not in html
    export = rita.get(f"{LOG}.csv").get_data(as_text=True)
    assert "northwind-event" in export and "contoso-event" not in export


def test_people_who_are_not_staff_do_not_find_the_log(
    signed_in: Callable[[str], FlaskClient], demo: dict[str, int]
) -> None:
    ada = signed_in("ada@contoso.example")
    assert ada.get(LOG).status_code == 404
    assert ada.get(f"{LOG}.csv").status_code == 404
