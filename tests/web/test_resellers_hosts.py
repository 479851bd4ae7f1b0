"""A reseller's host name is inactive until proven: by the provider's approval, or by a DNS
TXT record that a job finds (through a real DNS server on UDP, started here)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import dns.message
import dns.rcode
import dns.rrset
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, Reseller
from tests.support.signin import csrf_token

HOST = "portal.fabrikam.example"


class FakeDnsServer:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP) answering TXT questions from
    `records`; every other name is NXDOMAIN."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}
        self.questions: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            answer = dns.message.make_response(query)
            name = query.question[0].name
            key = name.to_text().rstrip(".").lower()
            self.questions.append(key)
            texts = self.records.get(key)
            if texts:
                quoted = [f'"{text}"' for text in texts]
                answer.answer.append(dns.rrset.from_text(name, 60, "IN", "TXT", *quoted))
            else:
                answer.set_rcode(dns.rcode.NXDOMAIN)
            self._sock.sendto(answer.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture
def dns_server(app: Flask) -> Iterator[FakeDnsServer]:
    server = FakeDnsServer()
    app.config.update(HOST_PROOF="dns", HOST_PROOF_NAMESERVERS=[f"127.0.0.1#{server.port}"])
    yield server
    app.config.update(HOST_PROOF="approval", HOST_PROOF_NAMESERVERS=[])
    server.close()


@pytest.fixture
def rita(signed_in: Callable[[str], FlaskClient], demo: dict[str, int]) -> FlaskClient:
    return signed_in("rita@fabrikam.example")


def ask_for_host(client: FlaskClient, host: str = HOST) -> str:
    token = csrf_token(client.get("/admin/branding").get_data(as_text=True))
    answer = client.post(
        "/admin/branding/host",
        data={"host_name": host, "csrf_token": token},
        follow_redirects=True,
    )
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def brand_on(app: Flask, host: str) -> str:
    html = app.test_client().get("/", headers={"Host": host}).get_data(as_text=True)
    return "Fabrikam IT" if "<h1>Fabrikam IT</h1>" in html else "Seatwise"


def fabrikam(app: Flask) -> Reseller:
    with app.app_context():
        reseller = db.session.scalar(select(Reseller).where(Reseller.pc_id == "res-fabrikam"))
        assert reseller is not None
        db.session.expunge(reseller)
        return reseller


def test_a_host_name_is_inactive_until_the_provider_approves_it(
    app: Flask, rita: FlaskClient, signed_in: Callable[[str], FlaskClient]
) -> None:
    page = ask_for_host(rita)
    assert "it becomes active once the provider approves it" in page
    assert "is not active yet" in page
    assert brand_on(app, HOST) == "Seatwise"
    pat = signed_in("pat@partner.example")
    console = pat.get("/resellers/").get_data(as_text=True)
    assert f"{HOST} (waiting for proof)" in console
    assert (
        rita.post(
            "/resellers/res-fabrikam/host/approve", data={"csrf_token": csrf_token(page)}
        ).status_code
        == 403
    )  # a reseller cannot approve its own host
    assert brand_on(app, HOST) == "Seatwise"
    approved = pat.post(
        "/resellers/res-fabrikam/host/approve",
        data={"csrf_token": csrf_token(console)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"{HOST} is now active." in approved
    assert brand_on(app, HOST) == "Fabrikam IT"
    with app.app_context():
        event = db.session.scalar(
            select(AuditEvent).where(AuditEvent.kind == "reseller.host_activated")
        )
        assert event is not None and "pat@partner.example" in event.actor


def test_a_host_name_becomes_active_only_once_its_dns_txt_record_is_found(
    app: Flask, rita: FlaskClient, dns_server: FakeDnsServer, work: Callable[[], None]
) -> None:
    page = ask_for_host(rita)
    assert "add the DNS TXT record below" in page
    token = fabrikam(app).host_token
    assert token and f"seatwise-verification={token}" in page
    assert f"_seatwise-challenge.{HOST}" in page
    work()  # the check queued on saving: no record yet
    assert f"_seatwise-challenge.{HOST}" in dns_server.questions
    assert brand_on(app, HOST) == "Seatwise"
    waiting = rita.get("/admin/branding").get_data(as_text=True)
    assert "No TXT record" in waiting and "was found yet" in waiting
    dns_server.records[f"_seatwise-challenge.{HOST}"] = ["something else"]
    rita.post("/resellers/host/check", data={"csrf_token": csrf_token(waiting)})
    work()
    assert brand_on(app, HOST) == "Seatwise"  # a record with another text proves nothing
    dns_server.records[f"_seatwise-challenge.{HOST}"] = [f"seatwise-verification={token}"]
    rita.post("/resellers/host/check", data={"csrf_token": csrf_token(waiting)})
    work()
    assert fabrikam(app).host_name == HOST
    assert brand_on(app, HOST) == "Fabrikam IT"
    assert f"Active web address: <strong>{HOST}</strong>" in rita.get("/admin/branding").get_data(
        as_text=True
    )
