"""Load benchmark: 50 concurrent people on pages and changes for 60 s; no 5xx, the p95s.

`python -m bench.load [--seconds 60] [--users 50] [--quick] [--no-record]`

Everything runs as in production: gunicorn with `gunicorn.conf.py` (`-w 2 -k gthread
--threads 4`, as bench.pages starts it, with the production settings), two real RQ workers
(`flask --app wsgi worker`, as bench.changes starts them) applying the changes against the
emulator (Partner Center and Graph over HTTP), an embedded redis-server and a migrated
SQLite file. The emulator holds 20 customers x 10 subscriptions (quick: 4 x 5) with 8 users
each holding a license, synced into the database the usual way (`sync.sync_all`).

The people: one in 6 is a partner admin, the others end users of the customers in turn
(Modify, every third one Admin; self-service is on), each with the session cookie a
sign-in gives (`bench.pages.session_cookie`). Each person loops until the time is up,
waiting 0 - 0.5 s between two requests: the license page of their company (a partner admin
picks one at random), now and then a change through the form that page rendered (its CSRF
token, version and fresh idempotency key; `HX-Request: true`, as htmx posts it): mostly
"+1", else a new seat count (up by 1-3, or down by one, which the rules mostly refuse with
422); then a poll of a row (the changed one, `?change=<id>`, as its `hx-get` polls), the
people page (Admins: it is Admin only) and, for partner admins, the admin customer list.

Reported per kind of request: count, p50/p95/p99 and the statuses. 422 (a refused form),
409 and 429 are answers the app means; any 5xx, any transport error or any other status is
a failure and the run exits non-zero. At the end the changes still open are waited for;
the outbox's accepted / done / failed counts are reported, and the emulator's seat counts
must agree with the database (the last done change of each subscription, its quantity).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from flask import Flask
from sqlalchemy import func, select, update

from app.domain.roles import Role
from app.extensions import db
from app.models import ChangeRequest, Customer, Membership, Subscription, User
from app.models._types import utcnow
from app.services import sync
from bench import changes, common, pages

SEED = 16


@dataclass(frozen=True)
class Size:
    """How many customers, people and seconds."""

    customers: int
    subscriptions: int  # per customer
    users: int
    seconds: float
    directory_users: int = 8  # per customer, each holding a license (the people page)


FULL = Size(customers=20, subscriptions=10, users=50, seconds=60.0)
QUICK = Size(customers=4, subscriptions=5, users=10, seconds=5.0)
WORKERS = 2  # RQ workers applying the changes
PARTNER_ADMIN_EVERY = 6  # one person in 6 is a partner admin
CHANGE_CHANCE = 0.3  # a loop that also posts a change
ADD_ONE_SHARE = 0.7  # of the changes: "+1"; the others type a new seat count
THINK = 0.5  # seconds, at most, between two requests of one person
TIMEOUT = 30.0  # seconds an answer may take
DRAIN = 120.0  # seconds the changes still open after the load may take to end
MEANT = {200, 409, 422, 429}  # answers the app means; anything else is a failure
KINDS = (
    "license page",
    "people page",
    "admin customer list",
    "row poll",
    "change: +1",
    "change: new quantity",
)
ROW = re.compile(r'<tr id="sub-([^"]+)"')
QTY_FORM = re.compile(
    r'<span class="seat-count">(\d+)</span>.*?<form method="post" class="qty-form" '
    r'action="([^"]+)".*?name="csrf_token" value="([^"]+)".*?name="version" value="(\d+)"'
    r'.*?name="idempotency_key" value="([0-9a-f]+)"',
    re.DOTALL,
)
LOG_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d ")  # a new line of gunicorn's or Flask's log
POLL = re.compile(r'hx-get="([^"]+/row\?change=\d+)"')


# --- seeding -----------------------------------------------------------------------------


def scenario(size: Size) -> dict[str, Any]:
    """bench.changes' customers (active NCE subscriptions of 10 seats) with licensed users."""
    found = changes.scenario(size.customers, size.subscriptions)
    for customer in found["customers"]:
        sku = customer["subscriptions"][0]["sku_id"]
        customer["assigned"] = {sku: size.directory_users}
    return found


