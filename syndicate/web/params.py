"""Numbers in URLs, checked the same way everywhere: in the path (the ``id`` and ``page``
converters) and in the query string (``?page=``, ``?article=``)."""

from __future__ import annotations

import re

from flask import abort, request

MAX_PAGE = 100_000
# Every id column is an INTEGER (32 bits on PostgreSQL): a larger number names no row, and
# sending it to the database would fail there instead of finding nothing.
MAX_ID = 2_147_483_647
# ASCII digits only: str.isdigit() and int() also take other scripts' digits, and
# str.isdigit() takes "²", which int() then refuses with a ValueError (a 500).
_DIGITS = re.compile(r"[0-9]+")


def digits(raw: str, max_length: int = 12) -> int | None:
    """``raw`` written in ASCII digits only (at most ``max_length``) as a number, or None."""
    if len(raw) > max_length or not _DIGITS.fullmatch(raw):
        return None
    return int(raw)


def whole_number(raw: str, high: int) -> int | None:
    """``raw`` as a whole number from 1 to ``high``, or None."""
    number = digits(raw)
    return number if number is not None and 1 <= number <= high else None


def page_number() -> int:
    """``?page=`` as a whole number from 1; anything else is a 400, never a 500."""
    number = whole_number(request.args.get("page", "1"), MAX_PAGE)
    if number is None:
        abort(400, f"page must be a whole number from 1 to {MAX_PAGE}.")
    return number


def id_arg(name: str) -> int | None:
    """An optional ``?<name>=`` id; absent gives None, malformed a 400."""
    raw = request.args.get(name, "")
    if not raw:
        return None
    number = whole_number(raw, MAX_ID)
    if number is None:
        abort(400, f"{name} must be the number of an existing {name}.")
    return number
