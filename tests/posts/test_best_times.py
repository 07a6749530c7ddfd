"""Best times to post: slots ranked from the target's own figures, and offered as queue slots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicate.linkedin.models import LinkedInTarget, PostStatState, StatRefresh, StatSource
from syndicate.linkedin.statistics import SlotEngagement
from syndicate.posts import best_times
from tests import factories

# Mondays around the start of summer time in Europe/Berlin (29 March 2026): 09:00 local is
# 08:00 UTC before it and 07:00 UTC after it.
WINTER_MONDAYS_9_BERLIN = [datetime(2026, 3, d, 8, tzinfo=UTC) for d in (16, 23)]
SUMMER_MONDAYS_9_BERLIN = [
    datetime(2026, 3, 30, 7, tzinfo=UTC),
    datetime(2026, 4, 6, 7, tzinfo=UTC),
]
NOW = datetime(2026, 4, 15, 12, tzinfo=UTC)


@pytest.fixture
def editor(staff_user):
    return staff_user(email="editor@example.test", time_zone="Europe/Berlin")


@pytest.fixture
def berlin(make_target):
    return make_target(display_name="Berlin page", time_zone="Europe/Berlin")


@pytest.fixture
def published(app, session, clock, make_article):
    """A published post of ``target`` at ``at`` whose latest figures are ``impressions`` and
    ``engagements`` (as clicks)."""

    def make(target, at, impressions=1000, engagements=50):
        post = factories.make_post(
            session,
            article=make_article(),
            target=target,
            now=clock.now(),
            site_url=app.config["SITE_URL"],
        )
        factories.record_published(
            session, post, now=at, published_at=at, urn=f"urn:li:share:{7000 + post.id}"
        )
        session.add(
            PostStatState(
                post_id=post.id,
                state=StatRefresh.WAITING,
                next_at=at + timedelta(days=1),
                claims=1,
                failures=0,
                last_error="",
                taken_at=at + timedelta(hours=2),
                source=StatSource.ORGANIZATION,
                impressions=impressions,
                clicks=engagements,
                reactions=0,
                comments=0,
                reposts=0,
            )
        )
        session.commit()
        return post

    return make


def slot_key(s):
    return (s.weekday, s.hour)


# --- ranking ---------------------------------------------------------------------------


def test_nine_oclock_berlin_in_winter_and_summer_is_one_slot(session, berlin, published):
    for at in WINTER_MONDAYS_9_BERLIN + SUMMER_MONDAYS_9_BERLIN:
        published(berlin, at)
    found = best_times.best_times(session, berlin, now=NOW)
    assert [(slot_key(s), s.posts, s.impressions) for s in found.suggestions] == [((0, 9), 4, 4000)]
    assert found.suggestions[0].slot_text == "Mon 09:00"


def test_a_slot_with_fewer_than_three_posts_is_not_suggested_and_the_page_says_why(
    session, berlin, published
):
    for at in WINTER_MONDAYS_9_BERLIN:
        published(berlin, at)
    found = best_times.best_times(session, berlin, now=NOW)
    assert found.suggestions == []
    assert found.shortage.startswith("Not enough published posts yet: 2 of the 3 needed per slot")
    published(berlin, SUMMER_MONDAYS_9_BERLIN[0])
    assert [slot_key(s) for s in best_times.best_times(session, berlin, now=NOW).suggestions] == [
        (0, 9)
    ]


def test_posts_older_than_the_period_do_not_count(session, berlin, published):
    # Wednesdays 14:00 Europe/Berlin: the first is 91 days before NOW.
    old = datetime(2026, 1, 14, 13, tzinfo=UTC)
    assert NOW - old > timedelta(days=best_times.DAYS)
    published(berlin, old, engagements=900)
    for at in (datetime(2026, 4, 1, 12, tzinfo=UTC), datetime(2026, 4, 8, 12, tzinfo=UTC)):
        published(berlin, at)
    found = best_times.best_times(session, berlin, now=NOW)
    assert found.suggestions == [] and found.posts == 2
    published(berlin, datetime(2026, 3, 25, 13, tzinfo=UTC))
    (only,) = best_times.best_times(session, berlin, now=NOW).suggestions
    assert (slot_key(only), only.posts, only.impressions, only.engagements) == (
        (2, 14),
        3,
        3000,
        150,
    )


def test_no_posts_at_all_says_none_have_figures(session, berlin):
    found = best_times.best_times(session, berlin, now=NOW)
    assert found.suggestions == []
    assert "Not enough published posts yet: none with figures in the last 90 days" in (
        found.shortage
    )


def test_a_few_lucky_impressions_do_not_outrank_a_slot_that_did_well_many_times():
    slots = {
        (0, 9): SlotEngagement(posts=3, impressions=30, engagements=6),  # 20 %, tiny
        (1, 9): SlotEngagement(posts=20, impressions=20_000, engagements=3_000),  # 15 %
        (2, 9): SlotEngagement(posts=20, impressions=20_000, engagements=1_000),  # 5 %
        (3, 9): SlotEngagement(posts=2, impressions=10, engagements=9),  # 90 %, too few posts
    }
    ranked = best_times.rank(slots)
    assert [slot_key(s) for s in ranked] == [(1, 9), (0, 9), (2, 9)]
    assert ranked[1].rate == pytest.approx(0.2)


# --- the settings page -----------------------------------------------------------------


def page_of(client, target):
    return client.get(f"/dashboard/posts/targets/{target.id}").get_data(as_text=True)


def add_url(target):
    return f"/dashboard/posts/targets/{target.id}/best-times"


def four_slots(target, published, clock):
    """Three posts in each of four Monday slots (Berlin): 09, 12, 15 and 18 o'clock, the
    later the better."""
    monday = clock.now() - timedelta(days=7)  # Monday 2026-02-23 10:00 Berlin
    for week in range(3):
        for n, hour in enumerate((9, 12, 15, 18)):
            at = monday.replace(hour=hour - 1) - timedelta(days=7 * week)
            published(target, at, impressions=1000, engagements=20 + 10 * n)


def test_the_page_shows_suggestions_with_zone_rate_and_sample_size(
    client, editor, berlin, published, clock
):
    four_slots(berlin, published, clock)
    page = page_of(client, berlin)
    assert "Best times to post" in page
    assert "Monday 18:00 <small>Europe/Berlin</small>" in page
    assert "Slot (Europe/Berlin)" in page
    assert "5.0 %" in page and "3,000" in page  # 150 of 3,000 impressions, 3 posts
    assert page.index("Monday 18:00") < page.index("Monday 15:00") < page.index("Monday 12:00")
    assert 'name="slot" value="0-18"' in page


def test_the_page_says_what_is_missing_without_enough_posts(client, editor, berlin, published):
    published(berlin, datetime(2026, 2, 23, 8, tzinfo=UTC))
    page = page_of(client, berlin)
    assert "Not enough published posts yet: 1 of the 3 needed per slot" in page
    assert 'name="top"' not in page


def test_adding_a_suggestion_twice_adds_the_slot_once(
    client, session, editor, berlin, published, clock
):
    four_slots(berlin, published, clock)
    first = client.post(add_url(berlin), data={"slot": "0-18"})
    assert first.status_code == 303
    again = client.post(add_url(berlin), data={"slot": "0-18"}, follow_redirects=True)
    assert "already among the queue slots" in again.get_data(as_text=True)
    session.expire_all()
    assert session.get(LinkedInTarget, berlin.id).queue_slots == [{"weekday": 0, "time": "18:00"}]
    assert "a queue slot already" in page_of(client, berlin)


def test_adding_the_top_three_keeps_existing_slots_and_adds_each_once(
    client, session, editor, berlin, published, clock
):
    berlin.queue_slots = [{"weekday": 0, "time": "15:00"}, {"weekday": 4, "time": "08:30"}]
    session.commit()
    four_slots(berlin, published, clock)
    response = client.post(add_url(berlin), data={"top": "3"}, follow_redirects=True)
    assert "Added Mon 18:00, Mon 12:00 (Europe/Berlin)" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(LinkedInTarget, berlin.id).queue_slots == [
        {"weekday": 0, "time": "12:00"},
        {"weekday": 0, "time": "15:00"},
        {"weekday": 0, "time": "18:00"},
        {"weekday": 4, "time": "08:30"},
    ]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"slot": "0-10"}, 409),  # not suggested (no posts then)
        ({"slot": "7-18"}, 400),
        ({"slot": "0-24"}, 400),
        ({"slot": "-1-3"}, 400),
        ({"slot": "0-１８"}, 400),
        ({"slot": "x" * 10_000}, 400),
        ({}, 400),
    ],
)
def test_bad_or_stale_slots_are_refused_and_change_nothing(
    client, session, editor, berlin, published, clock, data, status
):
    four_slots(berlin, published, clock)
    assert client.post(add_url(berlin), data=data).status_code == status
    session.expire_all()
    assert session.get(LinkedInTarget, berlin.id).queue_slots == []


def test_adding_needs_the_csrf_token_and_a_signed_in_user(
    app, client, session, berlin, published, clock, staff_user
):
    four_slots(berlin, published, clock)
    assert client.post(add_url(berlin), data={"slot": "0-18"}).status_code in (302, 303, 401)
    staff_user(email="editor@example.test")
    app.config["WTF_CSRF_ENABLED"] = True
    assert client.post(add_url(berlin), data={"slot": "0-18"}).status_code == 400
    session.expire_all()
    assert session.get(LinkedInTarget, berlin.id).queue_slots == []


def test_an_unknown_target_is_404(client, editor):
    assert (
        client.post("/dashboard/posts/targets/999999/best-times", data={"top": "3"}).status_code
        == 404
    )
