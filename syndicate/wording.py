"""Counts, durations and times in words, the same way on every page and in every email.

One place decides how "1 day" / "2 days" are spelled and how a duration is rounded, so an
email never says "1 days", "0 minutes late" or "expires in 5 days" six days ahead; and one
place writes a time, "2026-12-04 14:00 Europe/Berlin", on pages, in emails and in the
forms' inputs, and reads it back (``parse_time``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from syndicate.config import time_zone_names

TIME_FORMAT = "%Y-%m-%d %H:%M"

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


def time_in_zone(moment: datetime | None, zone: str, *, for_input: bool = False) -> str:
    """'2026-12-04 14:00 Europe/Berlin': the wall time in ``zone`` and the zone's name.

    The one format of every time shown. A wall time that happens twice (the hour clocks go
    back) adds the abbreviation that tells which: '2026-10-25 02:30 Europe/Berlin (CEST)'.
    ``for_input`` leaves that out: what an input holds must read back as a time.
    """
    if moment is None:
        return "—"
    local = moment.astimezone(ZoneInfo(zone))
    shown = f"{local.strftime(TIME_FORMAT)} {zone}"
    if not for_input:
        other = local.replace(fold=1 - local.fold)
        if other.utcoffset() != local.utcoffset():
            shown += f" ({local.tzname()})"
    return shown


@dataclass(frozen=True)
class WallTime:
    """A date and time as typed, and the zone typed with it (None: the form's zone)."""

    naive: datetime
    zone: str | None


_TYPED = re.compile(
    r"(?P<day>\d{4}-\d{2}-\d{2})[T ]\s*(?P<time>\d{1,2}:\d{2}(?::\d{2})?)"
    r"(?:\s+(?P<zone>[A-Za-z][A-Za-z0-9_+\-/]{0,63}))?"
)


def parse_time(text: str) -> WallTime:
    """Read '2026-12-04 14:00', '2026-12-04T14:00' (what a datetime-local input sends) or
    '2026-12-04 14:00 Europe/Berlin' (what ``time_in_zone`` writes); ValueError otherwise.

    The zone, when given, must be an IANA name; the caller decides what the wall time means
    in it (the instant is not computed here: a skipped or repeated wall time needs a note).
    """
    match = _TYPED.fullmatch(text.strip())
    if match is None:
        raise ValueError("not a date and time")
    naive = datetime.fromisoformat(f"{match['day']}T{match['time'].zfill(5)}")
    zone = match["zone"]
    if zone is not None and zone not in time_zone_names():
        raise ValueError(f"{zone} is not a time zone")
    return WallTime(naive, zone)
