"""Branding: the name, colour and logo the portal shows, for the partner and each reseller.

A reseller's customers see the reseller's branding (white-label), either because the
request comes to the reseller's own host name or because the company they are looking at
belongs to that reseller. Everyone else sees the partner's. Logos are checked by decoding
them, never trusted by name or content type, and stored re-encoded as a clean PNG.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from app.extensions import db
from app.models import Customer, Partner, Reseller, StaffRole, User
from app.models._types import utcnow
from app.services import audit
from app.services.access import role_on

DEFAULT_NAME = "Seatwise"
DEFAULT_COLOR = "#1f5fbf"
LOGO_MAX_WIDTH = 502
LOGO_MAX_HEIGHT = 81
LOGO_MAX_BYTES = 1024 * 1024
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}

BrandKind = Literal["partner", "reseller"]
_COLOR = re.compile(r"^#[0-9a-f]{6}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class BrandingError(ValueError):
    """A branding change that is refused, with a message a person understands."""


@dataclass(frozen=True)
class Brand:
    """What a page shows: the name, the primary colour and where the logo is (if any)."""

    name: str
    primary_color: str
    logo_kind: BrandKind | None = None
    logo_id: int | None = None
    logo_version: str | None = None
    support: str | None = None  # where customers get help (footer, error pages)


@dataclass(frozen=True)
class Logo:
    """A stored logo, ready to be served."""

    data: bytes
    mime: str
    updated_at: datetime | None


@dataclass(frozen=True)
class LogoCheck:
    """What decoding an uploaded logo found, and the clean PNG that is stored instead of it."""

    mime: str
    width: int
    height: int
    png: bytes = b""


# --- what pages show -----------------------------------------------------------------------


# Built once per process: every page runs it (docs/performance.md).
_P = Partner.__table__.c  # table columns: a plain row, no ORM loading
_PARTNER = (
    select(
        _P.id, _P.brand_name, _P.brand_color, _P.logo_mime, _P.logo_updated_at, _P.support_contact
    )
    .order_by(_P.id)
    .limit(1)
)


def brand_for(
    host_reseller: Reseller | None,
    user: User | None,
    customer_pc_id: str | None,
    *,
    allowed_customer: Customer | None = None,
) -> Brand:
    """The branding of a page: the host's reseller (`host_reseller`, the reseller whose proven
    host the page is served on: `resellers.reseller_on_host`), else the company's, else the
    partner's.

    `allowed_customer`: the company of the page when the caller has already checked that
    `user` may see it (saves looking it up again).
    """
    reseller = host_reseller
    if reseller is None and user is not None:
        reseller = _reseller_of_context(user, customer_pc_id, allowed_customer)
        if reseller is not None and not _has_branding(reseller):
            reseller = None
    partner: Any = db.session.execute(_PARTNER).first()  # a row with Partner's field names
    fallback_color = _color_or(partner.brand_color if partner else None, DEFAULT_COLOR)
    if reseller is not None:
        return _brand("reseller", reseller, reseller.brand_name or reseller.name, fallback_color)
    if partner is None:
        return Brand(DEFAULT_NAME, DEFAULT_COLOR)
    return _brand("partner", partner, partner.brand_name or DEFAULT_NAME, DEFAULT_COLOR)


def brand_of(owner: Partner | Reseller) -> Brand:
    """The branding a partner or reseller has set, with the defaults filled in."""
    if isinstance(owner, Reseller):
        return _brand("reseller", owner, owner.brand_name or owner.name, DEFAULT_COLOR)
    return _brand("partner", owner, owner.brand_name or DEFAULT_NAME, DEFAULT_COLOR)


def logo(kind: str, brand_id: int) -> Logo | None:
    """The stored logo of a partner or reseller, or None."""
    owner = _owner(kind, brand_id)
    if owner is None or owner.logo is None or owner.logo_mime is None:
        return None
    return Logo(data=owner.logo, mime=owner.logo_mime, updated_at=owner.logo_updated_at)


# --- what the branding page edits -----------------------------------------------------------


def editable_owner(actor: User) -> Partner | Reseller:
    """The branding `actor` may change: a reseller admin's reseller, else the partner."""
    if actor.staff_role is StaffRole.RESELLER_ADMIN and actor.reseller is not None:
        reseller: Reseller = actor.reseller
        return reseller
    if actor.staff_role is StaffRole.PARTNER_ADMIN:
        partner: Partner | None = db.session.scalar(select(Partner).order_by(Partner.id).limit(1))
        if partner is not None:
            return partner
        raise BrandingError("There is no partner yet: load the partner's data first.")
    raise BrandingError("Only partner or reseller administrators change the branding.")


