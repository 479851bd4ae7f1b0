"""WTForms forms: field validation at the edge, CSRF included."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.domain.end_of_term import EndOfTerm
from app.domain.roles import Role

ROLE_CHOICES = [SelectChoice(role.name.lower(), role.label) for role in Role]


class GrantAccessForm(FlaskForm):  # type: ignore[misc]
    """Invite an email address to a company's portal at a role."""

    email = StringField(
        "Email address",
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        validators=[
            DataRequired("Enter the email address to invite."),
            Length(max=320),
            Regexp(
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                message="Enter an email address like ann@example.com.",
            ),
        ],
    )
    role = SelectField("Access level", choices=ROLE_CHOICES, default="view")


class SeatsField(IntegerField):  # type: ignore[misc]
    """A whole number of seats typed in ASCII digits only. Python's int() also reads "١٢"
    (Arabic-Indic digits), "1_2" and padded text as numbers; a seat count must be what the
    person plainly typed, so anything else is refused as not a number."""

    _DIGITS = re.compile(r"[0-9]{1,9}")

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and valuelist[0] != "" and not self._DIGITS.fullmatch(valuelist[0]):
            self.data = None
            raise ValueError("Not a valid integer: type the number of seats in digits, like 12.")
        super().process_formdata(valuelist)


class ChangeForm(FlaskForm):  # type: ignore[misc]
    """A change of one subscription: the kind is in the URL, the values here."""

    quantity = SeatsField(
        "Seats",
        validators=[
            Optional(),
            NumberRange(1, 100000, "Enter a number of seats from 1 to 100,000."),
        ],
    )
    enable = SelectField(
        "Auto-renew",
        choices=[SelectChoice("on"), SelectChoice("off")],
        validate_choice=True,
        default="on",
    )
    version = IntegerField(validators=[Optional()])
    idempotency_key = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9-]{8,64}$")])
    add_one = StringField()  # the "+1" button: one seat more than the row showed
    end_of_term = StringField()  # renew / cancel / est (end-of-term choice, suspend)

    QUANTITY_KINDS = ("quantity", "schedule_quantity")

    def change_params(self, kind: str, seats_now: int) -> dict[str, object]:
        """The change's parameters, read from the form (call after `validate_on_submit`);
        `seats_now` is what "+1" counts from. Raises ValueError with a message to show."""
        if kind == "quantity" and self.add_one.data == "1":
            return {"quantity": seats_now + 1}
        if kind in self.QUANTITY_KINDS:
            if self.quantity.data is None:
                raise ValueError("Enter the number of seats.")
            return {"quantity": self.quantity.data}
        if kind == "auto_renew":
            return {"enable": self.enable.data == "on"}
        if kind == "end_of_term":
            if self.end_of_term.data not in {c.value for c in EndOfTerm}:
                raise ValueError("Choose what happens at the end of the term.")
            return {"choice": self.end_of_term.data}
        if kind == "suspend":
            choice = self.end_of_term.data or EndOfTerm.CANCEL.value
            if choice not in (EndOfTerm.CANCEL, EndOfTerm.EST):
                raise ValueError("Choose whether it ends or goes on at the end of the term.")
            return {"end_of_term": choice}
        return {}

    def refusal(self) -> str:
        """The first validation message, or a generic one (e.g. a missing CSRF token)."""
        for field in (self.quantity, self.enable):
            if field.errors:
                return str(field.errors[0])
        if self.version.errors or self.idempotency_key.errors:
            return "The form was incomplete; reload the page and try again."
        return "The form expired; reload the page and try again."

    def validate_on_submit(self, extra_validators: object = None) -> bool:
        """ "+1" counts from the seats shown, so the typed number is not validated then."""
        if self.add_one.data == "1":
            self.quantity.data = None
            self.quantity.raw_data = []
        return bool(super().validate_on_submit(extra_validators))


class BrandForm(FlaskForm):  # type: ignore[misc]
    """The name and primary colour shown in the portal (the service checks the values)."""

    name = StringField("Name shown in the portal", validators=[Length(max=200)])
    color = StringField("Primary colour", validators=[Length(max=20)])
    support = StringField(
        "Support contact (e-mail, phone or web address)", validators=[Length(max=200)]
    )


class LogoForm(FlaskForm):  # type: ignore[misc]
    """A logo upload; the file is checked by decoding it (app.services.branding)."""

    logo = FileField("Logo (PNG, JPEG or WebP, at most 502 × 81 px)")


class HostNameForm(FlaskForm):  # type: ignore[misc]
    """A reseller's own web address for the white-label portal."""

    host_name = StringField("Web address (host name)", validators=[Length(max=253)])


class AssignForm(FlaskForm):  # type: ignore[misc]
    """Assign or remove one product for one person (the person is in the URL)."""

    sku_id = StringField(validators=[DataRequired(), Length(max=64)])
    buy = SelectField(choices=[SelectChoice("no"), SelectChoice("yes")], default="no")
    idempotency_key = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9-]{8,64}$")])

    def refusal(self) -> str:
        """A message for a form that did not validate."""
        if self.sku_id.errors or self.buy.errors or self.idempotency_key.errors:
            return "The form was incomplete; reload the page and try again."
        return "The form expired; reload the page and try again."


class ReleaseForm(FlaskForm):  # type: ignore[misc]
    """Unassign licences: each chosen `item` is "<person id>:<sku id>"."""

    idempotency_key = StringField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9-]{8,64}$")])

    _ITEM = re.compile(r"^([0-9]{1,12}):([A-Za-z0-9-]{1,64})$")

    def items(self) -> list[tuple[int, str]]:
        """The chosen (person, SKU) pairs (malformed ones were refused by `validate`)."""
        found = []
        only = _form_values("only")
        for raw in only[:1] or _form_values("item"):
            match = self._ITEM.match(raw)
            if match:
                found.append((int(match.group(1)), match.group(2)))
        return found

    def validate(self, extra_validators: object = None) -> bool:
        """Valid keys, and every item well formed."""
        if not super().validate(extra_validators):
            return False
        return all(self._ITEM.match(raw) for raw in _form_values("item") + _form_values("only"))

    def refusal(self) -> str:
        """A message for a form that did not validate."""
        if self.idempotency_key.errors or any(
            not self._ITEM.match(raw) for raw in _form_values("item")
        ):
            return "The form was incomplete; reload the page and try again."
        return "The form expired; reload the page and try again."


class InsightSettingsForm(FlaskForm):  # type: ignore[misc]
    """A company's insight settings (the excluded products come as a list of checkboxes)."""

    inactive_days = IntegerField(
        "Inactive after (days)",
        validators=[DataRequired("Enter a number of days."), NumberRange(14, 365)],
    )
    excluded_people = StringField("Excluded people", validators=[Optional(), Length(max=20000)])

    def refusal(self) -> str:
        """A message for a form that did not validate."""
        if self.inactive_days.errors:
            return "Inactive after must be a number of days between 14 and 365."
        if self.excluded_people.errors:
            return "The list of excluded people is too long."
        return "The form expired; reload the page and try again."


def _form_values(name: str) -> list[str]:
    from flask import request

    return request.form.getlist(name)
