"""How published posts did on LinkedIn: the refresh schedule, claiming posts whose figures are
due, storing the figures as a time series, and the queries the pages, the API and (later) the
best-time-slot suggestions read.

Every published post gets a ``post_stat_states`` row (``enroll``). It is claimed like other
due rows (``syndicate/claims.py``): ``waiting`` with ``next_at`` passed, or ``fetching`` with
its lease over; the claim counts in ``claims``, and results are written only under that claim
(the fence). A success adds a ``post_stat_samples`` row, copies its figures to the state row
and sets the next fetch from the post's age (``SYNDICATE_POST_STATS_SCHEDULE``); a failure
keeps the figures, records the error and backs off. The fetching itself, with the LinkedIn
calls, is ``stats_fetch.py``; these functions take a Session and never commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from syndicate.claims import Leases
from syndicate.linkedin.client import PostFigures
from syndicate.linkedin.models import (
    LinkedInConnection,
    LinkedInTarget,
    PostStatSample,
    PostStatState,
    StatRefresh,
    StatSource,
    TargetKind,
)

Schedule = Sequence[tuple[timedelta, timedelta]]

DEFAULT_SCHEDULE: Schedule = (
    (timedelta(hours=1), timedelta(days=2)),
    (timedelta(days=1), timedelta(days=30)),
    (timedelta(days=7), timedelta(days=90)),
)
LEASE = timedelta(minutes=5)
GRID = timedelta(hours=1)
BACKOFF = timedelta(minutes=5)
BACKOFF_CAP = timedelta(days=1)
# Failing posts are retried this long past the schedule's end, then left alone.
GRACE = timedelta(days=7)
# A page's post missing from LinkedIn's answer this many times in a row is taken as deleted.
MISSING_LIMIT = 3
ERROR_LIMIT = 2000
FIGURES = ("impressions", "clicks", "reactions", "comments", "reposts")

_STATES = PostStatState.__table__
_SAMPLES = PostStatSample.__table__
LEASES = Leases(
    id=_STATES.c.id,
    state=_STATES.c.state,
    held=StatRefresh.FETCHING,
    expires_at=_STATES.c.lease_expires_at,
    owner=_STATES.c.lease_owner,
    attempt=_STATES.c.claims,
)


# --- schedule -------------------------------------------------------------------------------


def next_fetch(published_at: datetime, now: datetime, schedule: Schedule) -> datetime | None:
    """When to fetch again after a fetch at ``now``; None once the post is past the last age.

    The time is rounded down to the hour (to the interval, if shorter), so that the posts of
    a page fall due together and go to LinkedIn in full batches instead of one by one.
    """
    age = now - published_at
    for interval, until in schedule:
        if age < until:
            at = now + interval
            grid = min(interval, GRID)
            aligned = at - timedelta(seconds=at.timestamp() % grid.total_seconds())
            return aligned if aligned > now else at
    return None


def backoff(failures: int) -> timedelta:
    """The wait after ``failures`` failures in a row: 5 minutes, doubling, at most a day."""
    delay: timedelta = BACKOFF * 2 ** min(max(failures - 1, 0), 20)
    return min(delay, BACKOFF_CAP)


# --- enrolling and claiming -----------------------------------------------------------------


def enroll(session: Session, *, now: datetime) -> int:
    """Give every published post without one a refresh state, due now; how many were added.

    Safe to run from several schedulers at once: a post enrolled by another in between is
    skipped (ON CONFLICT DO NOTHING on the unique post_id).
    """
    from syndicate.posts.models import Post, PostState

    missing = (
        select(Post.id)
        .where(
            Post.state == PostState.PUBLISHED,
            Post.linkedin_urn.is_not(None),
            ~select(PostStatState.id).where(PostStatState.post_id == Post.id).exists(),
        )
        .order_by(Post.id)
    )
    rows = session.scalars(missing).all()
    if not rows:
        return 0
    values = [
        {
            "post_id": post_id,
            "state": StatRefresh.WAITING,
            "next_at": now,
            "claims": 0,
            "failures": 0,
            "last_error": "",
        }
        for post_id in rows
    ]
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = postgresql.insert(_STATES).on_conflict_do_nothing(index_elements=["post_id"])
    elif dialect == "sqlite":
        statement = sqlite.insert(_STATES).on_conflict_do_nothing(index_elements=["post_id"])
    else:  # pragma: no cover - only the two supported databases
        statement = insert(_STATES)
    session.execute(statement, values)
    return len(values)


@dataclass(frozen=True)
class Claimed:
    """A post whose figures this worker fetches now, and what fetching them needs."""

    state_id: int
    post_id: int
    claims: int
    failures: int
    urn: str
    published_at: datetime
    target_kind: TargetKind
    target_urn: str
    connection_id: int


def _due(now: datetime) -> Any:
    return or_(
        and_(_STATES.c.state == StatRefresh.WAITING, _STATES.c.next_at <= now),
        LEASES.expired(now),
    )


def claim(session: Session, *, owner: str, now: datetime, limit: int) -> list[Claimed]:
    """Claim up to ``limit`` due posts for ``owner``, oldest due first.

    PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent claimers split the due rows; SQLite:
    the caller's write transaction (BEGIN IMMEDIATE) serialises claimers.
    """
    from syndicate.posts.models import Post

    ids = list(
        session.scalars(
            LEASES.lock_due(
                select(_STATES.c.id)
                .where(_due(now))
                .order_by(_STATES.c.next_at, _STATES.c.id)
                .limit(limit)
            )
        )
    )
    if not ids:
        return []
    session.execute(
        update(_STATES)
        .where(_STATES.c.id.in_(ids), _due(now))
        .values(**LEASES.take(owner, now + LEASE)),
        execution_options={"synchronize_session": False},
    )
    rows = session.execute(
        select(
            _STATES.c.id,
            _STATES.c.post_id,
            _STATES.c.claims,
            _STATES.c.failures,
            Post.linkedin_urn,
            Post.published_at,
            LinkedInTarget.kind,
            LinkedInTarget.urn,
            LinkedInTarget.connection_id,
        )
        .join(Post, Post.id == _STATES.c.post_id)
        .join(LinkedInTarget, LinkedInTarget.id == Post.target_id)
        .where(_STATES.c.id.in_(ids), _STATES.c.lease_owner == owner)
        .order_by(_STATES.c.id)
    ).all()
    return [
        Claimed(
            state_id=row[0],
            post_id=row[1],
            claims=row[2],
            failures=row[3],
            urn=row[4] or "",
            published_at=row[5] or now,
            target_kind=row[6],
            target_urn=row[7],
            connection_id=row[8],
        )
        for row in rows
    ]


def _still_ours(session: Session, claimed: Sequence[Claimed], owner: str) -> list[Claimed]:
    """The claims nobody took over since (locked until the commit on PostgreSQL)."""
    if not claimed:
        return []
    held = dict(
        session.execute(
            select(_STATES.c.id, _STATES.c.claims)
            .where(
                _STATES.c.id.in_([c.state_id for c in claimed]),
                _STATES.c.lease_owner == owner,
                _STATES.c.state == StatRefresh.FETCHING,
            )
            .with_for_update()
        ).all()
    )
    return [c for c in claimed if held.get(c.state_id) == c.claims]


# --- recording ------------------------------------------------------------------------------


# Prebuilt, and run once per batch with many parameter sets (executemany): the refresh writes
# a row per post, so statement compilation must not be paid per post.
_RECORD_FIGURES = (
    update(_STATES)
    .where(_STATES.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        next_at=bindparam("b_next_at"),
        lease_owner=None,
        lease_expires_at=None,
        failures=0,
        last_error="",
        last_status=None,
        taken_at=bindparam("b_taken_at"),
        source=bindparam("b_source"),
        **{name: bindparam(f"b_{name}") for name in FIGURES},
    )
)
_RECORD_FAILURE = (
    update(_STATES)
    .where(_STATES.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        next_at=bindparam("b_next_at"),
        lease_owner=None,
        lease_expires_at=None,
        failures=bindparam("b_failures"),
        last_error=bindparam("b_error"),
        last_status=bindparam("b_status"),
        last_error_at=bindparam("b_at"),
    )
)


# PostgreSQL: the fence, the state update and the samples of a whole batch in one statement,
# its values passed as arrays: one round trip per batch instead of several per post, and
# prepared once. A sample is stored only for the rows the fenced UPDATE changed.
_PG_RECORD_FIGURES = text(
    "WITH v AS (SELECT * FROM unnest(CAST(:ids AS integer[]), CAST(:post_ids AS integer[]),"
    " CAST(:claims AS integer[]), CAST(:states AS varchar[]),"
    " CAST(:next_ats AS timestamptz[]), CAST(:impressions AS integer[]),"
    " CAST(:clicks AS integer[]), CAST(:reactions AS integer[]),"
    " CAST(:comments AS integer[]), CAST(:reposts AS integer[]))"
    " AS v(id, post_id, claims, state, next_at, impressions, clicks, reactions, comments,"
    " reposts)),"
    " u AS (UPDATE post_stat_states AS s SET state = v.state, next_at = v.next_at,"
    " lease_owner = NULL, lease_expires_at = NULL, failures = 0, last_error = '',"
    " last_status = NULL, taken_at = :taken_at, source = :source,"
    " impressions = v.impressions, clicks = v.clicks, reactions = v.reactions,"
    " comments = v.comments, reposts = v.reposts"
    " FROM v WHERE s.id = v.id AND s.lease_owner = :owner AND s.claims = v.claims"
    " AND s.state = 'fetching' RETURNING s.id)"
    " INSERT INTO post_stat_samples (post_id, taken_at, source, impressions, clicks,"
    " reactions, comments, reposts) SELECT v.post_id, :taken_at, :source, v.impressions,"
    " v.clicks, v.reactions, v.comments, v.reposts FROM v JOIN u ON u.id = v.id"
    " RETURNING post_id"
)


def _record_figures_postgresql(
    session: Session,
    results: Sequence[tuple[Claimed, PostFigures]],
    *,
    source: StatSource,
    owner: str,
    now: datetime,
    schedule: Schedule,
) -> int:
    states = []
    for c, _ in results:
        following = next_fetch(c.published_at, now, schedule)
        states.append((StatRefresh.WAITING if following else StatRefresh.DONE, following))
    stored = session.connection().execute(
        _PG_RECORD_FIGURES,
        {
            "taken_at": now,
            "source": source.value,
            "owner": owner,
            "ids": [c.state_id for c, _ in results],
            "post_ids": [c.post_id for c, _ in results],
            "claims": [c.claims for c, _ in results],
            "states": [state.value for state, _ in states],
            "next_ats": [at for _, at in states],
            **{name: [getattr(f, name) for _, f in results] for name in FIGURES},
        },
    )
    return len(stored.all())


def record_figures(
    session: Session,
    results: Sequence[tuple[Claimed, PostFigures]],
    *,
    source: StatSource,
    owner: str,
    now: datetime,
    schedule: Schedule,
) -> int:
    """Store one sample per post and set its next fetch, for the claims still ours; how many."""
    if not results:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _record_figures_postgresql(
            session, results, source=source, owner=owner, now=now, schedule=schedule
        )
    ours = {c.state_id for c in _still_ours(session, [c for c, _ in results], owner)}
    kept = [(c, f) for c, f in results if c.state_id in ours]
    if not kept:
        return 0
    connection = session.connection()
    connection.execute(
        insert(_SAMPLES),
        [
            {
                "post_id": c.post_id,
                "taken_at": now,
                "source": source,
                **{name: getattr(f, name) for name in FIGURES},
            }
            for c, f in kept
        ],
    )
    rows = []
    for c, f in kept:
        following = next_fetch(c.published_at, now, schedule)
        rows.append(
            {
                "b_id": c.state_id,
                "b_state": StatRefresh.WAITING if following else StatRefresh.DONE,
                "b_next_at": following,
                "b_taken_at": now,
                "b_source": source,
                **{f"b_{name}": getattr(f, name) for name in FIGURES},
            }
        )
    connection.execute(_RECORD_FIGURES, rows)
    return len(kept)


def record_failure(
    session: Session,
    claimed: Sequence[Claimed],
    error: str,
    *,
    owner: str,
    now: datetime,
    schedule: Schedule,
    status: int | None = None,
    gone: bool = False,
    retry_at: datetime | None = None,
    count: bool = True,
) -> int:
    """Keep the figures, note the error and when to try again (backoff, or ``retry_at``);
    ``gone`` ends the post's fetching. ``count`` False does not count a failure (waiting for a
    reconnect, or for the rate limit, is nobody's fault). How many claims were still ours."""
    ours = _still_ours(session, claimed, owner)
    if not ours:
        return 0
    end_of_schedule = schedule[-1][1] + GRACE
    rows = []
    for c in ours:
        failures = c.failures + 1 if count else c.failures
        when = retry_at or now + backoff(failures)
        finished = gone or when - c.published_at > end_of_schedule
        rows.append(
            {
                "b_id": c.state_id,
                "b_state": (StatRefresh.GONE if gone else StatRefresh.DONE)
                if finished
                else StatRefresh.WAITING,
                "b_next_at": None if finished else when,
                "b_failures": failures,
                "b_error": error[:ERROR_LIMIT],
                "b_status": status,
                "b_at": now,
            }
        )
    session.connection().execute(_RECORD_FAILURE, rows)
    return len(ours)


