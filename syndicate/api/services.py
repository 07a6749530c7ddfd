"""What the API needs beyond the feature services: keyset lists, schedule parsing, and turning
rows into response models. Everything that changes data is delegated to the feature services.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from syndicate.api import schemas
from syndicate.api.pagination import Cursors, Page, keyset_page
from syndicate.articles.models import Article, ArticleStatus
from syndicate.articles.services import ArticleInput
from syndicate.feeds.context import CONTENT_TYPES, FORMATS, FeedSettings
from syndicate.feeds.listing import all_feeds
from syndicate.linkedin import statistics
from syndicate.linkedin.models import LinkedInConnection, LinkedInTarget
from syndicate.posts import composing, editing, scheduling
from syndicate.posts.context import NotEditable, PostError
from syndicate.posts.models import EDITABLE_STATES, Post, PostState
from syndicate.sharing.context import Actor, Sharing
from syndicate.sharing.deciding import (
    Conditions,
    ask_for_information,
    default_conditions,
    deny,
    grant,
)
from syndicate.sharing.inbox import InboxFilter
from syndicate.sharing.models import RequestState, ShareKind, ShareRequest
from syndicate.staff.models import User
from syndicate.staff.services import StaffError, check_time_zone

YEARS = range(1900, 3000)


# --- lists -----------------------------------------------------------------------------


def list_articles(
    session: Session,
    *,
    status: ArticleStatus | None,
    cursor: str | None,
    limit: int,
    cursors: Cursors,
) -> Page[Article]:
    query = select(Article)
    if status is not None:
        query = query.where(Article.status == status)
    return keyset_page(
        session,
        query,
        sort=Article.created_at,
        row_id=Article.id,
        cursors=cursors,
        cursor=cursor,
        limit=limit,
    )


def list_posts(
    session: Session,
    *,
    state: PostState | None,
    cursor: str | None,
    limit: int,
    cursors: Cursors,
) -> Page[Post]:
    query = select(Post).options(selectinload(Post.article))
    if state is not None:
        query = query.where(Post.state == state)
    return keyset_page(
        session, query, sort=Post.created_at, row_id=Post.id, cursors=cursors, cursor=cursor,
        limit=limit,
    )


def list_connections(session: Session) -> list[LinkedInConnection]:
    from syndicate.linkedin.services import list_connections as connections

    return connections(session)


# --- articles --------------------------------------------------------------------------


def article_input(data: schemas.ArticleCreate) -> ArticleInput:
    return ArticleInput(**data.model_dump())


def merged_input(article: Article, changes: schemas.ArticleUpdate) -> ArticleInput:
    """The article as it is, with the fields the PATCH sent."""
    current = ArticleInput(
        title=article.title,
        body=article.body_source,
        body_format=article.body_format,
        summary=article.summary,
        slug=article.slug,
        canonical_url=article.canonical_url,
        hero_image_url=article.hero_image_url,
        hero_image_alt=article.hero_image_alt,
        authors=[a.name for a in article.authors],
        categories=[c.name for c in article.categories],
        tags=[t.name for t in article.tags],
    )
    for name in changes.model_fields_set:
        setattr(current, name, getattr(changes, name))
    return current


# --- posts -----------------------------------------------------------------------------


def find_target(session: Session, ref: int | str) -> LinkedInTarget | None:
    if isinstance(ref, int):
        return session.get(LinkedInTarget, ref)
    return session.scalar(select(LinkedInTarget).where(LinkedInTarget.urn == ref))


def _instant(when: schemas.When) -> tuple[datetime, str | None]:
    """The UTC instant of an RFC 3339 time or a local time in a zone, and any DST note."""
    if isinstance(when, schemas.LocalTimeIn):
        try:
            zone = check_time_zone(when.time_zone)
        except StaffError as exc:
            raise PostError(str(exc), "scheduled_at.time_zone") from None
        local = scheduling.parse_local(when.local, zone)
        return local.instant, local.note or None
    if when.year not in YEARS:
        raise PostError("Give a date between the years 1900 and 2999.", "scheduled_at")
    return when.astimezone(UTC), None


def _one_schedule(body: schemas.ScheduleIn, *, draft: bool = False) -> None:
    chosen = [body.scheduled_at is not None, body.queue, draft]
    if sum(chosen) != 1:
        allowed = "scheduled_at, queue: true or draft: true" if isinstance(
            body, schemas.PostCreate
        ) else "scheduled_at or queue: true"
        raise PostError(f"Give exactly one of {allowed}.", "scheduled_at")


def schedule_post(
    session: Session,
    body: schemas.PostCreate,
    *,
    user: User,
    now: datetime,
    site_url: str,
    campaign: str,
) -> tuple[Post, str | None]:
    """Create a post of an article for a target from an API request."""
    _one_schedule(body, draft=body.draft)
    from syndicate.articles.services import find_by_public_id

    article = find_by_public_id(session, body.article)
    if article is None:
        raise PostError("There is no article with this public_id.", "article")
    target = find_target(session, body.target)
    if target is None:
        raise PostError("There is no target with this id or URN.", "target")
    data = composing.compose_defaults(article, target, site_url=site_url, campaign=campaign)
    if body.commentary is not None:
        data.commentary = body.commentary
    if body.card_title is not None:
        data.card_title = body.card_title
    if body.card_description is not None:
        data.card_description = body.card_description
    note = None
    data.as_draft = body.draft
    if body.scheduled_at is not None:
        data.when, note = _instant(body.scheduled_at)
    post = composing.create_post(
        session,
        article,
        target,
        data,
        user=user,
        now=now,
        site_url=site_url,
        campaign=campaign,
        reshare=body.reshare,
        source="api",
    )
    return post, note


def reschedule_post(
    session: Session, post: Post, body: schemas.RescheduleIn, *, user: User, now: datetime
) -> str | None:
    """Move a post not yet sent to another time or to the target's next free slot."""
    _one_schedule(body)
    if post.state not in EDITABLE_STATES:
        raise NotEditable(
            f"This post is {post.state.value.replace('_', ' ')}; it can no longer be changed."
        )
    note = None
    if body.scheduled_at is not None:
        when, note = _instant(body.scheduled_at)
    else:
        when = scheduling.next_free_slot(session, post.target, after=now)
    data = composing.PostInput(
        commentary=post.commentary,
        card_title=post.card_title,
        card_description=post.card_description,
        when=when,
    )
    editing.update_post(session, post, data, user=user, now=now)
    return note


