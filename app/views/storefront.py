"""The storefront: a customer's products for sale, a cart, checkout and the order's progress.

The cart lives in the signed session cookie (a few lines per company); the order goes through
the outbox (app.services.orders) when it is confirmed.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Hashable
from datetime import date
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from flask import Blueprint, current_app, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Regexp

from app.domain import nce as rules_nce
from app.domain import storefront as rules
from app.domain.roles import Role
from app.domain.upgrades import unsupported_explanations
from app.extensions import db
from app.models import Customer, Reseller
from app.models._types import utcnow
from app.services import (
    catalogue,
    licensing,
    orders,
    outbox,
    resellers,
    storefront,
    trials,
    upgrades,
)
from app.services.errors import NotFound
from app.services.microsoft.http import MicrosoftError
from app.views.guards import get_customer_for
from app.views.license_page import CSRF_SLOT, personal
from app.views.rendering import REFUSED, answer_post, page_or_partial, wants_partial

bp = Blueprint("storefront", __name__)

CART_LINES = 20  # lines one cart may hold
# Rendered sections of the storefront a worker process keeps: at most this many characters
# in all (a section of 10 offers is about 17,000; a profile of 1,000 offers, 1.7 million).
SECTIONS_KEPT = 16_000_000
SEATS_TEXT = f"Enter a whole number of seats from 1 to {rules.MAX_SEATS:,}."


@bp.app_template_filter("money")
def money(value: rules.Money | None) -> str:
    """An amount with its currency, in the reader's locale (Accept-Language), by Babel."""
    if value is None:
        return ""
    return _formatted(str(value.amount), value.currency, request.accept_languages.best or "")


# The storefront shows the same few prices to everyone: each (amount, currency, language)
# is formatted by Babel once per worker process (60 `format_currency` calls with a fresh
# `Locale.parse` each were a third of the storefront's CPU, bench/BENCHMARKS.md).
@lru_cache(maxsize=4096)
def _formatted(amount: str, currency: str, language: str) -> str:
    return format_currency(Decimal(amount), currency, locale=_locale(language))


@lru_cache(maxsize=256)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse((language or "en_US").replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return Locale.parse("en_US")


class LineForm(FlaskForm):  # type: ignore[misc]
    """One cart line: which offer, how many seats, which term and billing ("P1Y/monthly")."""

    offer_id = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9:]{3,64}$")])
    quantity = StringField()
    option = StringField(validators=[DataRequired(), Regexp(r"^P(1M|1Y|3Y)/(monthly|annual)$")])

    def line(self) -> rules.Line:
        """The line asked for (call after validation); ValueError with a message otherwise."""
        text = (self.quantity.data or "").strip()
        if not text:
            raise ValueError("Enter the number of seats.")
        if not text.isdigit() or not 1 <= int(text) <= rules.MAX_SEATS:
            raise ValueError(SEATS_TEXT)
        term, billing = self.option.data.split("/")
        return rules.Line(self.offer_id.data, int(text), term, billing)


class ConfirmForm(FlaskForm):  # type: ignore[misc]
    """Confirming the order: an idempotency key makes a double click one order."""

    idempotency_key = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9-]{8,64}$")])


def _cart(company: Customer) -> list[rules.Line]:
    carts: dict[str, list[dict[str, Any]]] = session.get("carts") or {}
    return [
        rules.Line(str(d["offer_id"]), int(d["quantity"]), str(d["term"]), str(d["billing"]))
        for d in carts.get(company.pc_id, [])
    ]


def _save_cart(company: Customer, lines: list[rules.Line]) -> None:
    carts: dict[str, list[dict[str, Any]]] = dict(session.get("carts") or {})
    carts[company.pc_id] = [
        {"offer_id": x.offer_id, "quantity": x.quantity, "term": x.term, "billing": x.billing}
        for x in lines
    ]
    if not lines:
        carts.pop(company.pc_id, None)
    session["carts"] = carts