@dataclass(frozen=True)
class Person:
    """One simulated person: who, their company (None: a partner admin picks any)."""

    user_id: int
    customer: str | None
    role: Role

    @property
    def partner_admin(self) -> bool:
        return self.customer is None


def people(app: Flask, size: Size) -> tuple[list[Person], list[str]]:
    """The partner admin (bench.changes') and one end user per person, in turn over the
    customers (Modify, every third Admin), with a bound membership; the customers' ids."""
    admin_id = changes.partner_admin(app)
    found: list[Person] = []
    with app.app_context():
        db.session.execute(update(Customer).values(self_service=True))
        customers = list(db.session.scalars(select(Customer).order_by(Customer.pc_id)))
        for n in range(size.users):
            if n % PARTNER_ADMIN_EVERY == PARTNER_ADMIN_EVERY - 1:
                found.append(Person(admin_id, None, Role.ADMIN))
                continue
            customer = customers[n % len(customers)]
            role = Role.ADMIN if n % 3 == 0 else Role.MODIFY
            email = f"person{n:03d}@{customer.domain}"
            user = User(tid=customer.tenant_id, oid=f"load-{n:03d}", email=email, name=f"P {n}")
            db.session.add(user)
            db.session.flush()
            db.session.add(
                Membership(
                    customer_id=customer.id,
                    email=email,
                    role=role,
                    user_id=user.id,
                    bound_at=utcnow(),
                )
            )
            found.append(Person(user.id, customer.pc_id, role))
        db.session.commit()
        return found, [c.pc_id for c in customers]


# --- the load ------------------------------------------------------------------------------


@dataclass
class Kind:
    """The answers to one kind of request."""

    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, every answer
    statuses: Counter[str] = field(default_factory=Counter)  # status or transport error

    def ms(self, p: float) -> float:
        return common.percentile(self.latencies, p) * 1000

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.statuses.items() if not _meant(status))


def _meant(status: str) -> bool:
    return status.isdigit() and int(status) in MEANT


@dataclass
class Load:
    """What the people asked and got."""

    seconds: float
    kinds: dict[str, Kind] = field(default_factory=lambda: {k: Kind(k) for k in KINDS})
    accepted: int = 0  # changes the app took (200 with the row pending)
    examples: dict[str, str] = field(default_factory=dict)  # a failure of each kind: its text
    client_cpu: float = 0.0
    server_cpu: float = 0.0

    @property
    def requests(self) -> int:
        return sum(len(k.latencies) for k in self.kinds.values())

    @property
    def failures(self) -> int:
        return sum(k.failures for k in self.kinds.values())

    @property
    def server_errors(self) -> int:
        return sum(
            n for k in self.kinds.values() for s, n in k.statuses.items() if s.startswith("5")
        )


class Session:
    """One person's session cookie, kept as the server renews it (the CSRF token of a page
    lives in the session the same answer sets)."""

    def __init__(self, cookie: str) -> None:
        self.cookie = cookie

    def headers(self, htmx: bool = False) -> dict[str, str]:
        found = {"User-Agent": pages.USER_AGENT, "Cookie": f"session={self.cookie}"}
        if htmx:
            found["HX-Request"] = "true"
        return found

    def keep(self, answer: httpx.Response) -> None:
        for header in answer.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name.strip() == "session":
                self.cookie = rest.split(";", 1)[0]


def _forms(html: str) -> list[tuple[str, str, str, str, str]]:
    """(seats, action, CSRF token, version, idempotency key) of each row's seat form (a row
    with a change in flight has none)."""
    found = []
    for row in html.split('<tr id="sub-')[1:]:
        form = QTY_FORM.search(row)
        if form is not None:
            seats, action, csrf, version, key = form.groups()
            found.append((seats, action, csrf, version, key))
    return found