# --- presenting ------------------------------------------------------------------------


def _article_fields(article: Article, site_url: str) -> dict[str, Any]:
    return {
        "public_id": article.public_id,
        "slug": article.slug,
        "url": composing.article_url(article, site_url),
        "title": article.title,
        "summary": article.summary,
        "status": article.status,
        "canonical_url": article.canonical_url,
        "hero_image_url": article.hero_image_url,
        "hero_image_alt": article.hero_image_alt,
        "authors": [a.name for a in article.authors],
        "categories": [c.name for c in article.categories],
        "tags": [t.name for t in article.tags],
        "published_at": article.published_at,
        "updated_at": article.updated_at,
        "created_at": article.created_at,
    }


def article_out(article: Article, site_url: str) -> schemas.ArticleOut:
    return schemas.ArticleOut(
        **_article_fields(article, site_url),
        body_format=article.body_format,
        body=article.body_source,
        body_html=article.body_html,
    )


def article_list(page: Page[Article], site_url: str) -> schemas.ArticleList:
    return schemas.ArticleList(
        items=[schemas.ArticleSummaryOut(**_article_fields(a, site_url)) for a in page.items],
        next_cursor=page.next_cursor,
    )


def history_out(post: Post) -> list[schemas.HistoryOut]:
    return [
        schemas.HistoryOut(
            at=h.at,
            from_state=h.from_state,
            to_state=h.to_state,
            attempt=h.attempt,
            actor=h.actor,
            http_status=h.http_status,
            detail=h.detail,
        )
        for h in post.history
    ]


def _figures_out(row: Any) -> schemas.FiguresOut:
    figures = statistics.Figures.of(row)
    return schemas.FiguresOut(
        taken_at=row.taken_at,
        source=row.source,
        impressions=figures.impressions,
        clicks=figures.clicks,
        reactions=figures.reactions,
        comments=figures.comments,
        reposts=figures.reposts,
        engagement_rate=figures.engagement_rate,
    )


def post_stats_out(session: Session, post: Post) -> schemas.PostStatsOut:
    """The post's latest LinkedIn figures, its refresh state and every sample."""
    state = statistics.refresh_state(session, post.id)
    return schemas.PostStatsOut(
        post_id=post.id,
        linkedin_urn=post.linkedin_urn,
        latest=_figures_out(state) if state is not None and state.taken_at else None,
        refresh=schemas.StatsRefreshOut(
            state=state.state,
            next_at=state.next_at,
            last_error=state.last_error,
            last_error_at=state.last_error_at,
        )
        if state is not None
        else None,
        series=[_figures_out(sample) for sample in statistics.series(session, post.id)],
    )


def post_out(
    post: Post, *, with_history: bool = False, note: str | None = None
) -> schemas.PostOut:
    return schemas.PostOut(
        id=post.id,
        article=post.article.public_id,
        article_title=post.article.title,
        target=schemas.TargetRef(
            id=post.target.id, urn=post.target.urn, display_name=post.target.display_name
        ),
        state=post.state,
        commentary=post.commentary,
        card_title=post.card_title,
        card_description=post.card_description,
        link_url=post.link_url,
        thumbnail_url=post.thumbnail_url,
        is_reshare=post.is_reshare,
        source=post.source,
        scheduled_at=post.scheduled_at,
        due_at=post.due_at,
        published_at=post.published_at,
        linkedin_urn=post.linkedin_urn,
        last_error=post.last_error,
        attempt=post.attempt,
        created_at=post.created_at,
        updated_at=post.updated_at,
        schedule_note=note,
        history=history_out(post) if with_history else None,
    )


def _slots(raw: list[Any] | None) -> list[schemas.QueueSlot]:
    slots = []
    for slot in raw or []:
        try:
            slots.append(schemas.QueueSlot(weekday=int(slot["weekday"]), time=str(slot["time"])))
        except (KeyError, TypeError, ValueError):
            continue
    return slots


