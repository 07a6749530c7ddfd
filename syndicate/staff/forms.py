from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from syndicate.staff.models import Role
from syndicate.staff.services import MIN_PASSWORD_LENGTH

ROLE_CHOICES = [
    SelectChoice(Role.EDITOR.value, "Editor"),
    SelectChoice(Role.ADMIN.value, "Administrator"),
]


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    next = HiddenField()


class NewUserForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.EDITOR.value)
    time_zone = StringField("Time zone", default="UTC", validators=[DataRequired(), Length(max=64)])
    password = PasswordField(
        f"Initial password (at least {MIN_PASSWORD_LENGTH} characters)",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1000)],
    )


class EditUserForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    time_zone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    is_active = BooleanField("Active")


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[Optional(), Length(max=200)])
    time_zone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    new_password = PasswordField(
        "New password (leave empty to keep the current one)",
        validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1000)],
    )


class NewTokenForm(FlaskForm):
    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])


class ConfirmForm(FlaskForm):
    """An empty form: only its CSRF token matters (revoke, publish, delete buttons)."""
