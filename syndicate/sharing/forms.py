"""The public share form, the reader's answer, and the staff's decision forms."""

from __future__ import annotations

from collections.abc import Mapping

from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from syndicate.errors import Checks
from syndicate.sharing.asking import RequestInput
from syndicate.sharing.context import (
    MAX_CREDIT,
    MAX_EMAIL,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_NOTE,
    MAX_URL,
    SharingError,
)
from syndicate.sharing.models import KIND_LABELS, WHERE_LABELS, ShareKind
from syndicate.web.forms import FlaskForm, SelectChoice
from syndicate.web.params import digits

KIND_CHOICES = [
    SelectChoice(
        ShareKind.LINK.value,
        "Link to it (no permission needed: you get a record and a tracked link)",
    ),
    SelectChoice(ShareKind.EXCERPT.value, "Quote an excerpt"),
    SelectChoice(ShareKind.FULL.value, "Republish it in full"),
    SelectChoice(ShareKind.TRANSLATION.value, "Translate it"),
]


class ShareRequestForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=MAX_NAME)])
    email = EmailField(
        "Your email (we send a link to confirm it)",
        validators=[DataRequired(), Length(max=MAX_EMAIL)],
    )
    where = SelectField(
        "Where will you share it?",
        choices=[SelectChoice(w.value, label) for w, label in WHERE_LABELS.items()],
        default="linkedin_profile",
    )
    where_url = URLField(
        "Its address (your LinkedIn profile or page, newsletter or website)",
        validators=[Optional(), Length(max=MAX_URL)],
    )
    audience_size = IntegerField(
        "Audience size (optional)",
        validators=[Optional(), NumberRange(min=0, max=1_000_000_000)],
    )
    kind = RadioField("What would you like to do?", choices=KIND_CHOICES, default="link")
    excerpt_words = IntegerField(
        "Words you would quote (for an excerpt)",
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    language = StringField("Language (for a translation)", validators=[Optional(), Length(max=64)])
    message = TextAreaField(
        "Message to the publisher (optional)", validators=[Optional(), Length(max=MAX_MESSAGE)]
    )
    # Hidden from people by CSS; bots that fill every field give themselves away.
    fax = StringField("Fax number (leave this empty)", validators=[Optional(), Length(max=200)])
    started = HiddenField()


def _whole_number(formdata: Mapping[str, str], name: str, label: str) -> int | None:
    raw = (formdata.get(name) or "").strip().replace(",", "").replace("_", "")
    if not raw:
        return None
    number = digits(raw, max_length=15)
    if number is None:
        raise SharingError(f"Give {label} as a whole number, or leave it empty.", name)
    return number


def request_input(formdata: Mapping[str, str], checks: Checks | None = None) -> RequestInput:
    """The share form's fields as sent; ``asking.clean_input`` checks them all.

    The POST is the public path under load, so it skips building a WTForms form and
    validating twice; ShareRequestForm renders the form and re-shows it with errors. With
    ``checks``, a number that is not one is noted there (and read as empty) instead of
    raised, so that the other fields are checked too.
    """
    checks = checks or Checks()

    def number(name: str, label: str) -> int | None:
        return checks.run(lambda: _whole_number(formdata, name, label))

    data = RequestInput(
        name=formdata.get("name", ""),
        email=formdata.get("email", ""),
        where=formdata.get("where", ""),
        where_url=formdata.get("where_url") or None,
        audience_size=number("audience_size", "the audience size"),
        kind=formdata.get("kind", ""),
        excerpt_words=number("excerpt_words", "the number of words"),
        language=formdata.get("language") or None,
        message=formdata.get("message", ""),
    )
    return data


class AnswerForm(FlaskForm):
    answer = TextAreaField("Your answer", validators=[DataRequired(), Length(max=MAX_NOTE)])


class ApproveForm(FlaskForm):
    credit_line = StringField("Credit line", validators=[DataRequired(), Length(max=MAX_CREDIT)])
    link_required = BooleanField("A link to the article is required", default=True)
    excerpt_limit = IntegerField(
        "Excerpt limit in words (optional)",
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    expires_on = DateField("Valid until (optional, last day included)", validators=[Optional()])
    note = TextAreaField(
        "Note to the reader (optional)", validators=[Optional(), Length(max=MAX_NOTE)]
    )


class NoteForm(FlaskForm):
    note = TextAreaField("Reason", validators=[DataRequired(), Length(max=MAX_NOTE)])


class QuestionForm(FlaskForm):
    note = TextAreaField(
        "What do you need to know?", validators=[DataRequired(), Length(max=MAX_NOTE)]
    )


class BulkForm(FlaskForm):
    action = SelectField(
        "With the selected requests",
        choices=[
            SelectChoice("approve", "Approve with the default conditions"),
            SelectChoice("deny", "Deny"),
        ],
    )
    note = TextAreaField(
        "Reason (needed to deny; sent to each reader)",
        validators=[Optional(), Length(max=MAX_NOTE)],
    )


class StandingForm(FlaskForm):
    who = StringField("Email address or domain", validators=[DataRequired(), Length(max=MAX_EMAIL)])
    kinds = SelectMultipleField(
        "It covers",
        choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
        default=[ShareKind.LINK.value, ShareKind.EXCERPT.value],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    quota = IntegerField(
        "Quota: requests it grants (empty: no limit)",
        validators=[Optional(), NumberRange(min=1, max=1_000_000)],
    )
    ends_on = DateField("Ends after (optional, last day included)", validators=[Optional()])
    note = StringField("Note (optional)", validators=[Optional(), Length(max=500)])
