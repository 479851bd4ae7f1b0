"""Products-for-sale profiles (partner admin): a named list of offers at the customer's price,
with optional self-service minimum and maximum seats; each customer is given one profile."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select

from app.extensions import db
from app.models import (
    CatalogueItem,
    Customer,
    CustomerProfile,
    ProfileOffer,
    SalesProfile,
    StaffRole,
    User,
)
from app.services import audit
from app.services.errors import NotFound

MAX_MARGIN = Decimal(1000)
MAX_PRICE = Decimal(100_000)


class ProfileError(ValueError):
    """A profile change that is refused, with a message a person understands."""


def _owner(user: User) -> int | None:
    """Whose profiles `user` manages: a reseller admin its reseller's, a partner admin the
    partner's (None)."""
    if user.staff_role is StaffRole.RESELLER_ADMIN:
        return user.reseller_id
    if user.staff_role is StaffRole.PARTNER_ADMIN:
        return None
    raise NotFound("profiles")


def all_profiles(user: User) -> list[SalesProfile]:
    """The profiles `user` manages, by name."""
    owner = _owner(user)
    mine = (
        SalesProfile.reseller_id.is_(None) if owner is None else SalesProfile.reseller_id == owner
    )
    return list(db.session.scalars(select(SalesProfile).where(mine).order_by(SalesProfile.name)))


def get(profile_id: int, user: User | None = None) -> SalesProfile:
    """One profile, of those `user` manages when given (NotFound otherwise)."""
    profile = db.session.get(SalesProfile, profile_id)
    if profile is None or (user is not None and profile.reseller_id != _owner(user)):
        raise NotFound(profile_id)
    return profile


def customers_of(profile: SalesProfile) -> list[Customer]:
    """The customers given this profile, by name."""
    return list(
        db.session.scalars(
            select(Customer)
            .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
            .where(CustomerProfile.profile_id == profile.id)
            .order_by(Customer.name)
        )
    )


def profile_of(customer: Customer) -> SalesProfile | None:
    """The profile a customer is given, or None (its storefront is closed)."""
    link = db.session.get(CustomerProfile, customer.id)
    return link.profile if link is not None else None


def create_profile(actor: User, name: str) -> SalesProfile:
    """A new, empty profile with a unique name (audited)."""
    name = " ".join(name.split())
    if not name:
        raise ProfileError("Give the profile a name.")
    if len(name) > 100:
        raise ProfileError("A profile name has at most 100 characters.")
    taken = db.session.scalar(
        select(func.count())
        .select_from(SalesProfile)
        .where(func.lower(SalesProfile.name) == name.lower())
    )
    if taken:
        raise ProfileError(f"There is already a profile called {name}.")
    profile = SalesProfile(name=name, reseller_id=_owner(actor))
    db.session.add(profile)
    db.session.flush()
    audit.record(
        "profile.created",
        actor=actor,
        object_type="sales_profile",
        object_id=str(profile.id),
        after={"name": name},
    )
    db.session.commit()
    return profile


@dataclass(frozen=True)
class OfferTerms:
    """What the partner typed for one offer of a profile (text, checked by `parse_terms`)."""

    offer_id: str
    price_kind: str  # "margin" or "fixed"
    amount: str
    min_quantity: str = ""
    max_quantity: str = ""
    needs_approval: bool = False


def _decimal(text: str, what: str, most: Decimal) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ProfileError(f"Enter the {what} as a number, like 15 or 12.50.") from None
    if not value.is_finite() or value < 0 or value > most:
        raise ProfileError(f"Enter a {what} from 0 to {most:,}.")
    return value.quantize(Decimal("0.01"))