async def _person(
    client: httpx.AsyncClient,
    load: Load,
    person: Person,
    session: Session,
    customers: list[str],
    rng: random.Random,
    deadline: float,
) -> None:
    """One person's loop until the deadline."""

    async def ask(kind: str, method: str, path: str, **options: Any) -> httpx.Response | None:
        started = time.perf_counter()
        answer: httpx.Response | None = None
        try:
            answer = await client.request(method, path, **options)
        except httpx.TransportError as error:
            status, text = type(error).__name__, str(error)
        else:
            status, text = str(answer.status_code), answer.text
            session.keep(answer)
        load.kinds[kind].latencies.append(time.perf_counter() - started)
        load.kinds[kind].statuses[status] += 1
        if not _meant(status):
            load.examples.setdefault(f"{kind} {status}", text[:300])
        return answer

    async def think() -> None:
        await asyncio.sleep(rng.uniform(0, THINK))

    while time.perf_counter() < deadline:
        customer = person.customer or rng.choice(customers)
        base = f"/c/{customer}"
        page = await ask("license page", "GET", f"{base}/licenses", headers=session.headers())
        forms = _forms(page.text) if page is not None and page.status_code == 200 else []
        await think()
        poll = None
        if forms and rng.random() < CHANGE_CHANCE and time.perf_counter() < deadline:
            seats, action, csrf, version, key = rng.choice(forms)
            data = {"csrf_token": csrf, "version": version, "idempotency_key": key}
            if rng.random() < ADD_ONE_SHARE:  # the button sends the typed field too
                kind = "change: +1"
                data |= {"quantity": seats, "add_one": "1"}
            else:
                kind = "change: new quantity"
                data["quantity"] = str(max(int(seats) + rng.choice((1, 2, 3, -1)), 1))
            answer = await ask(kind, "POST", action, data=data, headers=session.headers(True))
            if answer is not None and answer.status_code == 200:
                load.accepted += 1
                found = POLL.search(answer.text)
                poll = found.group(1) if found else None
            await think()
        if poll is None and page is not None:
            rows = ROW.findall(page.text)
            poll = f"{base}/subscriptions/{rng.choice(rows)}/row" if rows else None
        if poll is not None:
            await ask("row poll", "GET", poll.replace("&amp;", "&"), headers=session.headers(True))
            await think()
        if person.role is Role.ADMIN:  # the people directory is Admin only
            await ask("people page", "GET", f"{base}/people", headers=session.headers())
            await think()
        if person.partner_admin:
            await ask("admin customer list", "GET", "/admin/customers", headers=session.headers())
            await think()


async def _drive(
    url: str, people_: list[Person], cookies: list[str], customers: list[str], load: Load
) -> None:
    # Idle connections are dropped before gunicorn's keep-alive (2 s) closes them, so a
    # request never goes out on a socket the server is closing (a browser does the same).
    limits = httpx.Limits(
        max_connections=len(people_),
        max_keepalive_connections=len(people_),
        keepalive_expiry=1.5,
    )
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT, limits=limits) as client:
        deadline = time.perf_counter() + load.seconds
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _person(
                    client,
                    load,
                    person,
                    Session(cookie),
                    customers,
                    random.Random(SEED * 1000 + n),
                    deadline,
                )
                for n, (person, cookie) in enumerate(zip(people_, cookies, strict=True))
            )
        )
        load.seconds = time.perf_counter() - began


def drive(
    server: pages.Gunicorn,
    people_: list[Person],
    cookies: list[str],
    customers: list[str],
    seconds: float,
) -> Load:
    """Every person's loop at once for `seconds` (their own event loop on a thread of its
    own, as bench.pages does: pytest may already run one in the main thread)."""
    load = Load(seconds)
    cpu, server_cpu = common.cpu_seconds() or 0.0, server.cpu_seconds()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _drive(server.url, people_, cookies, customers, load)).result()
    load.client_cpu = (common.cpu_seconds() or 0.0) - cpu
    load.server_cpu = server.cpu_seconds() - server_cpu
    return load


