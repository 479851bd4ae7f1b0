"""Partner and reseller administration: customers, their settings and portal users,
branding and the audit log."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from app.domain.roles import Role
from app.domain.settings import SETTINGS, SPECS, ProviderOnlySetting, SettingError
from app.models import Customer, SalesProfile, StaffRole, User
from app.services import (
    access,
    audit_log,
    branding,
    catalogue,
    console,
    customers,
    orders,
    profiles,
    resellers,
)
from app.services import settings as settings_service
from app.views.forms import BrandForm, GrantAccessForm, HostNameForm, LogoForm
from app.views.guards import get_customer_for_staff, require_partner_admin, require_staff
from app.views.rendering import REFUSED, page_or_partial, wants_partial

bp = Blueprint("admin", __name__, url_prefix="/admin")


# --- overview ------------------------------------------------------------------------------


@bp.get("/")
@login_required
def overview() -> str:
    """The console's front page: customers at a glance, what needs attention, what was saved."""
    user = require_staff()
    return render_template("admin/overview.html", figures=console.overview(user))


# --- customers -----------------------------------------------------------------------------


@bp.get("/customers")
@login_required
def customer_list() -> Response:
    """Every customer this administrator manages: search, filters, seats, cost, paging."""
    user = require_staff()
    filters = customers.CustomerFilter.from_args(request.args.to_dict())
    page = customers.list_customers(user, filters, request.args.get("page", 1, type=int))
    return page_or_partial(
        "admin/_customer_table.html",
        "admin/customers.html",
        page=page,
        filters=filters,
        resellers=customers.reseller_choices(user),
    )


@bp.get("/customers/<customer>")
@login_required
def customer_detail(customer: str) -> str:
    """One customer: its summary and its relationship settings, each saved in place."""
    company = get_customer_for_staff(customer)
    return _detail_page(company, saved=request.args.get("saved"))


@bp.post("/customers/<customer>/settings/<key>")
@login_required
def change_setting(customer: str, key: str) -> Response:
    """Save one relationship setting; the setting's fragment shows Saved or why not."""
    company = get_customer_for_staff(customer)  # another reseller's customer: 404
    user = require_staff()
    if key not in SPECS:
        abort(404)
    raw = request.form.get("value", "")
    try:
        settings_service.change_settings(company.pc_id, {key: raw}, actor=user)
    except ProviderOnlySetting:
        abort(403)  # who decides: the provider keeps the commercial settings
    except SettingError as refusal:
        error: str | None = str(refusal)
    else:
        error = None
    if error is None and not wants_partial():
        target = url_for("admin.customer_detail", customer=customer, saved=key)
        return redirect(f"{target}#setting-{key}", 303)
    return page_or_partial(
        "admin/_setting.html",
        lambda: _detail_page(company, error=(key, error, raw) if error else None),
        status=REFUSED if error else 200,
        company=company,
        spec=SPECS[key],
        value=company.settings()[key],
        typed=raw if error else None,
        error=error,
        saved=error is None,
        editable=True,
        is_reseller=user.staff_role is StaffRole.RESELLER_ADMIN,
    )


def _detail_page(
    company: Customer, saved: str | None = None, error: tuple[str, str, str] | None = None
) -> str:
    """The customer page; `error` is (setting key, message, the value typed)."""
    seats, cost = customers.seats_and_cost(company)
    return render_template(
        "admin/customer.html",
        company=company,
        seats=seats,
        cost=cost,
        specs=SETTINGS,
        values=company.settings(),
        editable=current_user.staff_role in (StaffRole.PARTNER_ADMIN, StaffRole.RESELLER_ADMIN),
        is_reseller=current_user.staff_role is StaffRole.RESELLER_ADMIN,
        saved=saved,
        error=error,
    )


@bp.get("/customers/<customer>/portal")
@login_required
def portal_users(customer: str) -> str:
    """Who may use this company's portal, and a form to invite someone."""
    company = get_customer_for_staff(customer)
    return render_template(
        "admin/portal_users.html",
        company=company,
        users=access.portal_users(company),
        form=GrantAccessForm(),
    )


