from __future__ import annotations

import functools
from typing import Any

from flask import current_app
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from syndicate.staff.models import Role
from syndicate.staff.services import (
    MIN_PASSWORD_LENGTH,
    StaffError,
    check_time_zone,
    time_zone_choices,
)
from syndicate.web.forms import FlaskForm, SelectChoice

ROLE_CHOICES = [
    SelectChoice(Role.EDITOR.value, "Editor"),
    SelectChoice(Role.ADMIN.value, "Administrator"),
]


@functools.cache
def time_zone_options() -> tuple[SelectChoice, ...]:
    """Every zone, grouped by region (Africa, America, ...); those without a region last."""

    def region(name: str) -> str:
        head, slash, _place = name.partition("/")
        return head if slash else "Other"

    names = sorted(time_zone_choices(), key=lambda n: (region(n) == "Other", region(n), n))
    return tuple(SelectChoice(name, optgroup=region(name)) for name in names)


def _known_time_zone(_form: Any, field: SelectField) -> None:
    try:
        check_time_zone(field.data or "")
    except StaffError as exc:
        raise ValidationError(str(exc)) from None


def time_zone_field(**kwargs: Any) -> SelectField:
    """A <select> of every zone this host knows; anything else posted is a form error."""
    return SelectField(
        "Time zone",
        choices=lambda: list(time_zone_options()),
        validate_choice=False,  # _known_time_zone says why, with the zone's name
        validators=[DataRequired(), _known_time_zone],
        **kwargs,
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    next = HiddenField()


class NewUserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.EDITOR.value)
    time_zone = time_zone_field(default=lambda: current_app.config["TIME_ZONE"])
    password = PasswordField(
        f"Initial password (at least {MIN_PASSWORD_LENGTH} characters)",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1000)],
    )


class EditUserForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    time_zone = time_zone_field()
    is_active = BooleanField("Active")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    time_zone = time_zone_field()
    new_password = PasswordField(
        "New password (leave empty to keep the current one)",
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1000)],
    )


class NewTokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])


class ConfirmForm(FlaskForm):
    """An empty form: only its CSRF token matters (revoke, publish, delete buttons)."""
