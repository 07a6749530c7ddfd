"""The base of every form, with the types that Flask-WTF and the WTForms stubs lack."""

from __future__ import annotations

from typing import TYPE_CHECKING

# types-wtforms describes WTForms 3.2; SelectChoice came with 3.3, which we require.
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]

__all__ = ["FlaskForm", "SelectChoice"]

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

    from markupsafe import Markup
    from wtforms import Form

    class FlaskForm(Form):
        """Flask-WTF ships no types: its FlaskForm is a WTForms Form bound to the request."""

        def is_submitted(self) -> bool: ...

        def validate_on_submit(
            self, extra_validators: Mapping[str, Sequence[Any]] | None = None
        ) -> bool: ...

        def hidden_tag(self, *fields: Any) -> Markup: ...

else:
    from flask_wtf import FlaskForm
