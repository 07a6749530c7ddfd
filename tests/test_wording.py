from datetime import timedelta

import pytest

from syndicate.wording import count, duration, plural, whole_days


@pytest.mark.parametrize(
    ("number", "word", "expected"),
    [(0, "day", "0 days"), (1, "day", "1 day"), (2, "day", "2 days"), (1, "reply", "1 reply"),
     (3, "reply", "3 replies"), (2, "person", "2 people"), (5, "visit", "5 visits")],
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
