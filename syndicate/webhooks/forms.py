from __future__ import annotations

from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from syndicate.web.forms import FlaskForm, SelectChoice
from syndicate.webhooks.models import EVENT_KINDS

EVENT_LABELS = {
    "post.published": "A LinkedIn post went out (post.published)",
    "post.failed": "A LinkedIn post failed (post.failed)",
    "share_request.created": "A reader asked to share (share_request.created)",
    "share_request.decided": "A share request was decided (share_request.decided)",
    "article.published": "An article was published (article.published)",
}


class CheckboxesField(SelectMultipleField):
    """Several choices as a list of labelled checkboxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EndpointForm(FlaskForm):
    url = StringField(
        "Receiver URL", validators=[DataRequired(), Length(max=2000)],
        render_kw={"type": "url", "placeholder": "https://example.com/hooks/syndicate"},
    )
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    event_kinds = CheckboxesField(
        "Events", choices=[SelectChoice(kind, EVENT_LABELS[kind]) for kind in EVENT_KINDS]
    )
    is_active = BooleanField("Active", default=True)
