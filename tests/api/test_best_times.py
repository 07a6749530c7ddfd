"""GET /api/v1/targets/{id}/best-times: the target's best weekly slots, with their samples."""

from __future__ import annotations

from datetime import timedelta

from syndicate.linkedin.models import PostStatState, StatRefresh, StatSource
from tests import factories


def published(session, app, clock, make_article, target, at, clicks):  # noqa: ANN001, ANN201
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
            next_at=clock.now() + timedelta(hours=1),
            claims=1,
            failures=0,
            last_error="",
            taken_at=clock.now(),
            source=StatSource.ORGANIZATION,
            impressions=1000,
            clicks=clicks,
            reactions=0,
            comments=0,
            reposts=0,
        )
    )
    session.commit()


def test_best_times_give_slots_in_the_targets_zone_with_their_sample(
    api, session, app, clock, make_article, target
):
    # clock: Monday 2026-03-02 09:00 UTC; the target is in Europe/Berlin (UTC+1 in winter).
    for week in (1, 2, 3):
        published(
            session, app, clock, make_article, target, clock.now() - timedelta(days=7 * week), 40
        )
    body = api.get(f"/targets/{target.id}/best-times").get_json()
    assert body["time_zone"] == "Europe/Berlin" and body["message"] == ""
    assert body["suggestions"] == [
        {
            "weekday": 0,
            "time": "10:00",
            "engagement_rate": 0.04,
            "score": 0.04,
            "posts": 3,
            "impressions": 3000,
            "engagements": 120,
        }
    ]


def test_best_times_without_enough_posts_say_so(api, session, app, clock, make_article, target):
    published(session, app, clock, make_article, target, clock.now() - timedelta(days=7), 40)
    body = api.get(f"/targets/{target.id}/best-times").get_json()
    assert body["suggestions"] == []
    assert body["message"].startswith("Not enough published posts yet: 1 of the 3")


def test_best_times_of_an_unknown_target_are_404(api):
    assert api.get("/targets/999999/best-times").status_code == 404