@bp.post("/customers/<customer>/portal")
@login_required
def grant(customer: str) -> Response | tuple[str, int]:
    """Invite an email (or change its level)."""
    company = get_customer_for_staff(customer)
    form = GrantAccessForm()
    if form.validate_on_submit():
        try:
            membership = access.grant_access(
                current_user, company, form.email.data, Role.parse(form.role.data)
            )
        except access.AccessError as error:
            form.email.errors.append(str(error))
        else:
            flash(
                f"{membership.email} can use the portal at level {membership.role.label}.",
                "success",
            )
            return redirect(url_for("admin.portal_users", customer=customer))
    page = render_template(
        "admin/portal_users.html", company=company, users=access.portal_users(company), form=form
    )
    return page, REFUSED


@bp.post("/customers/<customer>/portal/<int:membership_id>/revoke")
@login_required
def revoke(customer: str, membership_id: int) -> Response:
    """Remove someone's access; their next request is refused."""
    company = get_customer_for_staff(customer)
    try:
        email = access.revoke_access(current_user, company, membership_id)
    except access.AccessError as error:
        flash(str(error), "error")
    else:
        flash(f"{email} no longer has access to {company.name}.", "success")
    return redirect(url_for("admin.portal_users", customer=customer))


# --- audit log -----------------------------------------------------------------------------


@bp.get("/audit")
@login_required
def audit() -> Response:
    """Every change by anyone, newest first, filtered by customer, person, kind and date."""
    user = require_staff()
    try:
        filters = audit_log.AuditFilter.from_args(request.args)
    except audit_log.AuditFilterError as refusal:
        filters, page, errors = None, None, refusal.messages
    else:
        page = audit_log.search(user, filters, request.args.get("page", 1, type=int))
        errors = []
    return page_or_partial(
        "admin/_audit_table.html",
        "admin/audit.html",
        status=REFUSED if errors else 200,
        page=page,
        filters=filters,
        errors=errors,
        args=request.args,
        kinds=audit_log.kinds(user),
    )


@bp.get("/audit.csv")
@login_required
def audit_csv() -> Response:
    """The filtered events as a CSV file (cells that a spreadsheet would run are quoted)."""
    user = require_staff()
    try:
        filters = audit_log.AuditFilter.from_args(request.args)
    except audit_log.AuditFilterError as refusal:
        return Response(str(refusal), 400, mimetype="text/plain")
    return Response(
        stream_with_context(audit_log.export_csv(user, filters)),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="seatwise-audit.csv"'},
    )


# --- branding ------------------------------------------------------------------------------


@bp.get("/branding")
@login_required
def brand_settings() -> str:
    """The name, colour, logo (and, for a reseller, web address) the portal shows."""
    require_staff()
    return _branding_page()


@bp.post("/branding")
@login_required
def save_brand() -> Response | tuple[str, int]:
    """Save the name and the primary colour."""
    user = require_staff()
    form = BrandForm()
    if form.validate_on_submit():
        try:
            branding.update_brand(
                user,
                name=form.name.data or "",
                color=form.color.data or "",
                support=form.support.data or "",
            )
        except branding.BrandingError as refusal:
            form.color.errors.append(str(refusal))
        else:
            flash("Branding saved.", "success")
            return redirect(url_for("admin.brand_settings"))
    return _branding_page(brand_form=form), REFUSED


@bp.post("/branding/logo")
@login_required
def upload_logo() -> Response | tuple[str, int]:
    """Store a new logo once decoding proves it is a PNG, JPEG or WebP within 502 x 81 px."""
    user = require_staff()
    form = LogoForm()
    if form.validate_on_submit():
        upload = form.logo.data
        try:
            checked = branding.set_logo(user, upload.read() if upload else b"")
        except branding.BrandingError as refusal:
            form.logo.errors.append(str(refusal))
        else:
            flash(f"Logo saved ({checked.width} × {checked.height} px).", "success")
            return redirect(url_for("admin.brand_settings"))
    return _branding_page(logo_form=form), REFUSED


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    """A logo upload over the request limit gets the branding page with a clear message."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    size = request.content_length or 0
    message = (
        f"The file is too large ({size / 1048576:.1f} MB); a logo upload may be at most "
        f"{limit / 1048576:.0f} MB. Nothing was stored."
    )
    if request.endpoint != "admin.upload_logo" or not current_user.is_authenticated:
        return render_template("errors/error.html", code=413, message=message), 413
    require_staff()
    form = LogoForm(formdata=None)
    form.logo.errors = [message]
    return _branding_page(logo_form=form), 413


@bp.post("/branding/logo/remove")
@login_required
def remove_logo() -> Response:
    """Show the name again instead of a logo."""
    user = require_staff()
    try:
        branding.remove_logo(user)
    except branding.BrandingError as refusal:
        flash(str(refusal), "error")
    else:
        flash("Logo removed.", "success")
    return redirect(url_for("admin.brand_settings"))


@bp.post("/branding/host")
@login_required
def save_host_name() -> Response | tuple[str, int]:
    """Set the reseller's own web address (white-label); only resellers have one."""
    user = require_staff()
    if user.staff_role is not StaffRole.RESELLER_ADMIN:
        abort(404)
    form = HostNameForm()
    if form.validate_on_submit():
        try:
            host = branding.set_host_name(
                user, form.host_name.data or "", reserved=_provider_hosts(user)
            )
        except branding.BrandingError as refusal:
            form.host_name.errors.append(str(refusal))
        else:
            flash(_host_saved_message(user, host), "success")
            return redirect(url_for("admin.brand_settings"))
    return _branding_page(host_form=form), REFUSED


