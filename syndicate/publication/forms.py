from __future__ import annotations

from wtforms import StringField
from wtforms.validators import Length, Optional

from syndicate.publication.services import MAX_NAME
from syndicate.web.forms import FlaskForm


class NameForm(FlaskForm):
    name = StringField(
        "The publication's name",
        validators=[
            Optional(),
            Length(max=MAX_NAME, message=f"The name has at most {MAX_NAME} characters."),
        ],
    )
