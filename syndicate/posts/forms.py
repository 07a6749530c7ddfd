"""Forms of the posting pages; the services check meaning, these check shape and size."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    FileField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from syndicate.web.forms import FlaskForm, SelectChoice

# Generous: the service enforces LinkedIn's own 3,000 (counted as LinkedIn counts, escaped).
MAX_TYPED = 20_000

WHEN_CHOICES = [
    SelectChoice("at", "At a date and time"),
    SelectChoice("queue", "In the next free queue slot"),
    SelectChoice("draft", "Save as a draft, schedule later"),
]


class PostTextForm(FlaskForm):
    """What a post says: commentary and the article card."""

    commentary = TextAreaField("Text of the post", validators=[Optional(), Length(max=MAX_TYPED)])
    card_title = StringField("Card title", validators=[Optional(), Length(max=400)])
    card_description = TextAreaField("Card description", validators=[Optional(), Length(max=2000)])
    # Text, not datetime-local: browsers show that in the reader's locale (12/04/2026,
    # 02:00 PM), and every time here reads "2026-12-04 14:00 Europe/Berlin".
    scheduled_at = StringField(
        "Date and time",
        validators=[Optional(), Length(max=100)],
        render_kw={
            "autocomplete": "off",
            "spellcheck": "false",
            "placeholder": "YYYY-MM-DD HH:MM",
        },
    )
    preview = SubmitField("Preview")


class ComposeForm(PostTextForm):
    when = RadioField("When", choices=WHEN_CHOICES, default="at")
    reshare = BooleanField("Re-share deliberately (this article was posted to this target before)")
    save = SubmitField("Save post")


class EditPostForm(PostTextForm):
    save = SubmitField("Save changes")


class TargetSettingsForm(FlaskForm):
    time_zone = StringField("Time zone", validators=[DataRequired(), Length(max=64)])
    queue_slots = TextAreaField(
        "Queue slots", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2}
    )
    daily_cap = IntegerField(
        "Daily cap (posts per day; empty for no cap)",
        validators=[Optional(), NumberRange(min=1, max=100)],
    )
    template = TextAreaField(
        "Template of new posts",
        validators=[Optional(), Length(max=3000)],
        render_kw={"rows": 9},
    )
    needs_approval = BooleanField("Posts by editors need an administrator's approval")


class MultiCheckboxField(SelectMultipleField):
    """Several choices as checkboxes: easier to use than a multi-select, same data."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RuleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    categories = MultiCheckboxField("Categories (none ticked: every category)", choices=[])
    targets = MultiCheckboxField("Post to", choices=[], coerce=int)
    publish = RadioField(
        "Then",
        choices=[
            SelectChoice("directly", "Schedule it in the next free queue slot"),
            SelectChoice("hold", "Hold it for an administrator's approval"),
        ],
        default="hold",
    )
    is_active = BooleanField("Active", default=True)


class ImportForm(FlaskForm):
    """A CSV file of posts, or the file a check has just read (base64) to schedule it."""

    file = FileField("CSV file")
    # 1 MiB of file is 1,398,104 base64 characters; the service refuses more than 1 MiB.
    checked = HiddenField(validators=[Optional(), Length(max=1_400_000)])
    check = SubmitField("Check")
    schedule = SubmitField("Schedule")