def _host_saved_message(user: User, host: str | None) -> str:
    """What saving the host name did: removed, kept, or asked for (and how it is proven)."""
    reseller = user.reseller
    if host is None:
        return "Web address removed."
    if reseller is None or reseller.pending_host_name != host:
        return f"Web address saved: {host}."
    if resellers.proof_method() == "dns":
        resellers.enqueue_check(reseller)
        return f"{host} is asked for: add the DNS TXT record below; it becomes active once found."
    return f"{host} is asked for: it becomes active once the provider approves it."


def _provider_hosts(user: User) -> set[str]:
    """The partner's own host names (config, SERVER_NAME, and this request's host)."""
    own = user.reseller.host_name if user.reseller is not None else None
    return branding.provider_hosts(
        current_app.config["PROVIDER_HOSTS"],
        current_app.config.get("SERVER_NAME"),
        request.host,
        own,
    )


def _branding_page(
    brand_form: BrandForm | None = None,
    logo_form: LogoForm | None = None,
    host_form: HostNameForm | None = None,
) -> str:
    """The branding page, with any form that has just been refused."""
    try:
        owner = branding.editable_owner(current_user)
    except branding.BrandingError:
        abort(404)
    return render_template(
        "admin/branding.html",
        owner=owner,
        is_reseller=current_user.staff_role is StaffRole.RESELLER_ADMIN,
        preview=branding.brand_of(owner),
        brand_form=brand_form
        or BrandForm(
            formdata=None,
            name=owner.brand_name,
            color=owner.brand_color,
            support=owner.support_contact,
        ),
        logo_form=logo_form or LogoForm(formdata=None),
        host_form=host_form
        or HostNameForm(
            formdata=None,
            host_name=getattr(owner, "pending_host_name", None)
            or getattr(owner, "host_name", None),
        ),
        proof=resellers.proof_method(),
        txt_name=resellers.txt_name,
        txt_value=resellers.txt_value,
        max_width=branding.LOGO_MAX_WIDTH,
        max_height=branding.LOGO_MAX_HEIGHT,
    )


# --- products-for-sale profiles (the storefront) -------------------------------------------


@bp.get("/profiles")
@login_required
def profile_list() -> Response:
    """The products-for-sale profiles, a form for a new one, and the catalogue's state."""
    return _profiles_page(require_staff())


def _profiles_page(user: User, message: str | None = None, status: int = 200) -> Response:
    return page_or_partial(
        "admin/profiles.html",
        "admin/profiles.html",
        status=status,
        profiles=profiles.all_profiles(user),
        catalogue_items=len(catalogue.items()),
        message=message,
    )


@bp.post("/profiles")
@login_required
def create_profile() -> Response:
    """A new, empty profile; its page opens to add offers."""
    user = require_staff()
    try:
        profile = profiles.create_profile(user, request.form.get("name", ""))
    except profiles.ProfileError as refused:
        return _profiles_page(user, str(refused), REFUSED)
    return redirect(url_for("admin.profile_detail", profile_id=profile.id), 303)


@bp.post("/catalogue/refresh")
@login_required
def refresh_catalogue() -> Response:
    """Queue a refresh of the catalogue from Partner Center."""
    require_partner_admin()
    catalogue.request_refresh()
    flash("The catalogue is being refreshed from Partner Center; reload in a minute.", "success")
    return redirect(url_for("admin.profile_list"), 303)