def connection_tokens(
    session: Session, connection_ids: Sequence[int]
) -> dict[int, LinkedInConnection]:
    return {
        c.id: c
        for c in session.scalars(
            select(LinkedInConnection).where(LinkedInConnection.id.in_(connection_ids))
        )
    }


# --- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Figures to show: a post's latest, or a sum of several posts'."""

    impressions: int | None = None
    clicks: int | None = None
    reactions: int | None = None
    comments: int | None = None
    reposts: int | None = None

    @property
    def engagements(self) -> int:
        return sum(getattr(self, n) or 0 for n in ("clicks", "reactions", "comments", "reposts"))

    @property
    def engagement_rate(self) -> float | None:
        """(clicks + reactions + comments + reposts) / impressions; None without impressions."""
        if not self.impressions:
            return None
        return self.engagements / self.impressions

    def __add__(self, other: Figures) -> Figures:
        def add(a: int | None, b: int | None) -> int | None:
            return None if a is None and b is None else (a or 0) + (b or 0)

        return Figures(*(add(getattr(self, n), getattr(other, n)) for n in FIGURES))

    @classmethod
    def of(cls, row: Any) -> Figures:
        return cls(*(getattr(row, n) for n in FIGURES))


def refresh_state(session: Session, post_id: int) -> PostStatState | None:
    return session.scalar(select(PostStatState).where(PostStatState.post_id == post_id))