def update_brand(
    actor: User, *, name: str, color: str, support: str | None = None
) -> Partner | Reseller:
    """Change the shown name, primary colour and support contact (empty = the default;
    `support` None = unchanged); audited."""
    owner = editable_owner(actor)
    new_name = " ".join(name.split())[:200] or None
    new_color = color.strip().lower() or None
    if new_color is not None and not _COLOR.match(new_color):
        raise BrandingError(f"The colour must look like #1f5fbf, not {color.strip()[:20]!r}.")
    new_support = owner.support_contact
    if support is not None:
        new_support = " ".join(support.split()) or None
        if new_support is not None and len(new_support) > 200:
            raise BrandingError("The support contact may be at most 200 characters long.")
    before = {"name": owner.brand_name, "color": owner.brand_color}
    after = {"name": new_name, "color": new_color}
    if new_support != owner.support_contact:
        before["support"], after["support"] = owner.support_contact, new_support
    if before != after:
        owner.brand_name, owner.brand_color = new_name, new_color
        owner.support_contact = new_support
        _audit(actor, "branding.changed", owner, before=before, after=after)
        db.session.commit()
    return owner


def check_logo(data: bytes) -> LogoCheck:
    """Decode an uploaded logo; refuse anything but a whole PNG, JPEG or WebP within size."""
    if not data:
        raise BrandingError("Choose an image file (PNG, JPEG or WebP) to upload.")
    if len(data) > LOGO_MAX_BYTES:
        raise BrandingError(
            f"The file is {_size(len(data))}; a logo may be at most {_size(LOGO_MAX_BYTES)}."
        )
    if _looks_like_svg(data):
        raise BrandingError(
            "SVG images are refused: they can carry scripts. Upload a PNG, JPEG or WebP."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                kind = image.format or "unknown"
                if kind not in LOGO_TYPES:
                    raise BrandingError(
                        f"The file is a {kind} image; only PNG, JPEG or WebP are accepted."
                    )
                width, height = image.size
                if width > LOGO_MAX_WIDTH or height > LOGO_MAX_HEIGHT:
                    raise BrandingError(
                        f"The logo is {width} × {height} px; the most is "
                        f"{LOGO_MAX_WIDTH} × {LOGO_MAX_HEIGHT} px. Scale it down and upload "
                        "it again."
                    )
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                png = _reencoded(image)
    except BrandingError:
        raise
    except UnidentifiedImageError:
        raise BrandingError(
            "The file is not an image we can read; upload a PNG, JPEG or WebP."
        ) from None
    except (
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise BrandingError(
            "The image is damaged or incomplete (truncated) and cannot be read; "
            "export it again and upload the new file."
        ) from None
    return LogoCheck(mime="image/png", width=width, height=height, png=png)


def _reencoded(image: Image.Image) -> bytes:
    """The pixels alone, as a new PNG: no bytes of the upload survive (no trailing data of a
    polyglot, no EXIF, ICC or text chunks). EXIF orientation is applied first."""
    upright = ImageOps.exif_transpose(image)
    width, height = upright.size
    if width > LOGO_MAX_WIDTH or height > LOGO_MAX_HEIGHT:
        raise BrandingError(
            f"The logo is {width} × {height} px once turned upright; the most is "
            f"{LOGO_MAX_WIDTH} × {LOGO_MAX_HEIGHT} px."
        )
    mode = (
        "RGBA" if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info else "RGB"
    )
    pixels = upright.convert(mode)
    clean = Image.frombytes(mode, pixels.size, pixels.tobytes())  # a fresh image: no info
    out = io.BytesIO()
    clean.save(out, "PNG", optimize=True)
    return out.getvalue()


def set_logo(actor: User, data: bytes) -> LogoCheck:
    """Store a logo after decoding it (nothing is stored when it is refused); audited."""
    owner = editable_owner(actor)
    checked = check_logo(data)
    before = _logo_facts(owner)
    owner.logo = checked.png  # re-encoded: what was uploaded is never served
    owner.logo_mime = checked.mime
    owner.logo_width, owner.logo_height = checked.width, checked.height
    owner.logo_updated_at = utcnow()
    _audit(actor, "branding.logo_changed", owner, before=before, after=_logo_facts(owner))
    db.session.commit()
    return checked


def remove_logo(actor: User) -> None:
    """Go back to showing the name instead of a logo; audited."""
    owner = editable_owner(actor)
    if owner.logo_mime is None:
        return
    before = _logo_facts(owner)
    owner.logo = None
    owner.logo_mime = owner.logo_width = owner.logo_height = owner.logo_updated_at = None
    _audit(actor, "branding.logo_removed", owner, before=before, after=None)
    db.session.commit()


def provider_hosts(
    configured: Collection[str], server_name: str | None, served_on: str, own: str | None
) -> set[str]:
    """The host names that belong to the partner's own portal and can never be a reseller's:
    the configured ones, SERVER_NAME's host, and the host this request was served on unless
    it is already the reseller's own (`own`). Ports are dropped."""
    hosts = {_bare_host(h) for h in (*configured, server_name or "")}
    served = _bare_host(served_on)
    if served != (own or ""):
        hosts.add(served)
    return {h for h in hosts if h}


def set_host_name(actor: User, raw: str, *, reserved: Collection[str] = frozenset()) -> str | None:
    """Ask for the reseller's own web address (white-label); empty removes it. Audited.

    `reserved`: the partner's own host names (`provider_hosts`); claiming one would rebrand
    the whole portal, so it is refused, as is a host another reseller has. A new host is
    only asked for: it becomes active once proven (app.services.resellers), and until then
    the reseller's current address (if any) stays as it was.
    """
    from app.services import resellers  # resellers imports nothing of branding

    owner = editable_owner(actor)
    if not isinstance(owner, Reseller):
        raise BrandingError("Only a reseller has its own web address.")
    host = normalise_host_name(raw)
    if host == owner.host_name:
        if owner.pending_host_name is not None:  # keep the active one; forget the request
            owner.pending_host_name = owner.host_token = None
            db.session.commit()
        return host
    if host is not None and host in reserved:
        raise BrandingError(
            f"{host} is the partner's own portal address and cannot be a reseller's web "
            "address; choose a host name of your own, like portal.fabrikam.example."
        )
    if host is not None and db.session.scalar(
        select(Reseller.id).where(Reseller.host_name == host, Reseller.id != owner.id)
    ):
        raise BrandingError(f"{host} is already used by another reseller; choose another.")
    if host is None:
        before = {"host_name": owner.host_name, "pending": owner.pending_host_name}
        owner.host_name = owner.pending_host_name = owner.host_token = None
        _audit(actor, "branding.host_changed", owner, before=before, after={"host_name": None})
    elif host == owner.pending_host_name:
        return host  # already asked for: keep its token (a TXT record may already hold it)
    else:
        resellers.request_host(owner, host, actor)
    db.session.commit()
    return host


def normalise_host_name(raw: str) -> str | None:
    """A lower-case DNS host name such as portal.fabrikam.example, or BrandingError."""
    text = raw.strip().lower().rstrip(".")
    if not text:
        return None
    if "://" in text or "/" in text or ":" in text or "@" in text:
        raise BrandingError(
            "Enter only the host name, like portal.fabrikam.example, without https://, "
            "a port or a path."
        )
    try:
        host = text.encode("idna").decode("ascii")
    except UnicodeError:
        raise BrandingError(f"{raw.strip()[:80]!r} is not a valid host name.") from None
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise BrandingError(
            f"{raw.strip()[:80]!r} is not a valid host name: use letters, digits, hyphens "
            "and dots, like portal.fabrikam.example."
        )
    return host


# --- helpers --------------------------------------------------------------------------------


def _brand(kind: BrandKind, owner: Partner | Reseller, name: str, fallback_color: str) -> Brand:
    has_logo = owner.logo_mime is not None
    version = owner.logo_updated_at.strftime("%Y%m%d%H%M%S%f") if owner.logo_updated_at else None
    return Brand(
        name=name,
        primary_color=_color_or(owner.brand_color, fallback_color),
        logo_kind=kind if has_logo else None,
        logo_id=owner.id if has_logo else None,
        logo_version=version if has_logo else None,
        support=owner.support_contact,
    )


def _color_or(color: str | None, fallback: str) -> str:
    """The stored colour if it is a well-formed hex colour (it goes into CSS), else fallback."""
    return color if color and _COLOR.match(color) else fallback


def _has_branding(reseller: Reseller) -> bool:
    return bool(reseller.brand_name or reseller.brand_color or reseller.logo_mime)


def _bare_host(host: str) -> str:
    """A host header or SERVER_NAME without its port or final dot, lower case ('' for an
    IPv6 literal, which is never a reseller's host name)."""
    name = host.strip().lower()
    if name.startswith("["):
        return ""
    return name.rsplit(":", 1)[0].rstrip(".")


def _reseller_of_context(
    user: User, customer_pc_id: str | None, allowed: Customer | None
) -> Reseller | None:
    """The reseller of the company on screen (if the user may see it), or the user's own."""
    if allowed is not None and allowed.pc_id == customer_pc_id:
        if allowed.reseller_id:
            shown: Reseller | None = allowed.reseller
            return shown
    elif customer_pc_id:
        customer = db.session.scalar(select(Customer).where(Customer.pc_id == customer_pc_id))
        if customer is not None and customer.reseller_id and role_on(user, customer):
            theirs: Reseller | None = customer.reseller
            return theirs
    if user.staff_role is StaffRole.RESELLER_ADMIN:
        own: Reseller | None = user.reseller
        return own
    return None


def _owner(kind: str, brand_id: int) -> Partner | Reseller | None:
    if kind == "partner":
        return db.session.get(Partner, brand_id)
    if kind == "reseller":
        return db.session.get(Reseller, brand_id)
    return None


def _logo_facts(owner: Partner | Reseller) -> dict[str, object] | None:
    if owner.logo_mime is None:
        return None
    return {"type": owner.logo_mime, "width": owner.logo_width, "height": owner.logo_height}


def _audit(
    actor: User,
    kind: str,
    owner: Partner | Reseller,
    *,
    before: Mapping[str, object] | None,
    after: Mapping[str, object] | None,
) -> None:
    audit.record(
        kind,
        actor=actor,
        object_type="reseller" if isinstance(owner, Reseller) else "partner",
        object_id=owner.pc_id if isinstance(owner, Reseller) else str(owner.id),
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )


def _looks_like_svg(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<") or b"<svg" in head


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB"
    return f"{max(count // 1024, 1)} KB"