# --- the outcome ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """The outbox after the load, and whether Partner Center agrees."""

    states: dict[str, int]
    drained_in: float
    checked: int  # subscriptions compared with the emulator
    disagree: list[str]  # "sub: database N, Partner Center M, last done change K"
    patches: int
    failed_outcomes: Counter[str] = field(default_factory=Counter)


def outcome(app: Flask, emulator: common.Emulator) -> Outcome:
    """Wait for the open changes to end; compare the emulator with the database."""
    started = time.perf_counter()
    with app.app_context():
        while True:
            open_ = db.session.scalar(
                select(func.count())
                .select_from(ChangeRequest)
                .where(ChangeRequest.state.in_(("pending", "running")))
            )
            db.session.rollback()
            if not open_ or time.perf_counter() - started > DRAIN:
                break
            time.sleep(0.2)
        drained = time.perf_counter() - started
        states = dict(
            db.session.execute(
                select(ChangeRequest.state, func.count()).group_by(ChangeRequest.state)
            ).all()
        )
        last_done: dict[str, int] = {}
        for sub, params in db.session.execute(
            select(Subscription.pc_id, ChangeRequest.params)
            .join(Subscription, ChangeRequest.subscription_id == Subscription.id)
            .where(ChangeRequest.state == "done", ChangeRequest.kind == "quantity")
            .order_by(ChangeRequest.id)
        ):
            last_done[sub] = int(params["quantity"])
        failed = Counter(
            str(text)[:120]
            for text in db.session.scalars(
                select(ChangeRequest.outcome).where(ChangeRequest.state == "failed")
            )
        )
        in_db = dict(db.session.execute(select(Subscription.pc_id, Subscription.quantity)).all())
    state = emulator.state()
    patches = sum(1 for r in state["requests"] if r["method"] == "PATCH")
    disagree = []
    checked = 0
    for customer in state["customers"]:
        for sub in customer["subscriptions"]:
            checked += 1
            want = last_done.get(sub["id"], 10)  # never changed: the scenario's 10 seats
            if not sub["quantity"] == in_db.get(sub["id"]) == want:
                disagree.append(
                    f"{sub['id']}: database {in_db.get(sub['id'])}, Partner Center "
                    f"{sub['quantity']}, last done change {want}"
                )
    return Outcome(states, drained, checked, disagree, patches, failed)


def tracebacks(lines: list[str]) -> list[list[str]]:
    """The tracebacks in gunicorn's log, each with the line that announces it (gunicorn's
    `[time] [pid] [ERROR] ...` or Flask's `[time] ERROR in app: Exception on ...`)."""
    blocks: list[list[str]] = []
    for line in lines:
        if LOG_LINE.match(line) or not blocks:
            blocks.append([line])
        else:
            blocks[-1].append(line)
    return [block for block in blocks if any(line.startswith("Traceback") for line in block)]


def _trace(trace: list[str]) -> str:
    """`Exception` on `GET /c/<customer>/...` of a traceback, for the notes."""
    where = re.search(r"Exception on (\S+) \[(\w+)\]", trace[0])
    path = re.sub(r"/c/[^/]+", "/c/<customer>", where.group(1)) if where else ""
    path = re.sub(r"/subscriptions/[^/]+", "/subscriptions/<id>", path)
    return f"`{trace[-1].strip()[:160]}` ({where.group(2)} {path})" if where else trace[-1]


def _load_average() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


# --- the benchmark -------------------------------------------------------------------------