class _Sections:
    """Rendered sections, least recently used dropped first when they hold more than `size`
    characters in all (shared by a worker's threads)."""

    def __init__(self, size: int = SECTIONS_KEPT) -> None:
        self._size = size
        self._held = 0
        self._kept: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
            return found

    def put(self, key: Hashable, html: str) -> None:
        if len(html) > self._size:
            return
        with self._lock:
            old = self._kept.pop(key, None)
            self._held += len(html) - (len(old) if old is not None else 0)
            self._kept[key] = html
            while self._held > self._size:
                _, dropped = self._kept.popitem(last=False)
                self._held -= len(dropped)


def _sections() -> _Sections:
    kept: _Sections | None = current_app.extensions.get("seatwise.store_sections")
    if kept is None:
        kept = current_app.extensions.setdefault("seatwise.store_sections", _Sections())
    return kept


def _kept_html(
    template: str, key: Hashable, store: storefront.Storefront, **context: Any
) -> Markup:
    """A section of the open storefront, rendered only when none of that key is kept (its
    forms' CSRF token filled in for this response). The key names everything the section
    shows besides the profile's and the catalogue's state (`store.state`, a new one with
    every change read)."""
    key = (template, store.state, key)
    kept = _sections()
    html = kept.get(key)
    if html is None:
        html = render_template(template, store=store, csrf_token=lambda: CSRF_SLOT, **context)
        if store.state:
            kept.put(key, html)
    # Rendered by this module with the app's autoescaping templates: already safe HTML.
    return Markup(personal(html))  # noqa: S704


def _offers_html(
    company: Customer, role: Role, store: storefront.Storefront, filters: catalogue.CatalogueFilter
) -> Markup:
    """The offers: through the filters, in the reader's language (the prices' format), to
    the role (the forms), with links under this customer and script root."""
    return _kept_html(
        "storefront/_offers_kept.html",
        (filters, role, company.pc_id, request.script_root, request.accept_languages.best or ""),
        store,
        company=company,
        role=role,
        filters=filters,
        describe_option=rules.describe_option,
    )


def _filters_html(
    company: Customer, store: storefront.Storefront, filters: catalogue.CatalogueFilter
) -> Markup:
    """The filters' form: the filters chosen, the offers' publishers and segments, with
    links under this customer and script root."""
    return _kept_html(
        "storefront/_filters_kept.html",
        (filters, company.pc_id, request.script_root),
        store,
        company=company,
        filters=filters,
        terms=rules.TERMS,
        term_names=rules.TERM_NAMES,
        billing_cycles=rules.BILLING_CYCLES,
        billing_names=rules.BILLING_NAMES,
    )


def _render(
    company: Customer, role: Role, *, message: str | None = None, **extra: Any
) -> dict[str, Any]:
    """What the page and its partials show."""
    filters = catalogue.CatalogueFilter.from_args(request.args)
    cart = _cart(company)
    store = storefront.page(company, filters)
    return {
        "company": company,
        "role": role,
        "store": store,
        "filters": filters,
        "offers_html": partial(_offers_html, company, role, store, filters),  # when shown
        "filters_html": partial(_filters_html, company, store, filters),
        "terms": rules.TERMS,
        "term_names": rules.TERM_NAMES,
        "billing_cycles": rules.BILLING_CYCLES,
        "billing_names": rules.BILLING_NAMES,
        "describe_option": rules.describe_option,
        "cart": storefront.quote(company, cart, utcnow(), found=store.found),
        "orders": orders.orders_of(company, 5),
        "message": message,
        **extra,
    }


@bp.get("/c/<customer>/store")
@login_required
def page(customer: str) -> Response:
    """The storefront: the offers of the customer's profile, filters, the cart."""
    company, role = get_customer_for(customer)
    return page_or_partial(
        "storefront/_offers.html", "storefront/page.html", **_render(company, role)
    )


