"""GET /api/v1/posts/{id}/stats: the latest LinkedIn figures and the series."""

from __future__ import annotations

from datetime import timedelta

from syndicate.linkedin.models import PostStatSample, PostStatState, StatRefresh, StatSource
from tests import factories


def published(session, app, clock, make_article, target, *, samples=()):  # noqa: ANN001, ANN201
    post = factories.make_post(
        session, article=make_article(title="Counted"), target=target, now=clock.now(),
        site_url=app.config["SITE_URL"],
    )
    factories.record_published(session, post, now=clock.now(), urn="urn:li:share:7123")
    for hours, (impressions, reactions) in enumerate(samples, start=1):
        session.add(PostStatSample(
            post_id=post.id, taken_at=clock.now() + timedelta(hours=hours),
            source=StatSource.ORGANIZATION, impressions=impressions, clicks=10,
            reactions=reactions, comments=2, reposts=1,
        ))
    last = samples[-1] if samples else None
    session.add(PostStatState(
        post_id=post.id, state=StatRefresh.WAITING,
        next_at=clock.now() + timedelta(hours=len(samples) + 1), claims=len(samples),
        failures=0, last_error="",
        taken_at=clock.now() + timedelta(hours=len(samples)) if last else None,
        source=StatSource.ORGANIZATION if last else None,
        impressions=last[0] if last else None, clicks=10 if last else None,
        reactions=last[1] if last else None, comments=2 if last else None,
        reposts=1 if last else None,
    ))
    session.commit()
    return post


def test_stats_give_the_latest_figures_and_every_sample_oldest_first(
    api, session, app, clock, make_article, target
):
    post = published(session, app, clock, make_article, target, samples=[(100, 5), (400, 20)])
    answer = api.get(f"/posts/{post.id}/stats")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["post_id"] == post.id and body["linkedin_urn"] == "urn:li:share:7123"
    assert body["latest"]["impressions"] == 400
    assert body["latest"]["engagement_rate"] == (10 + 20 + 2 + 1) / 400
    assert body["latest"]["source"] == "organization"
    assert [s["impressions"] for s in body["series"]] == [100, 400]
    assert body["series"][0]["taken_at"].endswith("Z")
    assert body["refresh"]["state"] == "waiting"
    assert body["refresh"]["next_at"] is not None


def test_before_the_first_fetch_latest_is_null(api, session, app, clock, make_article, target):
    post = published(session, app, clock, make_article, target)
    body = api.get(f"/posts/{post.id}/stats").get_json()
    assert body["latest"] is None and body["series"] == []
    assert body["refresh"]["state"] == "waiting"


def test_an_unpublished_post_has_no_refresh_state(api, session, app, clock, make_article, target):
    post = factories.make_post(session, article=make_article(title="Later"), target=target,
                               now=clock.now(), site_url=app.config["SITE_URL"])
    session.commit()
    body = api.get(f"/posts/{post.id}/stats").get_json()
    assert body == {"post_id": post.id, "linkedin_urn": None, "latest": None, "refresh": None,
                    "series": []}


def test_unknown_and_malformed_post_ids(api):
    assert api.get("/posts/999999/stats").status_code == 404
    assert api.get("/posts/99999999999999/stats").status_code == 404
    assert api.get("/posts/abc/stats").status_code == 404


def test_stats_need_a_token(client):
    assert client.get("/api/v1/posts/1/stats").status_code == 401
