"""The dispatcher's SQL: Core statements and column lists, built once at import.

The hot path runs these on the tables directly: no ORM objects to load or flush, and
nothing to construct or hash again for every post.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CTE,
    ColumnElement,
    String,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.elements import BindParameter

from syndicate import events
from syndicate.articles.models import Article
from syndicate.claims import Leases
from syndicate.db import UTCDateTime
from syndicate.linkedin.models import ConnectionState, LinkedInConnection, LinkedInTarget
from syndicate.posts.models import LinkedInImage, Post, PostHistory, PostState
from syndicate.web.models import Alert


def version_alert_key(version: str) -> str:
    """The alert that pauses sending while LinkedIn refuses ``version`` (426)."""
    return f"linkedin.version.{version}"


POSTS = Post.__table__
HISTORY = PostHistory.__table__
ARTICLES = Article.__table__
TARGETS = LinkedInTarget.__table__
CONNECTIONS = LinkedInConnection.__table__
IMAGES = LinkedInImage.__table__
EVENTS = events.Event.__table__
# Who holds a post being sent, until when, on which attempt (see syndicate/claims.py).
POST_LEASES = Leases(
    id=POSTS.c.id,
    state=POSTS.c.state,
    held=PostState.SENDING,
    expires_at=POSTS.c.lease_expires_at,
    owner=POSTS.c.lease_owner,
    attempt=POSTS.c.attempt,
)

JOB_COLUMNS = (
    POSTS.c.id,
    POSTS.c.commentary,
    POSTS.c.link_url,
    POSTS.c.card_title,
    POSTS.c.card_description,
    POSTS.c.thumbnail_url,
    POSTS.c.scheduled_at,
    POSTS.c.article_id,
    ARTICLES.c.public_id,
    TARGETS.c.id,
    TARGETS.c.urn,
    TARGETS.c.display_name,
    TARGETS.c.time_zone,
    TARGETS.c.daily_cap,
    CONNECTIONS.c.id,
    CONNECTIONS.c.state,
    CONNECTIONS.c.access_token_encrypted,
    IMAGES.c.image_urn,
)
JOB_FROM = (
    POSTS.join(ARTICLES, ARTICLES.c.id == POSTS.c.article_id)
    .join(TARGETS, TARGETS.c.id == POSTS.c.target_id)
    .join(CONNECTIONS, CONNECTIONS.c.id == TARGETS.c.connection_id)
    .outerjoin(
        IMAGES,
        and_(
            IMAGES.c.article_id == POSTS.c.article_id,
            IMAGES.c.owner_urn == TARGETS.c.urn,
            IMAGES.c.source_url == POSTS.c.thumbnail_url,
        ),
    )
)


def _now_param() -> BindParameter[datetime]:
    return bindparam("b_now", type_=UTCDateTime())


# Rows still ours: same owner, same attempt, still sending. Parameters: b_post_id, b_owner,
# b_attempt (and b_now); bind names may not be column names in an UPDATE.
FENCED = POST_LEASES.fenced(bindparam("b_post_id"), bindparam("b_owner"), bindparam("b_attempt"))
# The fence before a request; it renews the post's lease (b_until) for the request.
START_REQUEST = (
    update(POSTS)
    .where(FENCED, POSTS.c.lease_expires_at > _now_param())
    .values(request_started_at=_now_param(), lease_expires_at=bindparam("b_until"))
)


def _mark_published(fenced: ColumnElement[bool]) -> Update:
    return (
        update(POSTS)
        .where(fenced)
        .values(
            state=PostState.PUBLISHED,
            linkedin_urn=bindparam("b_urn"),
            published_at=_now_param(),
            lease_owner=None,
            updated_at=_now_param(),
        )
        .returning(POSTS.c.id)
    )


def _history_of(published: CTE) -> Insert:
    """The history rows of the posts ``published`` returns (its id and attempt)."""
    return insert(HISTORY).from_select(
        ["post_id", "at", "from_state", "to_state", "attempt", "actor", "http_status", "detail"],
        select(
            published.c.id,
            _now_param(),
            literal(PostState.SENDING.value, HISTORY.c.from_state.type),
            literal(PostState.PUBLISHED.value, HISTORY.c.to_state.type),
            published.c.attempt,
            bindparam("b_actor", type_=HISTORY.c.actor.type),
            bindparam("b_status", type_=HISTORY.c.http_status.type),
            bindparam("b_detail", type_=HISTORY.c.detail.type),
        ),
    )


MARK_PUBLISHED = _mark_published(FENCED)
_published = MARK_PUBLISHED.returning(POSTS.c.attempt).cte("published")
# PostgreSQL: the same UPDATE and its history row in one statement (a data-modifying CTE
# runs once, whatever the outer statement does with it). Also b_actor, b_status, b_detail.
MARK_PUBLISHED_WITH_HISTORY = (
    _history_of(_published).add_cte(_published).returning(HISTORY.c.post_id)
)

# PostgreSQL: the write between two requests as one statement, which commits by itself (no
# BEGIN and COMMIT round trips, and the event lock is held only while it runs): the post
# LinkedIn accepted last is recorded (fenced, with its history row and its post.published
# event, which takes the event writers' turn first, as events.emit_rows does), and the next
# post passes its fence (START_REQUEST). Parameters: those of START_REQUEST (b_post_id NULL:
# none), b_done_id and b_done_attempt (the accepted post's claim), b_urn, b_actor, b_status,
# b_detail, b_payload (the event's) and kinds ("post.published"). Returns how many posts
# were recorded and started (0 or 1 each).
_done = (
    _mark_published(
        POST_LEASES.fenced(
            bindparam("b_done_id"), bindparam("b_owner"), bindparam("b_done_attempt")
        )
    )
    .returning(POSTS.c.attempt)
    .cte("done")
)
_done_history = _history_of(_done).cte("done_history")
_done_event = (
    insert(EVENTS)
    .from_select(
        ["kind", "subject", "payload", "created_at"],
        select(
            literal("post.published", EVENTS.c.kind.type),
            cast(_done.c.id, String),
            bindparam("b_payload", type_=EVENTS.c.payload.type),
            _now_param(),
        )
        .select_from(_done)
        .join(events.TURN, true()),
    )
    .cte("done_event")
)
_started = START_REQUEST.returning(POSTS.c.id).cte("started")
RECORD_AND_START = select(
    select(func.count()).select_from(_done).scalar_subquery().label("recorded"),
    select(func.count()).select_from(_started).scalar_subquery().label("started"),
).add_cte(_done_history, _done_event)
LOAD_JOB = select(*JOB_COLUMNS).select_from(JOB_FROM).where(FENCED)
LOAD_JOBS = (
    select(*JOB_COLUMNS)
    .select_from(JOB_FROM)
    .where(POSTS.c.id.in_(bindparam("b_ids", expanding=True)))
)
INSERT_HISTORY = insert(HISTORY)

# Claiming. Parameters: b_now, b_limit, b_alert (the key of the alert that pauses sending:
# a 426 for the configured version stops all sending until the setting changes).
ALERTS = Alert.__table__
_NOT_PAUSED = ~(
    select(ALERTS.c.id)
    .where(ALERTS.c.key == bindparam("b_alert"), ALERTS.c.resolved_at.is_(None))
    .exists()
)
# A post whose connection needs reconnecting waits; one stranded in "sending" by a dead
# worker is recovered whatever its connection's state.
_CONNECTED = (
    select(TARGETS.c.id)
    .join(CONNECTIONS, CONNECTIONS.c.id == TARGETS.c.connection_id)
    .where(TARGETS.c.id == POSTS.c.target_id, CONNECTIONS.c.state == ConnectionState.ACTIVE)
    .exists()
)
_LOCKED_ROW = (POSTS.c.id, POSTS.c.state, POSTS.c.request_started_at, POSTS.c.lease_owner)
# Few rows: leases that ran out and unknown outcomes to settle, which go first.
LOCK_TO_RECOVER = POST_LEASES.lock_due(
    select(*_LOCKED_ROW)
    .where(
        _NOT_PAUSED,
        or_(
            and_(POSTS.c.state == PostState.SENDING, POSTS.c.lease_expires_at < _now_param()),
            and_(POSTS.c.state == PostState.UNKNOWN, POSTS.c.due_at <= _now_param(), _CONNECTED),
        ),
    )
    .order_by(POSTS.c.due_at, POSTS.c.id)
    .limit(bindparam("b_limit"))
)
# Maybe many rows (a backlog falls due at once): one state and ordered by due_at alone, so
# that the (state, due_at) index hands them over in order and the scan stops at the limit
# instead of sorting the whole backlog on every claim. Equal times come in index order.
LOCK_DUE = POST_LEASES.lock_due(
    select(*_LOCKED_ROW)
    .where(
        _NOT_PAUSED,
        POSTS.c.state == PostState.SCHEDULED,
        POSTS.c.due_at <= _now_param(),
        _CONNECTED,
    )
    .order_by(POSTS.c.due_at)
    .limit(bindparam("b_limit"))
)