@bp.post("/c/<customer>/store/cart")
@login_required
def add_line(customer: str) -> Response:
    """Put a line in the cart, if the rules allow it (the reason otherwise, 422)."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    form = LineForm()
    message = None
    try:
        if not form.validate_on_submit():
            raise ValueError(_form_refusal(form))
        line = form.line()
        cart = _cart(company)
        if len(cart) >= CART_LINES:
            raise ValueError(f"A cart holds at most {CART_LINES} lines; check this one out first.")
        decision = storefront.check_added(company, cart, line)
        if not decision.allowed:
            raise ValueError(decision.reason)
        _save_cart(company, [*cart, line])
    except ValueError as refused:
        message = str(refused)
    return answer_post(
        message,
        url_for("storefront.page", customer=customer) + "#cart",
        lambda **shown: page_or_partial(
            "storefront/_cart.html",
            "storefront/page.html",
            status=shown.pop("status"),
            **_render(company, role, **shown),
        ),
    )


def _form_refusal(form: LineForm) -> str:
    if form.offer_id.errors or form.option.errors:
        return "Choose a product and a term and billing frequency."
    return "The form expired; reload the page and try again."


@bp.post("/c/<customer>/store/cart/<int:index>/remove")
@login_required
def remove_line(customer: str, index: int) -> Response:
    """Take a line out of the cart."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    cart = _cart(company)
    if not 0 <= index < len(cart):
        raise NotFound(index)
    _save_cart(company, cart[:index] + cart[index + 1 :])
    return answer_post(
        None,
        url_for("storefront.page", customer=customer) + "#cart",
        lambda **shown: page_or_partial(
            "storefront/_cart.html",
            "storefront/page.html",
            status=shown.pop("status"),
            **_render(company, role, **shown),
        ),
    )