def connection_out(connection: LinkedInConnection, *, now: datetime) -> schemas.ConnectionOut:
    expires = connection.expires_at
    return schemas.ConnectionOut(
        id=connection.id,
        name=connection.name,
        member_urn=connection.member_urn,
        state=connection.state,
        state_reason=connection.state_reason,
        expires_at=expires,
        expires_in_days=(expires - now).days if expires is not None else None,
        refresh_expires_at=connection.refresh_expires_at,
        last_refreshed_at=connection.last_refreshed_at,
        scopes=sorted(connection.scope_set),
        targets=[
            schemas.TargetOut(
                id=t.id,
                urn=t.urn,
                kind=t.kind,
                display_name=t.display_name,
                time_zone=t.time_zone,
                is_active=t.is_active,
                needs_approval=t.needs_approval,
                daily_cap=t.daily_cap,
                queue_slots=_slots(t.queue_slots),
            )
            for t in connection.targets
        ],
    )


def feed_list(session: Session, config: Any) -> schemas.FeedList:
    """Every feed URL with its format and kind (site, category, tag, author)."""
    settings = FeedSettings.from_config(config)
    items = [
        schemas.FeedOut(
            kind=listing.kind,  # type: ignore[arg-type]
            slug=listing.slug,
            name=listing.name,
            format=fmt,  # type: ignore[arg-type]
            content_type=CONTENT_TYPES[fmt],
            url=listing.urls[fmt],
        )
        for listing in all_feeds(session, settings)
        for fmt in FORMATS
    ]
    return schemas.FeedList(items=items, opml_url=settings.site_url + "/feeds/opml.xml")


# --- share requests --------------------------------------------------------------------


def list_share_requests(
    session: Session,
    *,
    state: RequestState | None,
    kind: ShareKind | None,
    cursor: str | None,
    limit: int,
    cursors: Cursors,
) -> Page[ShareRequest]:
    query = InboxFilter(state=state, kind=kind).query()
    return keyset_page(
        session, query, sort=ShareRequest.created_at, row_id=ShareRequest.id, cursors=cursors,
        cursor=cursor, limit=limit,
    )


def find_share_request(session: Session, public_id: str) -> ShareRequest | None:
    """A request staff can see (unverified ones are the reader's business until confirmed)."""
    found = session.scalar(select(ShareRequest).where(ShareRequest.public_id == public_id))
    if found is None or found.state is RequestState.UNVERIFIED:
        return None
    return found


def decide(
    session: Session,
    request: ShareRequest,
    body: schemas.DecisionIn,
    *,
    user: User,
    now: datetime,
    ctx: Sharing,
) -> None:
    """Grant, deny or ask, exactly as the dashboard's buttons do."""
    actor = Actor.staff(user)
    if body.decision == "deny":
        deny(session, request, body.note, actor=actor, now=now, ctx=ctx)
    elif body.decision == "ask":
        ask_for_information(session, request, body.note, actor=actor, now=now, ctx=ctx)
    else:
        conditions = default_conditions(request, ctx)
        given = body.model_fields_set
        conditions = Conditions(
            credit_line=body.credit_line if "credit_line" in given and body.credit_line
            else conditions.credit_line,
            link_required=body.link_required,
            excerpt_limit=body.excerpt_limit if "excerpt_limit" in given
            else conditions.excerpt_limit,
            expires_at=body.expires_at.astimezone(UTC) if body.expires_at else None,
        )
        grant(session, request, conditions, actor=actor, now=now, ctx=ctx, note=body.note)


def share_request_out(
    request: ShareRequest, ctx: Sharing, *, with_history: bool = False
) -> schemas.ShareRequestOut:
    permission = request.permission
    return schemas.ShareRequestOut(
        public_id=request.public_id,
        article=request.article.public_id,
        article_title=request.article.title,
        requester_name=request.requester_name,
        requester_email=request.requester_email,
        where=request.where,
        where_url=request.where_url,
        audience_size=request.audience_size,
        kind=request.kind,
        excerpt_words=request.excerpt_words,
        language=request.language,
        message=request.message,
        state=request.state,
        decision_note=request.decision_note,
        credit_line=request.credit_line,
        link_required=request.link_required,
        excerpt_limit=request.excerpt_limit,
        expires_at=request.expires_at,
        verified_at=request.verified_at,
        decided_at=request.decided_at,
        created_at=request.created_at,
        updated_at=request.updated_at,
        permission=schemas.PermissionOut(
            public_id=permission.public_id,
            record_url=ctx.record_url(permission),
            state=permission.state,
            granted_at=permission.granted_at,
            expires_at=permission.expires_at,
        )
        if permission is not None
        else None,
        history=[
            schemas.ShareEventOut(
                at=e.at,
                actor=e.actor_kind.value + (f": {e.actor_label}" if e.actor_label else ""),
                from_state=e.from_state,
                to_state=e.to_state,
                note=e.note,
            )
            for e in request.events
        ]
        if with_history
        else None,
    )