def _seats(text: str, what: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise ProfileError(f"Enter the {what} as a whole number of seats from 1 to 100,000.")
    return int(text)


def set_offer(actor: User, profile: SalesProfile, terms: OfferTerms) -> ProfileOffer:
    """Add an offer of the catalogue to a profile, or change its price and limits (audited)."""
    item = db.session.scalar(select(CatalogueItem).where(CatalogueItem.offer_id == terms.offer_id))
    if item is None:
        raise ProfileError("That product is not in the catalogue; refresh the catalogue first.")
    if terms.price_kind not in ("margin", "fixed"):
        raise ProfileError("Choose a margin on cost or a fixed price.")
    if terms.price_kind == "margin":
        margin, fixed = _decimal(terms.amount or "0", "margin (%)", MAX_MARGIN), None
    else:
        margin, fixed = None, _decimal(terms.amount, "price per seat per month", MAX_PRICE)
    least = _seats(terms.min_quantity, "minimum")
    most = _seats(terms.max_quantity, "maximum")
    if least is not None and most is not None and least > most:
        raise ProfileError("The minimum seats cannot be above the maximum.")
    offer = next((o for o in profile.offers if o.offer_id == terms.offer_id), None)
    before = _terms(offer) if offer is not None else None
    if offer is None:
        offer = ProfileOffer(offer_id=terms.offer_id)
        profile.offers.append(offer)
    offer.margin_percent, offer.fixed_monthly = margin, fixed
    offer.min_quantity, offer.max_quantity = least, most
    offer.needs_approval = terms.needs_approval
    audit.record(
        "profile.offer_set",
        actor=actor,
        object_type="sales_profile",
        object_id=str(profile.id),
        before=before,
        after=_terms(offer),
        message=f"{item.title} in profile {profile.name}",
    )
    db.session.commit()
    return offer


def remove_offer(actor: User, profile: SalesProfile, offer_id: str) -> None:
    """Take an offer out of a profile (audited); its customers can no longer buy it."""
    offer = next((o for o in profile.offers if o.offer_id == offer_id), None)
    if offer is None:
        raise NotFound(offer_id)
    audit.record(
        "profile.offer_removed",
        actor=actor,
        object_type="sales_profile",
        object_id=str(profile.id),
        before=_terms(offer),
    )
    profile.offers.remove(offer)
    db.session.commit()


def assign(actor: User, customer: Customer, profile_id: int | None) -> SalesProfile | None:
    """Give the customer a profile, or none (its storefront closes); audited."""
    link = db.session.get(CustomerProfile, customer.id)
    before = {"profile": link.profile.name} if link is not None else None
    profile = get(profile_id, actor) if profile_id is not None else None
    if profile is None:
        if link is not None:
            db.session.delete(link)
    elif link is None:
        db.session.add(CustomerProfile(customer_id=customer.id, profile_id=profile.id))
    else:
        link.profile_id = profile.id
    audit.record(
        "profile.assigned",
        actor=actor,
        customer_id=customer.id,
        object_type="customer",
        object_id=customer.pc_id,
        before=before,
        after={"profile": profile.name if profile else None},
    )
    db.session.commit()
    return profile


def _terms(offer: ProfileOffer) -> dict[str, object]:
    return {
        "offer": offer.offer_id,
        "margin_percent": str(offer.margin_percent) if offer.margin_percent is not None else None,
        "fixed_monthly": str(offer.fixed_monthly) if offer.fixed_monthly is not None else None,
        "min_quantity": offer.min_quantity,
        "max_quantity": offer.max_quantity,
        "needs_approval": offer.needs_approval,
    }


def set_approvals(actor: User, profile: SalesProfile, above: str, every_order: bool) -> None:
    """Which orders of the profile's customers wait for approval: above an amount a month
    (empty: no threshold), or every order (audited)."""
    threshold = _decimal(above, "amount a month", MAX_PRICE * 100) if above.strip() else None
    before = {"above": _text(profile.approval_above), "every_order": profile.approve_all}
    profile.approval_above, profile.approve_all = threshold, every_order
    audit.record(
        "profile.approvals",
        actor=actor,
        object_type="sales_profile",
        object_id=str(profile.id),
        before=before,
        after={"above": _text(threshold), "every_order": every_order},
    )
    db.session.commit()


def _text(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None