def run(
    *,
    quick: bool = False,
    record: bool = True,
    seconds: float | None = None,
    users: int | None = None,
) -> common.Result:
    """Run the load benchmark, print it, and (if `record`) add it to BENCHMARKS.md."""
    size = QUICK if quick else FULL
    size = Size(
        customers=size.customers,
        subscriptions=size.subscriptions,
        users=users if users is not None else size.users,
        seconds=seconds if seconds is not None else size.seconds,
        directory_users=size.directory_users,
    )
    result = common.Result(
        "load",
        f"{size.users} concurrent people for {size.seconds:g} s on gunicorn "
        "(`gunicorn.conf.py`, `-w 2 -k gthread --threads 4`, production settings, SQLite), "
        f"{WORKERS} RQ workers and the emulator ({size.customers} customers × "
        f"{size.subscriptions} subscriptions): license page, changes through its form, row "
        "polls, people page, admin customer list, 0 – 0.5 s apart",
        quick=quick,
    )
    load_before = _load_average()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        emulator = stack.enter_context(common.emulator())
        redis_url = stack.enter_context(common.redis(tmp))
        app = stack.enter_context(common.seatwise(tmp, emulator.url, redis_url))
        secret = secrets.token_hex(32)
        app.config["SECRET_KEY"] = secret
        emulator.reset()
        emulator.load(scenario(size))
        with app.app_context():
            report = sync.sync_all(with_users=True)
        if report.failed:
            raise RuntimeError(f"the sync failed: {report.failed}")
        people_, customers = people(app, size)
        cookies = [pages.session_cookie(app, person.user_id) for person in people_]
        env = pages.server_env(app.config["SQLALCHEMY_DATABASE_URI"], redis_url, secret)
        env.update(  # the web app enqueues on the workers' queue; nothing else is different
            RQ_QUEUE=app.config["RQ_QUEUE"],
            PARTNER_CENTER_URL=emulator.url,
            GRAPH_URL=emulator.url,
            TOKEN_AUTHORITY=emulator.url,
        )
        log = tmp / "gunicorn.log"
        server = stack.enter_context(pages.gunicorn(env, log))
        stack.enter_context(changes.workers(app, WORKERS))
        load = drive(server, people_, cookies, customers, size.seconds)
        done = outcome(app, emulator)
        server_log = log.read_text(errors="replace").splitlines()
    load_after = _load_average()
    _report(result, size, people_, load, done, server_log, (load_before, load_after))
    common.publish(result, record=record)
    return result