@bp.get("/c/<customer>/store/checkout")
@login_required
def checkout(customer: str) -> Response:
    """Before confirming: the totals per month and per term, and the commitment in words."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    return _checkout_page(company, role)


def _checkout_page(
    company: Customer,
    role: Role,
    message: str | None = None,
    status: int = 200,
    *,
    ask: bool = True,
) -> Response:
    """The review page; with `ask`, the co-terming choices are read from Partner Center
    (else the ones kept when the page was first shown)."""
    if ask:
        try:
            choices = storefront.coterm_choices(company, _cart(company))
        except MicrosoftError:
            choices = {}
        _keep_coterms(company, choices)
    coterms = _kept_coterms(company)
    context = _render(
        company,
        role,
        message=message,
        key=uuid.uuid4().hex,
        coterms=coterms,
        other_resellers=_other_resellers(company),
        attestation=orders.ATTESTATION,
        max_others=orders.MAX_OTHER_RESELLERS,
    )
    return page_or_partial(
        "storefront/checkout.html", "storefront/checkout.html", status=status, **context
    )


def _other_resellers(company: Customer) -> list[Reseller]:
    """The partner's other authorised resellers an order for a reseller's customer may name."""
    if company.reseller is None:
        return []
    others = db.session.scalars(
        select(Reseller)
        .where(
            Reseller.partner_id == company.reseller.partner_id,
            Reseller.id != company.reseller.id,
        )
        .order_by(Reseller.name)
    )
    return [reseller for reseller in others if resellers.is_authorised(reseller)]


def _keep_coterms(company: Customer, choices: dict[int, list[storefront.CotermChoice]]) -> None:
    kept: dict[str, dict[str, list[list[str]]]] = dict(session.get("coterms") or {})
    kept[company.pc_id] = {
        str(i): [[c.end.isoformat(), c.text, c.days, *_money_pair(c.first_term)] for c in found]
        for i, found in choices.items()
    }
    session["coterms"] = kept


def _kept_coterms(company: Customer) -> dict[int, list[storefront.CotermChoice]]:
    kept = (session.get("coterms") or {}).get(company.pc_id) or {}
    return {int(i): [_kept_choice(*c) for c in found] for i, found in kept.items()}


def _money_pair(money: rules.Money | None) -> tuple[str | None, str | None]:
    return (str(money.amount), money.currency) if money else (None, None)


def _kept_choice(
    end: str,
    text: str,
    days: int | None = None,
    amount: str | None = None,
    currency: str | None = None,
) -> storefront.CotermChoice:
    cost = rules.Money(Decimal(amount), currency) if amount is not None and currency else None
    return storefront.CotermChoice(date.fromisoformat(end), text, days, cost)


def _chosen_ends(company: Customer) -> dict[int, date]:
    """The co-terming end dates chosen on the review page, each one Partner Center offered
    for its line when the page was shown (ValueError with the reason otherwise)."""
    kept = _kept_coterms(company)
    ends: dict[int, date] = {}
    for name, value in request.form.items():
        if not name.startswith("end-") or not value:
            continue
        index = name.removeprefix("end-")
        allowed = (
            {c.end.isoformat(): c.end for c in kept.get(int(index), [])}
            if (index.isdigit())
            else {}
        )
        if value not in allowed:
            raise ValueError(
                "That end date is not one Partner Center allows for this line; choose one of "
                "the dates listed, or the full term."
            )
        ends[int(index)] = allowed[value]
    return ends


@bp.post("/c/<customer>/store/orders")
@login_required
def confirm(customer: str) -> Response:
    """Confirm the cart: one order through the outbox; its page shows it pending, then done."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    form = ConfirmForm()
    try:
        if not form.validate_on_submit():
            raise orders.OrderRefused("The form expired; reload the page and try again.")
        change = orders.request_order(
            current_user,
            role,
            company,
            _cart(company),
            idempotency_key=form.idempotency_key.data,
            ends=_chosen_ends(company),
            others=[r for r in request.form.getlist("other_reseller") if r],
            attested=request.form.get("attest") == "yes",
        )
    except (orders.OrderRefused, ValueError) as refused:
        return _checkout_page(company, role, str(refused), REFUSED, ask=False)
    _save_cart(company, [])
    return Response(
        status=303,
        headers={"Location": url_for("storefront.order", customer=customer, order_id=change.id)},
    )


@bp.get("/c/<customer>/store/orders/<int:order_id>")
@login_required
def order(customer: str, order_id: int) -> Response:
    """An order's progress: polls while pending (htmx), then says how it ended."""
    company, role = get_customer_for(customer)
    change = outbox.get(company, order_id)
    if change.kind != orders.KIND:
        raise NotFound(order_id)
    response = page_or_partial(
        "storefront/_order_status.html",
        "storefront/order.html",
        company=company,
        role=role,
        change=change,
        lines=change.params.get("lines", []),
        money_of=lambda p: rules.Money(Decimal(p["monthly"]), p["currency"]),
        describe_option=rules.describe_option,
        polled=wants_partial(),
    )
    if change.is_open:
        response.headers["Cache-Control"] = "no-store"
    return response


# -- upgrades (PRODUCT.md rule 9) -------------------------------------------------------


class UpgradeForm(FlaskForm):  # type: ignore[misc]
    """An upgrade: the product to move to, how many seats, into which subscription."""

    to_catalog_item_id = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9:]{3,100}$")])
    quantity = StringField()
    into = StringField(validators=[Regexp(r"^([A-Za-z0-9-]{1,64})?$")])
    idempotency_key = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9-]{8,64}$")])

    def seats(self, most: int) -> int:
        """The seats asked for; ValueError with a message otherwise."""
        text = (self.quantity.data or "").strip()
        if not text.isdigit() or not 1 <= int(text) <= most:
            raise ValueError(f"Enter a whole number of seats from 1 to {most}.")
        return int(text)


