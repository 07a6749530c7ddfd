"""DomainError: the one base of every refusal a service raises.

A service that cannot do what it was asked raises a subclass with a message fit to show a
person, the form field at fault when there is one, an HTTP status and a stable code. The
three transaction owners translate it the same way: the API (`api/handling.py`) into a JSON
problem, the dashboard (`web/actions.py`) into the message beside the field, commands into
one line on stderr. None of them needs to know the feature it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


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


class DomainErrors(DomainError):
    """Several refusals found at once, such as every bad field of one form.

    The dashboard shows each beside its field; the API lists them all in its details. It
    takes the status and code of the first.
    """

    def __init__(self, errors: Sequence[DomainError]) -> None:
        first = errors[0]
        super().__init__(first.message, first.field_name, status=first.status, code=first.code)
        self.errors: tuple[DomainError, ...] = tuple(errors)

    def details(self) -> Any:
        found = [detail for error in self.errors for detail in (error.details() or [])]
        return found or None


class Checks:
    """Runs independent checks and keeps every refusal, to raise them all together.

    ``run`` returns the check's result, or None when it refused; ``done`` raises the one
    refusal, or DomainErrors with all of them. ``failed(field)`` tells whether a field has
    one already, so a later check does not add a second message about the same field.
    """

    def __init__(self) -> None:
        self.found: list[DomainError] = []

    def run(self, check: Callable[[], T]) -> T | None:
        try:
            return check()
        except DomainErrors as several:
            self.found.extend(several.errors)
        except DomainError as error:
            self.found.append(error)
        return None

    def add(self, error: DomainError) -> None:
        """A refusal found without running a check."""
        self.found.append(error)

    def failed(self, field_name: str) -> bool:
        return any(error.field_name == field_name for error in self.found)

    def done(self, group: type[DomainErrors] | None = None) -> None:
        """Raise what was found: the one refusal, or ``group`` (DomainErrors, or a feature's
        subclass that its callers catch) with all of them."""
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise (group or DomainErrors)(self.found)