def _report(
    result: common.Result,
    size: Size,
    people_: list[Person],
    load: Load,
    done: Outcome,
    server_log: list[str],
    load_average: tuple[float, float],
) -> None:
    result.add(
        "requests; 5xx; transport errors and other unexpected answers",
        f"{load.requests:,} in {load.seconds:.1f} s ({load.requests / load.seconds:,.1f}/s); "
        f"{load.server_errors}; {load.failures - load.server_errors}",
        "5xx = 0, none unexpected",
        load.failures == 0,
    )
    for kind in load.kinds.values():
        if not kind.latencies:
            continue
        statuses = ", ".join(f"{s}: {n:,}" for s, n in sorted(kind.statuses.items()))
        result.add(
            f"{kind.name}: count; p50 / p95 / p99",
            f"{len(kind.latencies):,}; {kind.ms(50):.0f} / {kind.ms(95):.0f} / "
            f"{kind.ms(99):.0f} ms ({statuses})",
            "no 5xx",
            kind.failures == 0,
        )
    states = ", ".join(f"{s} {n:,}" for s, n in sorted(done.states.items())) or "none"
    result.add(
        "changes: accepted by the app; in the outbox at the end",
        f"{load.accepted:,}; {states} (open ones waited for {done.drained_in:.1f} s)",
        "none still open",
        not any(done.states.get(s) for s in ("pending", "running")),
    )
    result.add(
        "Partner Center (emulator) agrees with the database's done changes",
        f"{done.checked - len(done.disagree)} of {done.checked} subscriptions; "
        f"{done.patches:,} PATCHes for {done.states.get('done', 0):,} done changes",
        "all",
        not done.disagree,
    )
    admins = sum(1 for p in people_ if p.partner_admin)
    end_admins = sum(1 for p in people_ if not p.partner_admin and p.role is Role.ADMIN)
    result.notes.append(
        f"People: {size.users - admins} end users ({end_admins} Admin, the others Modify) of "
        f"{size.customers} self-service customers, and {admins} partner "
        f"admin{'s' if admins != 1 else ''} (the same account, a session each) picking a "
        "customer at "
        f"random. A loop: license page; with chance {CHANGE_CHANCE:g} a change posted "
        f'through a row\'s form of that page ({ADD_ONE_SHARE:.0%} "+1", the others a new '
        "seat count up 1-3 or down 1, which the 7-day rule mostly refuses: 422); a row poll "
        "(the changed row's `?change=` poll after an accepted change); the people page "
        "(Admins); the "
        "admin customer list (partner admins). 0 – 0.5 s of think time after each answer. "
        "422 is a refused form (the rules, a version moved on by someone else's change, a "
        "change already in flight on that row): the app's intended answer, as 409 and 429 "
        "would be."
    )
    result.notes.append(
        f"CPU (s): gunicorn {load.server_cpu:.1f} "
        f"({load.server_cpu / max(load.requests, 1) * 1000:.1f} ms per answer), the load "
        f"generator (httpx, one keep-alive AsyncClient) {load.client_cpu:.1f}, in "
        f"{load.seconds:.1f} s; the RQ workers and the emulator share the same 2 cores."
    )
    recorded = sum(done.states.values())
    posted_5xx = sum(
        n
        for kind in ("change: +1", "change: new quantity")
        for status, n in load.kinds[kind].statuses.items()
        if status.startswith("5")
    )
    if recorded != load.accepted:
        result.notes.append(
            f"The outbox holds {recorded:,} changes and the app answered {load.accepted:,} "
            f"posts with the pending row (200); {posted_5xx} post{'s' if posted_5xx != 1 else ''} "
            "answered 5xx. A change whose post answered 5xx but which is in the outbox was "
            "recorded (and applied) although the person saw the error page."
        )
    if done.failed_outcomes:
        result.notes.append(
            "Failed changes' outcomes: "
            + "; ".join(f"{n} × {text}" for text, n in done.failed_outcomes.most_common(5))
        )
    if done.disagree:
        result.notes.append("Disagreements: " + "; ".join(done.disagree[:10]))
    for what, text in sorted(load.examples.items()):
        result.notes.append(f"Unexpected answer `{what}`: {text!r}")
    traces = tracebacks(server_log)
    result.notes.append(
        f"gunicorn's log (warning level and above): {len(server_log)} lines, "
        f"{len(traces)} tracebacks"
        + (
            ": " + "; ".join(f"{n} × {what}" for what, n in Counter(map(_trace, traces)).items())
            if traces
            else ""
        )
        + "."
    )
    before, after = load_average
    cores = os.cpu_count() or 1
    if max(before, after) > 0.5:
        result.notes.append(
            f"The machine ({cores} cores) was shared with other work during the run: load "
            f"average {before:.2f} before it and {after:.2f} after (the run's own processes "
            "included), so the latencies are higher than on a quiet machine."
        )
    result.data.update(load=load, outcome=done, people=people_, server_log=server_log)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.load [--seconds 60] [--users 50] [--quick] [--no-record]`; exits 1
    when any answer was a 5xx, a transport error or unexpected, or Partner Center disagrees."""

    def extra(parser: Any) -> None:
        parser.add_argument("--seconds", type=float, help=f"default {FULL.seconds:g}, quick 5")
        parser.add_argument("--users", type=int, help=f"default {FULL.users}, quick 10")

    args = common.arguments(__doc__.splitlines()[0] if __doc__ else None, argv, extra)
    result = run(quick=args.quick, record=args.record, seconds=args.seconds, users=args.users)
    load, done = result.data["load"], result.data["outcome"]
    for trace in tracebacks(result.data["server_log"]):
        print("\n".join(trace), file=sys.stderr)
    return 1 if load.failures or done.disagree else 0


if __name__ == "__main__":
    raise SystemExit(main())
