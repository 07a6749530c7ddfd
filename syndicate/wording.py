"""Counts and durations in words, the same way on every page and in every email.

One place decides how "1 day" / "2 days" are spelled and how a duration is rounded, so an
email never says "1 days", "0 minutes late" or "expires in 5 days" six days ahead.
"""

from __future__ import annotations

from datetime import timedelta

_IRREGULAR = {
    "person": "people",
    "reply": "replies",
    "entry": "entries",
    "is": "are",
    "has": "have",
}


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The word for `count` of them, without the number: plural(1, "day") == "day"."""
    if count == 1:
        return singular
    return plural_form or _IRREGULAR.get(singular) or singular + "s"


def count(number: int, singular: str, plural_form: str | None = None) -> str:
    """The number and the word: count(1, "day") == "1 day", count(3, "day") == "3 days"."""
    return f"{number} {plural(number, singular, plural_form)}"


# (unit, seconds in it, the smallest duration spoken in it)
_UNITS = (
    ("day", 86400, timedelta(days=2)),
    ("hour", 3600, timedelta(hours=2)),
    ("minute", 60, timedelta(minutes=1)),
)


def duration(delta: timedelta) -> str:
    """A duration in its largest sensible unit, rounded to the nearest whole one.

    Days from two days up, hours from two hours, minutes from one minute; anything shorter is
    "less than a minute". Rounding is to the nearest unit (half up), so six days less a few
    seconds reads "6 days", and 36 hours reads "36 hours", not "1 day".
    """
    seconds = abs(delta.total_seconds())
    for unit, size, smallest in _UNITS:
        if seconds >= smallest.total_seconds():
            return count(int(seconds / size + 0.5), unit)
    return "less than a minute"


def whole_days(delta: timedelta) -> str:
    """A period given in days (settings such as "remind after 7 days"), rounded to the nearest
    whole day and never below one: whole_days(timedelta(days=1)) == "1 day"."""
    days = max(1, int(delta.total_seconds() / 86400 + 0.5))
    return count(days, "day")