def series(session: Session, post_id: int, *, limit: int = 500) -> list[PostStatSample]:
    """The post's samples, oldest first (the newest ``limit``)."""
    newest = list(
        session.scalars(
            select(PostStatSample)
            .where(PostStatSample.post_id == post_id)
            .order_by(PostStatSample.taken_at.desc(), PostStatSample.id.desc())
            .limit(limit)
        )
    )
    return newest[::-1]


def totals_for_article(session: Session, article_id: int) -> tuple[int, Figures]:
    """How many of the article's posts have figures, and their latest figures summed."""
    from syndicate.posts.models import Post

    row = session.execute(
        select(func.count(), *(func.sum(getattr(PostStatState, n)) for n in FIGURES))
        .join(Post, Post.id == PostStatState.post_id)
        .where(Post.article_id == article_id, PostStatState.taken_at.is_not(None))
    ).one()
    return int(row[0]), Figures(*(None if v is None else int(v) for v in row[1:]))


@dataclass(frozen=True)
class PostRow:
    """One published post with its latest figures, for the analytics page and the CSV."""

    post_id: int
    article_id: int
    article_title: str
    target_id: int
    target_name: str
    published_at: datetime
    linkedin_urn: str
    taken_at: datetime | None
    source: StatSource | None
    figures: Figures
    refresh: StatRefresh | None
    last_error: str