@bp.get("/profiles/<int:profile_id>")
@login_required
def profile_detail(profile_id: int) -> Response:
    """One profile: its offers and prices, the catalogue to add from, its customers."""
    return _profile_page(profiles.get(profile_id, require_staff()))


def _profile_page(profile: SalesProfile, message: str | None = None, status: int = 200) -> Response:
    filters = catalogue.CatalogueFilter.from_args(request.args)
    chosen = {o.offer_id for o in profile.offers}
    return page_or_partial(
        "admin/profile.html",
        "admin/profile.html",
        status=status,
        profile=profile,
        items=catalogue.by_offer(chosen),
        available=[i for i in catalogue.search(filters) if i.offer_id not in chosen],
        filters=filters,
        customers=profiles.customers_of(profile),
        all_customers=access.companies(current_user),
        message=message,
    )


@bp.post("/profiles/<int:profile_id>/offers")
@login_required
def set_profile_offer(profile_id: int) -> Response:
    """Add an offer to the profile, or change its price and limits."""
    user = require_staff()
    profile = profiles.get(profile_id, user)
    form = request.form
    terms = profiles.OfferTerms(
        offer_id=form.get("offer_id", ""),
        price_kind=form.get("price_kind", "margin"),
        amount=form.get("amount", ""),
        min_quantity=form.get("min_quantity", ""),
        max_quantity=form.get("max_quantity", ""),
        needs_approval=form.get("needs_approval") == "1",
    )
    try:
        profiles.set_offer(user, profile, terms)
    except profiles.ProfileError as refused:
        return _profile_page(profile, str(refused), REFUSED)
    return redirect(url_for("admin.profile_detail", profile_id=profile.id), 303)


@bp.post("/profiles/<int:profile_id>/offers/remove")
@login_required
def remove_profile_offer(profile_id: int) -> Response:
    """Take an offer out of the profile."""
    user = require_staff()
    profile = profiles.get(profile_id, user)
    profiles.remove_offer(user, profile, request.form.get("offer_id", ""))
    return redirect(url_for("admin.profile_detail", profile_id=profile.id), 303)


@bp.post("/profiles/<int:profile_id>/customers")
@login_required
def assign_profile(profile_id: int) -> Response:
    """Give a customer this profile (or, with remove, take it away: its storefront closes)."""
    user = require_staff()
    profile = profiles.get(profile_id, user)
    company = get_customer_for_staff(request.form.get("customer", ""))
    profiles.assign(user, company, None if request.form.get("remove") else profile.id)
    return redirect(url_for("admin.profile_detail", profile_id=profile.id), 303)


@bp.post("/profiles/<int:profile_id>/approvals")
@login_required
def set_profile_approvals(profile_id: int) -> Response:
    """Which orders of this profile's customers wait for approval."""
    user = require_staff()
    profile = profiles.get(profile_id, user)
    try:
        profiles.set_approvals(
            user, profile, request.form.get("above", ""), request.form.get("every") == "1"
        )
    except profiles.ProfileError as refused:
        return _profile_page(profile, str(refused), REFUSED)
    return redirect(url_for("admin.profile_detail", profile_id=profile.id), 303)


@bp.get("/approvals")
@login_required
def approvals() -> Response:
    """Orders waiting for approval, of the customers this administrator manages."""
    user = require_staff()
    return _approvals_page(user)


def _approvals_page(user: User, message: str | None = None, status: int = 200) -> Response:
    waiting = orders.awaiting_approval(user)
    names = {c.id: c.name for c in access.companies(user)}
    return page_or_partial(
        "admin/approvals.html",
        "admin/approvals.html",
        status=status,
        waiting=waiting,
        names=names,
        message=message,
    )


@bp.post("/approvals/<int:order_id>")
@login_required
def decide_approval(order_id: int) -> Response:
    """Approve an order (it is bought) or reject it with a reason the buyer reads."""
    user = require_staff()
    try:
        orders.decide(
            user,
            order_id,
            approve=request.form.get("decision") == "approve",
            reason=request.form.get("reason", ""),
        )
    except orders.OrderRefused as refused:
        return _approvals_page(user, str(refused), REFUSED)
    return redirect(url_for("admin.approvals"), 303)