def _offered_key(company: Customer, sub_id: str) -> str:
    return f"{company.pc_id}/{sub_id}"


def _offered(company: Customer, sub_id: str) -> list[upgrades.Choice]:
    kept: dict[str, list[dict[str, Any]]] = session.get("upgrades") or {}
    return [upgrades.Choice.from_json(c) for c in kept.get(_offered_key(company, sub_id), [])]


def _keep_offered(company: Customer, sub_id: str, choices: tuple[upgrades.Choice, ...]) -> None:
    kept: dict[str, list[dict[str, Any]]] = dict(session.get("upgrades") or {})
    kept.pop(_offered_key(company, sub_id), None)
    while len(kept) >= 5:  # keep the cookie small: the latest few subscriptions
        kept.pop(next(iter(kept)))
    kept[_offered_key(company, sub_id)] = [c.as_json() for c in choices]
    session["upgrades"] = kept


def _upgrade_page(
    company: Customer,
    role: Role,
    found: upgrades.Options,
    *,
    message: str | None = None,
    status: int = 200,
) -> Response:
    return page_or_partial(
        "storefront/upgrade.html",
        "storefront/upgrade.html",
        status=status,
        company=company,
        role=role,
        found=found,
        sub=found.sub,
        warnings=upgrades.WARNINGS,
        partial_warning=upgrades.PARTIAL_WARNING,
        message=message,
        key=uuid.uuid4().hex,
    )


@bp.get("/c/<customer>/store/upgrade/<sub_id>")
@login_required
def upgrade(customer: str, sub_id: str) -> Response:
    """The upgrades Partner Center offers a subscription, with what they mean."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    sub = licensing.subscription_of(company, sub_id)
    try:
        found = upgrades.options(company, sub)
    except MicrosoftError as error:
        found = upgrades.Options(sub, (), (), tuple(unsupported_explanations(sub.offer_id)))
        return _upgrade_page(
            company,
            role,
            found,
            message=f"Microsoft could not be asked just now ({error}). Try again in a moment.",
        )
    _keep_offered(company, sub_id, found.choices)
    return _upgrade_page(company, role, found)


@bp.post("/c/<customer>/store/upgrade/<sub_id>")
@login_required
def request_upgrade(customer: str, sub_id: str) -> Response:
    """Confirm an upgrade: through the outbox; the license page shows it pending, then done.
    Only what the page offered is accepted (no Partner Center request before the job)."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    sub = licensing.subscription_of(company, sub_id)
    offered = _offered(company, sub_id)
    form = UpgradeForm()
    try:
        if not form.validate_on_submit():
            raise ValueError("The form expired; reload the page and try again.")
        change = upgrades.request_upgrade(
            current_user,
            role,
            company,
            sub_id,
            offered,
            to_catalog_item_id=form.to_catalog_item_id.data,
            quantity=form.seats(sub.quantity),
            to_subscription_id=form.into.data or None,
            idempotency_key=form.idempotency_key.data,
        )
    except (ValueError, upgrades.UpgradeRefused) as refused:
        found = upgrades.Options(
            sub, tuple(offered), (), tuple(unsupported_explanations(sub.offer_id))
        )
        return _upgrade_page(company, role, found, message=str(refused), status=REFUSED)
    back = url_for("portal.licenses", customer=customer) + f"#sub-{change.subscription.pc_id}"
    return Response(status=303, headers={"Location": back})


# -- trials (PRODUCT.md rule 4) ---------------------------------------------------------


class ConversionForm(FlaskForm):  # type: ignore[misc]
    """A trial's conversion: seats; now (term and billing, into which subscription) or at
    the end of the trial."""

    quantity = StringField()
    option = StringField(validators=[Regexp(r"^(P(1M|1Y|3Y)/(monthly|annual))?$")])
    into = StringField(validators=[Regexp(r"^([A-Za-z0-9-]{1,64})?$")])
    idempotency_key = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9-]{8,64}$")])

    def seats(self) -> int:
        """The seats asked for; ValueError with a message otherwise."""
        text = (self.quantity.data or "").strip()
        if not text.isdigit() or not 1 <= int(text) <= rules.MAX_SEATS:
            raise ValueError(SEATS_TEXT)
        return int(text)