def _post_rows_query(start: datetime | None, end: datetime | None) -> Select[Any]:
    from syndicate.articles.models import Article
    from syndicate.posts.models import Post, PostState

    query = (
        select(
            Post.id,
            Post.article_id,
            Article.title,
            Post.target_id,
            LinkedInTarget.display_name,
            Post.published_at,
            Post.linkedin_urn,
            PostStatState.taken_at,
            PostStatState.source,
            *(getattr(PostStatState, n) for n in FIGURES),
            PostStatState.state,
            PostStatState.last_error,
        )
        .join(Article, Article.id == Post.article_id)
        .join(LinkedInTarget, LinkedInTarget.id == Post.target_id)
        .outerjoin(PostStatState, PostStatState.post_id == Post.id)
        .where(Post.state == PostState.PUBLISHED, Post.published_at.is_not(None))
    )
    if start is not None:
        query = query.where(Post.published_at >= start)
    if end is not None:
        query = query.where(Post.published_at < end)
    return query


def _post_row(row: Any) -> PostRow:
    return PostRow(
        post_id=row[0],
        article_id=row[1],
        article_title=row[2],
        target_id=row[3],
        target_name=row[4],
        published_at=row[5],
        linkedin_urn=row[6] or "",
        taken_at=row[7],
        source=row[8],
        figures=Figures(*row[9:14]),
        refresh=row[14],
        last_error=row[15] or "",
    )


