from datetime import UTC, datetime, timedelta

import pytest

from syndicate.wording import (
    WallTime,
    count,
    duration,
    parse_time,
    plural,
    time_in_zone,
    whole_days,
)


@pytest.mark.parametrize(
    ("number", "word", "expected"),
    [
        (0, "day", "0 days"),
        (1, "day", "1 day"),
        (2, "day", "2 days"),
        (1, "reply", "1 reply"),
        (3, "reply", "3 replies"),
        (2, "person", "2 people"),
        (5, "visit", "5 visits"),
    ],
)
def test_count_spells_singular_only_for_one(number, word, expected):
    assert count(number, word) == expected


def test_plural_takes_an_explicit_form():
    assert plural(2, "request has", "requests have") == "requests have"
    assert plural(1, "request has", "requests have") == "request has"


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(seconds=20), "less than a minute"),
        (timedelta(seconds=59), "less than a minute"),
        (timedelta(seconds=60), "1 minute"),
        (timedelta(seconds=89), "1 minute"),
        (timedelta(seconds=90), "2 minutes"),
        (timedelta(minutes=119), "119 minutes"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(hours=36), "36 hours"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=6) - timedelta(seconds=5), "6 days"),
        (timedelta(days=5, hours=11), "5 days"),
        (timedelta(days=5, hours=12), "6 days"),
        (-timedelta(minutes=3), "3 minutes"),
    ],
)
def test_duration_rounds_to_the_nearest_unit(delta, expected):
    assert duration(delta) == expected


def test_whole_days_never_says_zero_or_days_for_one():
    assert whole_days(timedelta(days=1)) == "1 day"
    assert whole_days(timedelta(hours=3)) == "1 day"
    assert whole_days(timedelta(days=7)) == "7 days"


# --- times -----------------------------------------------------------------------------


def test_a_time_is_written_one_way_with_its_zone():
    moment = datetime(2026, 12, 4, 13, 0, tzinfo=UTC)
    assert time_in_zone(moment, "Europe/Berlin") == "2026-12-04 14:00 Europe/Berlin"
    assert time_in_zone(moment, "UTC") == "2026-12-04 13:00 UTC"
    assert time_in_zone(None, "UTC") == "—"


def test_a_wall_time_that_happens_twice_says_which_except_in_an_input():
    first = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    second = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert time_in_zone(first, "Europe/Berlin") == "2026-10-25 02:30 Europe/Berlin (CEST)"
    assert time_in_zone(second, "Europe/Berlin") == "2026-10-25 02:30 Europe/Berlin (CET)"
    assert time_in_zone(second, "Europe/Berlin", for_input=True) == "2026-10-25 02:30 Europe/Berlin"


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("2026-12-04 14:00 Europe/Berlin", "Europe/Berlin"),
        ("2026-12-04 14:00", None),
        ("2026-12-04T14:00", None),
        (" 2026-12-04  14:00  America/New_York ", "America/New_York"),
        ("2026-12-04 14:00:00 UTC", "UTC"),
    ],
)
def test_a_time_is_read_back_as_written_and_as_inputs_send_it(typed, zone):
    assert parse_time(typed) == WallTime(datetime(2026, 12, 4, 14, 0), zone)


def test_what_time_in_zone_writes_parse_time_reads():
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    written = time_in_zone(moment, "Europe/Berlin", for_input=True)
    assert parse_time(written) == WallTime(datetime(2026, 3, 29, 3, 30), "Europe/Berlin")


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "tomorrow",
        "2026-12-04",
        "2026-12-04 14:00 Mars/Olympus",
        "2026-12-04 14:00 localtime",
        "2026-12-04 14:00+01:00",
        "2026-13-04 14:00",
        "2026-12-04 14:00 ../etc/passwd",
    ],
)
def test_anything_else_is_not_read_as_a_time(typed):
    with pytest.raises(ValueError):
        parse_time(typed)
