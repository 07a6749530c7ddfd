"""DomainError: the one base of every refusal a service raises.

A service that cannot do what it was asked raises a subclass with a message fit to show a
person, the form field at fault when there is one, an HTTP status and a stable code. The
three transaction owners translate it the same way: the API (`api/handling.py`) into a JSON
problem, the dashboard (`web/actions.py`) into the message beside the field, commands into
one line on stderr. None of them needs to know the feature it came from.
"""

from __future__ import annotations

from typing import Any


class DomainError(ValueError):
    """A refusal: message (fit to show), field at fault, HTTP status and stable code."""

    status: int = 422
    code: str = "invalid"

    def __init__(
        self,
        message: str,
        field_name: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_name = field_name
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def details(self) -> Any:
        """What an API client needs beyond the message: the field at fault, by default."""
        if not self.field_name:
            return None
        return [{"field": self.field_name, "message": self.message, "type": "invalid"}]


class Conflict(DomainError):
    """Someone else changed the same rows first (a unique key, a state that moved on)."""

    status = 409
    code = "conflict"


class Forbidden(DomainError):
    """The signed-in person's role does not allow this."""

    status = 403
    code = "forbidden"