def post_rows(
    session: Session,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[PostRow]:
    """Published posts in [start, end), newest first, with their latest figures."""
    from syndicate.posts.models import Post

    query = _post_rows_query(start, end).order_by(Post.published_at.desc(), Post.id.desc())
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [_post_row(row) for row in session.execute(query)]


def count_posts(session: Session, *, start: datetime | None, end: datetime | None) -> int:
    subquery = _post_rows_query(start, end).subquery()
    return int(session.scalar(select(func.count()).select_from(subquery)) or 0)


@dataclass(frozen=True)
class Group:
    """Posts summed under a label: a target, or a week."""

    key: Any
    label: str
    posts: int
    figures: Figures


def by_target(rows: Sequence[PostRow]) -> list[Group]:
    """Totals per target, most impressions first."""
    sums: dict[int, tuple[str, int, Figures]] = {}
    for row in rows:
        name, posts, figures = sums.get(row.target_id, (row.target_name, 0, Figures()))
        sums[row.target_id] = (name, posts + 1, figures + row.figures)
    groups = [Group(k, name, posts, figures) for k, (name, posts, figures) in sums.items()]
    return sorted(groups, key=lambda g: (-(g.figures.impressions or 0), g.label))


def week_start(moment: datetime, zone: str) -> date:
    """The Monday of the week ``moment`` falls in, in ``zone``."""
    local = moment.astimezone(ZoneInfo(zone)).date()
    return local - timedelta(days=local.weekday())


def by_week(rows: Sequence[PostRow], zone: str) -> list[Group]:
    """Totals per week of publication (weeks start on Monday in ``zone``), oldest first."""
    sums: dict[date, tuple[int, Figures]] = {}
    for row in rows:
        monday = week_start(row.published_at, zone)
        posts, figures = sums.get(monday, (0, Figures()))
        sums[monday] = (posts + 1, figures + row.figures)
    return [
        Group(monday, f"week of {monday.isoformat()}", posts, figures)
        for monday, (posts, figures) in sorted(sums.items())
    ]


@dataclass(frozen=True)
class SlotEngagement:
    posts: int
    impressions: int
    engagements: int

    @property
    def rate(self) -> float | None:
        return self.engagements / self.impressions if self.impressions else None


def engagement_by_weekday_hour(
    session: Session, target_id: int, since: datetime, *, zone: str | None = None
) -> dict[tuple[int, int], SlotEngagement]:
    """How posts of a target published since ``since`` did by weekday (0 is Monday) and hour
    of publication in ``zone`` (the target's own by default), from their latest figures: the
    ground for suggesting the best time slots."""
    from syndicate.posts.models import Post, PostState

    target = session.get(LinkedInTarget, target_id)
    if target is None:
        return {}
    tz = ZoneInfo(zone or target.time_zone)
    rows = session.execute(
        select(Post.published_at, *(getattr(PostStatState, n) for n in FIGURES))
        .join(PostStatState, PostStatState.post_id == Post.id)
        .where(
            Post.target_id == target_id,
            Post.state == PostState.PUBLISHED,
            Post.published_at >= since,
            PostStatState.taken_at.is_not(None),
        )
    ).all()
    slots: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        local = row[0].astimezone(tz)
        figures = Figures(*row[1:])
        slot = slots[(local.weekday(), local.hour)]
        slot[0] += 1
        slot[1] += figures.impressions or 0
        slot[2] += figures.engagements
    return {key: SlotEngagement(*values) for key, values in slots.items()}
