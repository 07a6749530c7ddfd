"""Fetching published posts' figures on a schedule: the refresher against the real sandbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from syndicate.db import Database, make_engine
from syndicate.linkedin import client as li
from syndicate.linkedin import statistics as stats
from syndicate.linkedin.jobs import make_stats_refresher
from syndicate.linkedin.models import (
    ConnectionState,
    LinkedInConnection,
    PostStatSample,
    PostStatState,
    StatRefresh,
    StatSource,
    TargetKind,
)
from syndicate.linkedin.services import scopes_for
from tests import factories
from tests.sandbox_fixtures import post_body

PAGE = "urn:li:organization:1001"
HOUR = timedelta(hours=1)


@pytest.fixture
def page(make_sandbox_target):
    return make_sandbox_target(
        urn=PAGE, kind=TargetKind.ORGANIZATION, display_name="Sandbox Magazine"
    )


@pytest.fixture
def member(make_sandbox_target):
    return make_sandbox_target(pages=False)


@pytest.fixture
def published(app, session, clock, make_article, linkedin_sandbox):
    """Published posts of a target, each on LinkedIn (the sandbox) under its own URN."""
    client = app.extensions["linkedin_client"]
    token = linkedin_sandbox.state.mint_token([*scopes_for(pages=True)])

    def make(target, n=1, *, ago=HOUR):
        posts = []
        for i in range(n):
            article = make_article(title=f"Article {target.id}-{i}-{clock.now().timestamp()}")
            post = factories.make_post(
                session,
                article=article,
                target=target,
                now=clock.now(),
                site_url=app.config["SITE_URL"],
            )
            urn = client.create_post(token, post_body(f"Post {post.id}", author=target.urn))
            factories.record_published(
                session, post, now=clock.now(), urn=urn, published_at=clock.now() - ago
            )
            posts.append(post)
        session.commit()
        return posts

    return make


@pytest.fixture
def refresher(app):
    return make_stats_refresher(app, owner="w1")


def state_of(session, post):
    session.expire_all()
    return session.scalar(select(PostStatState).where(PostStatState.post_id == post.id))


def samples(session, post):
    return session.scalars(
        select(PostStatSample).where(PostStatSample.post_id == post.id).order_by(PostStatSample.id)
    ).all()


def test_the_schedule_is_hourly_then_daily_then_weekly_then_stops():
    published = datetime(2026, 1, 1, tzinfo=UTC)
    at = lambda age: stats.next_fetch(published, published + age, stats.DEFAULT_SCHEDULE)  # noqa: E731
    assert at(timedelta(hours=5)) == published + timedelta(hours=6)
    assert at(timedelta(days=3)) == published + timedelta(days=4)
    assert at(timedelta(days=40)) == published + timedelta(days=47)
    assert at(timedelta(days=91)) is None
    # At the edges of the steps.
    assert at(timedelta(days=2) - HOUR) == published + timedelta(days=2)
    assert at(timedelta(days=2, hours=1)) == published + timedelta(days=3, hours=1)
    assert at(timedelta(days=30, hours=1)) == published + timedelta(days=37, hours=1)
    assert at(timedelta(days=90, hours=1)) is None


def test_backoff_doubles_from_five_minutes_up_to_a_day():
    assert [stats.backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=m) for m in (5, 10, 20)]
    assert stats.backoff(30) == timedelta(days=1)


def test_page_posts_are_fetched_in_one_call_and_due_again_in_an_hour(
    session, clock, page, published, refresher
):
    posts = published(page, 3)
    result = refresher.run_until_idle()
    assert (result.fetched, result.calls) == (3, 1)
    for post in posts:
        state = state_of(session, post)
        assert state.state is StatRefresh.WAITING
        assert state.next_at == clock.now() + HOUR
        assert state.source is StatSource.ORGANIZATION
        assert state.impressions is not None and state.clicks is not None
        [sample] = samples(session, post)
        assert sample.impressions == state.impressions
    assert refresher.run_until_idle().claimed == 0  # nothing due until the hour is over
    clock.advance(HOUR)
    assert refresher.run_until_idle().fetched == 3
    assert len(samples(session, posts[0])) == 2


def test_a_deleted_post_stops_being_fetched_without_holding_up_the_others(
    app, session, member, published, refresher, linkedin_sandbox
):
    kept, deleted = published(member, 2)
    token = linkedin_sandbox.state.mint_token(scopes_for(pages=False))
    app.extensions["linkedin_client"].delete_post(token, deleted.linkedin_urn)
    result = refresher.run_until_idle()
    assert (result.fetched, result.gone) == (1, 1)
    gone = state_of(session, deleted)
    assert gone.state is StatRefresh.GONE and gone.last_status == 404
    assert gone.next_at is None
    assert state_of(session, kept).source is StatSource.SOCIAL_ACTIONS
    assert samples(session, deleted) == []


def test_throttling_stops_the_pass_and_the_posts_are_tried_again_later(
    session, clock, page, member, published, refresher, linkedin_sandbox
):
    posts = published(page, 2) + published(member, 2)
    linkedin_sandbox.state.inject("/rest/organizationalEntityShareStatistics", "429")
    result = refresher.run_until_idle()
    assert result.throttled and result.calls == 1 and result.fetched == 0
    for post in posts:
        state = state_of(session, post)
        assert state.state is StatRefresh.WAITING
        assert state.next_at == clock.now() + timedelta(minutes=30)
        assert state.failures == 0 and "rate limit" in state.last_error
    clock.advance(timedelta(minutes=30))
    assert refresher.run_until_idle().fetched == 4
    assert state_of(session, posts[0]).last_error == ""


def test_a_refused_token_marks_the_connection_and_its_posts_wait(
    session, clock, member, published, refresher, linkedin_sandbox
):
    posts = published(member, 2)
    linkedin_sandbox.state.inject("/rest/socialActions/*", "401-revoked")
    result = refresher.run_until_idle()
    assert result.calls == 1 and result.fetched == 0
    connection = session.get(LinkedInConnection, member.connection_id)
    session.refresh(connection)
    assert connection.state is ConnectionState.RECONNECT_NEEDED
    for post in posts:
        state = state_of(session, post)
        assert state.state is StatRefresh.WAITING and state.next_at == clock.now() + HOUR
        assert "reconnect" in state.last_error
    clock.advance(HOUR)
    assert refresher.run_until_idle().calls == 0  # no token to send until reconnected


def test_server_errors_back_off_per_post_and_count(
    session, clock, page, published, refresher, linkedin_sandbox
):
    [post] = published(page, 1)
    linkedin_sandbox.state.set_switches(fail_statistics="500")
    refresher.run_until_idle()
    state = state_of(session, post)
    assert (state.failures, state.last_status) == (1, 500)
    assert state.next_at == clock.now() + timedelta(minutes=5)
    clock.advance(timedelta(minutes=5))
    refresher.run_until_idle()
    assert state_of(session, post).next_at == clock.now() + timedelta(minutes=10)
    linkedin_sandbox.state.set_switches(fail_statistics=None)
    clock.advance(timedelta(minutes=10))
    assert refresher.run_until_idle().fetched == 1
    assert state_of(session, post).failures == 0


def test_members_with_the_analytics_scope_get_impressions(
    app, session, member, published, refresher, linkedin_sandbox
):
    [post] = published(member, 1)
    connection = session.get(LinkedInConnection, member.connection_id)
    token = linkedin_sandbox.state.mint_token([*connection.scope_set, "r_member_postAnalytics"])
    connection.access_token_encrypted = app.extensions["token_vault"].encrypt(token)
    connection.scopes += " r_member_postAnalytics"
    session.commit()
    assert refresher.run_until_idle().calls == 4  # one per queryType
    state = state_of(session, post)
    assert state.source is StatSource.MEMBER_ANALYTICS
    assert state.impressions is not None and state.clicks is None


def test_a_post_past_the_last_age_is_fetched_once_more_then_left_alone(
    session, page, published, refresher
):
    [post] = published(page, 1, ago=timedelta(days=95))
    assert refresher.run_until_idle().fetched == 1
    state = state_of(session, post)
    assert state.state is StatRefresh.DONE and state.next_at is None


def test_the_cli_command_refreshes_what_is_due(runner, session, page, published):
    [post] = published(page, 1)
    result = runner.invoke(args=["posts", "stats", "refresh"])
    assert result.exit_code == 0, result.output
    assert "1 fetched" in result.output
    assert len(samples(session, post)) == 1


def test_two_workers_never_claim_the_same_post(fresh_database, clock):
    if not fresh_database.startswith("postgresql"):
        pytest.skip("SKIP LOCKED splits claims on PostgreSQL; SQLite serialises writers")
    setup = Database(make_engine(fresh_database))
    try:
        with setup.transaction() as s:
            target = factories.make_target(s, now=clock.now())
            for n in range(120):
                article = factories.make_article(s, now=clock.now(), title=f"A {n}")
                post = factories.make_post(
                    s,
                    article=article,
                    target=target,
                    now=clock.now(),
                    site_url="https://news.example.test",
                )
                factories.record_published(s, post, now=clock.now(), urn=f"urn:li:share:{n}")
            stats.enroll(s, now=clock.now())
    finally:
        setup.engine.dispose()
    barrier = threading.Barrier(2)
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        database = Database(make_engine(fresh_database))
        mine: list[int] = []
        try:
            barrier.wait(timeout=10)
            while True:
                with database.write_transaction() as s:
                    batch = stats.claim(s, owner=owner, now=clock.now(), limit=7)
                if not batch:
                    break
                mine.extend(c.post_id for c in batch)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test's thread)
            errors.append(exc)
        finally:
            database.engine.dispose()
            got[owner] = mine

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert not set(got["a"]) & set(got["b"])
    assert len(got["a"]) + len(got["b"]) == 120
    check = Database(make_engine(fresh_database))
    try:
        with check.sessions() as s:
            claims = s.scalars(select(func.max(PostStatState.claims))).one()
    finally:
        check.engine.dispose()
    assert claims == 1


def test_next_fetches_fall_on_the_hour_so_a_pages_posts_are_batched_together():
    first = datetime(2026, 1, 1, 10, 17, tzinfo=UTC)
    second = datetime(2026, 1, 1, 10, 42, tzinfo=UTC)
    on_the_hour = datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    schedule = stats.DEFAULT_SCHEDULE
    assert stats.next_fetch(first, first + timedelta(minutes=3), schedule) == on_the_hour
    assert stats.next_fetch(second, second + timedelta(minutes=3), schedule) == on_the_hour
    # Daily posts too: the day after, on the hour.
    later = datetime(2026, 1, 5, 10, 45, tzinfo=UTC)
    assert stats.next_fetch(first, later, schedule) == datetime(2026, 1, 6, 10, 0, tzinfo=UTC)


def test_a_worker_whose_claim_was_taken_over_writes_nothing(app, session, clock, page, published):
    [post] = published(page, 1)
    database = app.extensions["database"]
    with database.write_transaction() as s:
        stats.enroll(s, now=clock.now())
        [slow] = stats.claim(s, owner="slow", now=clock.now(), limit=10)
    clock.advance(stats.LEASE + timedelta(seconds=1))
    with database.write_transaction() as s:
        [fast] = stats.claim(s, owner="fast", now=clock.now(), limit=10)
    assert fast.claims == slow.claims + 1
    figures = li.PostFigures(100, 1, 2, 3, 4)
    with database.write_transaction() as s:
        late = stats.record_figures(
            s,
            [(slow, figures)],
            source=StatSource.ORGANIZATION,
            owner="slow",
            now=clock.now(),
            schedule=stats.DEFAULT_SCHEDULE,
        )
        failed = stats.record_failure(
            s, [slow], "late", owner="slow", now=clock.now(), schedule=stats.DEFAULT_SCHEDULE
        )
    assert (late, failed) == (0, 0)
    assert samples(session, post) == []
    with database.write_transaction() as s:
        assert (
            stats.record_figures(
                s,
                [(fast, figures)],
                source=StatSource.ORGANIZATION,
                owner="fast",
                now=clock.now(),
                schedule=stats.DEFAULT_SCHEDULE,
            )
            == 1
        )
    [sample] = samples(session, post)
    assert (sample.impressions, sample.reposts) == (100, 4)
    assert state_of(session, post).lease_owner is None
