"""URL converters for ids and page numbers: a number that can name nothing is a 404.

Every route that takes an id says ``<id:...>``, never ``<int:...>``, whose numbers reach the
database unbounded (2**63 overflows it: a 500). tests/web/test_converters.py checks both.
The bound is in the converter's pattern, not only in ``to_python``: werkzeug answers 405
instead of 404 when a path's number fails conversion and another method's rule has the
same path.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from syndicate.web.params import MAX_ID, MAX_PAGE


def numbers_up_to(high: int) -> str:
    """A regular expression for the numbers 1 to ``high``, written without leading zeros."""
    digits = str(high)
    choices = [f"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    for i, digit in enumerate(digits):
        lowest = 1 if i == 0 else 0
        if int(digit) - 1 >= lowest:
            rest = len(digits) - i - 1
            choices.append(f"{digits[:i]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    choices.append(digits)
    return "(?:" + "|".join(choices) + ")"


class _BoundedNumber(IntegerConverter):
    high = 0

    def __init__(self, map: Map) -> None:
        super().__init__(map, min=1, max=self.high)


class IdConverter(_BoundedNumber):
    """``<id:post_id>``: the id of a row, 1 to MAX_ID."""

    high = MAX_ID
    regex = numbers_up_to(MAX_ID)


class PageConverter(_BoundedNumber):
    """``<page:page>``: a page number, 1 to MAX_PAGE."""

    high = MAX_PAGE
    regex = numbers_up_to(MAX_PAGE)


def init_app(app: Flask) -> None:
    """Before any blueprint: rules are parsed when they are registered."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["page"] = PageConverter