def _paid_kept(company: Customer, sub_id: str) -> trials.PaidOffer | None:
    kept: dict[str, list[str]] = session.get("trials") or {}
    found = kept.get(_offered_key(company, sub_id))
    return trials.PaidOffer(found[0], found[1]) if found else None


def _keep_paid(company: Customer, sub_id: str, paid: trials.PaidOffer | None) -> None:
    kept: dict[str, list[str]] = dict(session.get("trials") or {})
    kept.pop(_offered_key(company, sub_id), None)
    while len(kept) >= 5:
        kept.pop(next(iter(kept)))
    if paid is not None:
        kept[_offered_key(company, sub_id)] = [paid.catalog_item_id, paid.title]
    session["trials"] = kept


def _trial_page(
    company: Customer,
    role: Role,
    shown: trials.TrialView,
    *,
    message: str | None = None,
    status: int = 200,
) -> Response:
    return page_or_partial(
        "storefront/trial.html",
        "storefront/trial.html",
        status=status,
        company=company,
        role=role,
        trial=shown,
        sub=shown.sub,
        options=[(o, rules.describe_option(*o.split("/"))) for o in trials.OPTIONS],
        minimum=rules_nce.TRIAL_MIN_SEATS,
        message=message,
        key=uuid.uuid4().hex,
    )


@bp.get("/c/<customer>/store/trial/<sub_id>")
@login_required
def trial(customer: str, sub_id: str) -> Response:
    """A trial: its end, and converting it now, at its end, or letting it end."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    sub = licensing.subscription_of(company, sub_id)
    message = None
    paid = None
    if sub.is_trial:
        try:
            paid = trials.paid_offer(company, sub)
        except MicrosoftError as error:
            message = f"Microsoft could not be asked just now ({error}). Try again in a moment."
        _keep_paid(company, sub_id, paid)
    return _trial_page(company, role, trials.view(company, sub, paid, utcnow()), message=message)


@bp.post("/c/<customer>/store/trial/<sub_id>/<when>")
@login_required
def convert_trial(customer: str, sub_id: str, when: str) -> Response:
    """Convert the trial now or at its end (through the outbox; the license page shows it
    pending, then done), or let it end (auto-renew off). Only Admins."""
    company, role = get_customer_for(customer, need=Role.ADMIN)
    if when not in ("now", "at-end", "let-end"):
        raise NotFound(when)
    sub = licensing.subscription_of(company, sub_id)
    paid = _paid_kept(company, sub_id)
    form = ConversionForm()
    try:
        if not form.validate_on_submit():
            raise ValueError("The form expired; reload the page and try again.")
        if when == "let-end":
            change = licensing.request_change(
                current_user,
                role,
                company,
                sub_id,
                "auto_renew",
                {"enable": False},
                idempotency_key=form.idempotency_key.data,
                version=None,
            )
        else:
            change = trials.request_conversion(
                current_user,
                role,
                company,
                sub_id,
                paid,
                quantity=form.seats(),
                at_trial_end=when == "at-end",
                option=form.option.data or "P1Y/monthly",
                to_subscription_id=form.into.data or None,
                idempotency_key=form.idempotency_key.data,
            )
    except (ValueError, trials.TrialRefused, licensing.ChangeRefused) as refused:
        shown = trials.view(company, sub, paid, utcnow())
        return _trial_page(company, role, shown, message=str(refused), status=REFUSED)
    back = url_for("portal.licenses", customer=customer) + f"#sub-{change.subscription.pc_id}"
    return Response(status=303, headers={"Location": back})
