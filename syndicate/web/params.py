"""Query-string parameters every list page reads, checked the same way everywhere."""

from __future__ import annotations

from flask import abort, request

MAX_PAGE = 100_000
# The largest id a 32-bit integer column holds; larger numbers cannot name a row.
MAX_ID = 2_147_483_647


def page_number() -> int:
    """``?page=`` as a whole number from 1; anything else is a 400, never a 500."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, f"page must be a whole number from 1 to {MAX_PAGE}.")
    return int(raw)


def id_arg(name: str) -> int | None:
    """An optional ``?<name>=`` id; absent gives None, malformed a 400."""
    raw = request.args.get(name, "")
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
        abort(400, f"{name} must be the number of an existing {name}.")
    return int(raw)
