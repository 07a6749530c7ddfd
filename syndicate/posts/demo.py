"""The demo's LinkedIn posts, for `make run`: published posts with a history of figures.

The connection is the LinkedIn sandbox's member (Sam Sandbox) and the page he administers
there, so connecting the sandbox under Connections picks up the same rows; until then the
connection waits to be connected and no new figures are fetched. The posts' ids carry their
publication time as LinkedIn's do, and their past figures come from the same function the
sandbox answers with, so the series goes on smoothly once the sandbox is connected.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.articles.models import Article, ArticleStatus
from syndicate.linkedin import demo_figures, statistics
from syndicate.linkedin.models import (
    ConnectionState,
    LinkedInConnection,
    LinkedInTarget,
    PostStatSample,
    PostStatState,
    StatRefresh,
    StatSource,
    TargetKind,
)
from syndicate.posts import composing
from syndicate.posts.context import record
from syndicate.posts.models import PostState
from syndicate.posts.scheduling import from_local

SANDBOX_MEMBER_URN = "urn:li:person:sandbox-member-1"
SANDBOX_PAGE_URN = "urn:li:organization:1001"
ACTOR = "demo content"


def _target(
    session: Session,
    connection: LinkedInConnection,
    urn: str,
    kind: TargetKind,
    name: str,
    *,
    zone: str,
    now: datetime,
) -> LinkedInTarget:
    target = LinkedInTarget(
        connection=connection,
        urn=urn,
        kind=kind,
        display_name=name,
        role="ADMINISTRATOR" if kind is TargetKind.ORGANIZATION else None,
        time_zone=zone,
        queue_slots=[],
        created_at=now,
        updated_at=now,
    )
    session.add(target)
    return target


def sample_times(
    published_at: datetime, now: datetime, schedule: statistics.Schedule
) -> list[datetime]:
    """When the refresh schedule would have fetched a post's figures until ``now``."""
    times = []
    at: datetime | None = published_at + timedelta(minutes=5)
    while at is not None and at <= now:
        times.append(at)
        at = statistics.next_fetch(published_at, at, schedule)
    return times


def seed_demo_posts(
    session: Session,
    *,
    now: datetime,
    site_url: str,
    campaign: str,
    zone: str,
    schedule: statistics.Schedule = statistics.DEFAULT_SCHEDULE,
) -> int:
    """Published posts of the demo articles to the sandbox's page (and a few to the member),
    and weekly re-shares to the page in three slots, with the figures the schedule would have
    fetched so far; how many posts."""
    if session.scalar(
        select(LinkedInConnection.id).where(LinkedInConnection.member_urn == SANDBOX_MEMBER_URN)
    ):
        return 0
    connection = LinkedInConnection(
        member_urn=SANDBOX_MEMBER_URN,
        name="Sam Sandbox",
        scopes="email openid profile r_organization_admin w_member_social w_organization_social",
        state=ConnectionState.RECONNECT_NEEDED,
        state_reason="Demo content: connect the LinkedIn sandbox (Connections → Connect) to "
        "post and to fetch new figures.",
        created_at=now,
        updated_at=now,
    )
    session.add(connection)
    page = _target(
        session,
        connection,
        SANDBOX_PAGE_URN,
        TargetKind.ORGANIZATION,
        "Sandbox Magazine",
        zone=zone,
        now=now,
    )
    member = _target(
        session,
        connection,
        SANDBOX_MEMBER_URN,
        TargetKind.MEMBER,
        "Sam Sandbox",
        zone=zone,
        now=now,
    )
    session.flush()
    articles = session.scalars(
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.published_at.desc())
    ).all()
    made = 0
    for n, article in enumerate(articles):
        targets = [page, member] if n % 3 == 0 else [page]
        for target in targets:
            written = article.published_at or now
            published_at = min(written + timedelta(hours=2 + n % 4), now - timedelta(hours=1))
            _published_post(
                session,
                article,
                target,
                published_at,
                sequence=made,
                now=now,
                site_url=site_url,
                campaign=campaign,
                schedule=schedule,
            )
            made += 1
    for published_at in _weekly_reshare_times(now, zone) if articles else []:
        _published_post(
            session,
            articles[made % len(articles)],
            page,
            published_at,
            sequence=made,
            now=now,
            site_url=site_url,
            campaign=campaign,
            schedule=schedule,
            reshare=True,
        )
        made += 1
    session.flush()
    return made


# Re-shares of older articles in the page's regular weekly slots (weekday, local time) over
# the past weeks, so its settings page has enough posts per slot to suggest best times.
RESHARE_SLOTS = ((1, time(9, 0)), (2, time(17, 0)), (3, time(12, 0)))
RESHARE_WEEKS = 4


def _weekly_reshare_times(now: datetime, zone: str) -> list[datetime]:
    today = now.astimezone(ZoneInfo(zone)).date()
    times = []
    for week in range(1, RESHARE_WEEKS + 1):
        for weekday, clock_time in RESHARE_SLOTS:
            day = today - timedelta(days=(today.weekday() - weekday) % 7 + 7 * week)
            times.append(from_local(day, clock_time, zone).instant)
    return sorted(times)


def _published_post(
    session: Session,
    article: Article,
    target: LinkedInTarget,
    published_at: datetime,
    *,
    sequence: int,
    now: datetime,
    site_url: str,
    campaign: str,
    schedule: statistics.Schedule,
    reshare: bool = False,
) -> None:
    data = composing.compose_defaults(article, target, site_url=site_url, campaign=campaign)
    data.when = published_at
    made_at = published_at - timedelta(hours=1)
    post = composing.create_post(
        session,
        article,
        target,
        data,
        user=None,
        now=made_at,
        site_url=site_url,
        campaign=campaign,
        reshare=reshare,
    )
    share_id = demo_figures.share_id_at(int(published_at.timestamp() * 1000), sequence)
    post.attempt = 1
    record(session, post, PostState.SENDING, now=published_at, actor=ACTOR, detail="claimed")
    post.linkedin_urn = f"urn:li:share:{share_id}"
    post.published_at = published_at
    post.updated_at = published_at
    record(
        session,
        post,
        PostState.PUBLISHED,
        now=published_at,
        actor=ACTOR,
        http_status=201,
        detail=post.linkedin_urn,
    )
    session.flush()
    source = (
        StatSource.ORGANIZATION
        if target.kind is TargetKind.ORGANIZATION
        else StatSource.SOCIAL_ACTIONS
    )
    figures: dict[str, int | None] = {}
    times = sample_times(published_at, now, schedule)
    for taken_at in times:
        made = demo_figures.figures(post.linkedin_urn, taken_at - published_at)
        figures = {name: made[name] for name in statistics.FIGURES}
        if source is StatSource.SOCIAL_ACTIONS:
            figures.update(impressions=None, clicks=None, reposts=None)
        session.add(PostStatSample(post_id=post.id, taken_at=taken_at, source=source, **figures))
    following = statistics.next_fetch(published_at, times[-1], schedule) if times else now
    session.add(
        PostStatState(
            post_id=post.id,
            state=StatRefresh.WAITING if following else StatRefresh.DONE,
            next_at=following,
            claims=len(times),
            failures=0,
            last_error="",
            taken_at=times[-1] if times else None,
            source=source if times else None,
            **figures,
        )
    )
