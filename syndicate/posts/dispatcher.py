"""The dispatcher: claims due posts and publishes each exactly once, or says why not.

The post row is the truth; APScheduler only ticks. One pass:

1. **Claim** due rows in one short transaction (PostgreSQL ``FOR UPDATE SKIP LOCKED``;
   SQLite ``BEGIN IMMEDIATE`` plus an ``UPDATE … WHERE state=…`` that must change one row):
   ``scheduled``/``unknown`` → ``sending`` with a lease and a new attempt number. Rows left in
   ``sending`` by a dead worker are recovered here: never started → claimed again; started
   → ``unknown``.
2. **Fence** before the request: a committed, fenced write of ``request_started_at``. A worker
   whose lease was taken over cannot pass it, so it never calls LinkedIn.
3. **Call** LinkedIn once.
4. **Record** the result with a fenced write. An answer LinkedIn may or may not have acted
   on (a timeout) becomes ``unknown``; it is settled later by sending the identical body
   again: LinkedIn's ``DUPLICATE_POST`` names the post that exists, or the 201 shows the first
   never landed. Nothing is ever retried blind.

Throughput comes from doing less per post, never from a weaker fence: the hot path runs
prepared Core statements (no ORM objects), the claim fetches everything sending needs, and
a post LinkedIn accepted is recorded in the same transaction as the next post's fence (the
write that has to happen before the next request anyway), so each post costs one commit.
Nothing goes to LinkedIn while an accepted post is still unrecorded, so a crash leaves at
most one post to settle, exactly as before.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import BindParameter

from syndicate import events
from syndicate.articles.models import Article
from syndicate.clock import Clock
from syndicate.crypto import TokenVault, UndecryptableSecret
from syndicate.db import Database, UTCDateTime
from syndicate.fetch import Fetcher, FetchError
from syndicate.linkedin import client as li
from syndicate.linkedin import services as connections
from syndicate.linkedin.models import ConnectionState, LinkedInConnection, LinkedInTarget
from syndicate.linkedin.text import escape_little_text
from syndicate.posts.models import LinkedInImage, Post, PostHistory, PostState
from syndicate.posts.services import record
from syndicate.staff.models import User
from syndicate.web.models import Alert
from syndicate.web.services import raise_alert
from syndicate.wording import duration

log = logging.getLogger(__name__)


def worker_name() -> str:
    """The lease owner: unique per process and short (``posts.lease_owner``), for operators."""
    return f"{socket.gethostname()}:{os.getpid()}"


def sender(role: str) -> str:
    """Who sends, in words, for a post's history: "scheduler on web1 (pid 2878)"."""
    return f"{role} on {socket.gethostname()} (pid {os.getpid()})"


def version_alert_key(version: str) -> str:
    return f"linkedin.version.{version}"


@dataclass(frozen=True)
class Claim:
    post_id: int
    attempt: int
    reconciling: bool
    job: Job | None = None


@dataclass(frozen=True)
class Job:
    """A claimed post and what sending it needs, as plain values."""

    post_id: int
    commentary: str
    link_url: str
    card_title: str
    card_description: str
    thumbnail_url: str | None
    scheduled_at: datetime | None
    article_id: int
    article_public_id: str
    target_id: int
    target_urn: str
    target_name: str
    time_zone: str
    daily_cap: int | None
    connection_id: int
    connection_state: ConnectionState
    token_encrypted: str | None
    # The card's picture as uploaded before (None: not yet, or no picture).
    image_urn: str | None = None


@dataclass(frozen=True)
class Accepted:
    """LinkedIn has the post as ``urn``; the row does not say so yet."""

    claim: Claim
    urn: str
    note: str


# The hot path runs Core statements on the tables, built once: no ORM objects to load or
# flush, and nothing to construct or hash again for every post.
POSTS = Post.__table__
HISTORY = PostHistory.__table__
ARTICLES = Article.__table__
TARGETS = LinkedInTarget.__table__
CONNECTIONS = LinkedInConnection.__table__
IMAGES = LinkedInImage.__table__

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
FENCED = and_(
    POSTS.c.id == bindparam("b_post_id"),
    POSTS.c.lease_owner == bindparam("b_owner"),
    POSTS.c.attempt == bindparam("b_attempt"),
    POSTS.c.state == PostState.SENDING,
)
START_REQUEST = (
    update(POSTS)
    .where(FENCED, POSTS.c.lease_expires_at > _now_param())
    .values(request_started_at=_now_param())
)
MARK_PUBLISHED = (
    update(POSTS)
    .where(FENCED)
    .values(
        state=PostState.PUBLISHED,
        linkedin_urn=bindparam("b_urn"),
        published_at=_now_param(),
        lease_owner=None,
        updated_at=_now_param(),
    )
    .returning(POSTS.c.id)
)
_published = MARK_PUBLISHED.returning(POSTS.c.attempt).cte("published")
# PostgreSQL: the same UPDATE and its history row in one statement (a data-modifying CTE
# runs once, whatever the outer statement does with it). Also b_actor, b_status, b_detail.
MARK_PUBLISHED_WITH_HISTORY = (
    insert(HISTORY)
    .from_select(
        ["post_id", "at", "from_state", "to_state", "attempt", "actor", "http_status", "detail"],
        select(
            _published.c.id,
            _now_param(),
            literal(PostState.SENDING.value, HISTORY.c.from_state.type),
            literal(PostState.PUBLISHED.value, HISTORY.c.to_state.type),
            _published.c.attempt,
            bindparam("b_actor", type_=HISTORY.c.actor.type),
            bindparam("b_status", type_=HISTORY.c.http_status.type),
            bindparam("b_detail", type_=HISTORY.c.detail.type),
        ),
    )
    .add_cte(_published)
    .returning(HISTORY.c.post_id)
)
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
LOCK_TO_RECOVER = (
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
    .with_for_update(skip_locked=True, of=POSTS)
)
# Maybe many rows (a backlog falls due at once): one state and ordered by due_at alone, so
# that the (state, due_at) index hands them over in order and the scan stops at the limit
# instead of sorting the whole backlog on every claim. Equal times come in index order.
LOCK_DUE = (
    select(*_LOCKED_ROW)
    .where(
        _NOT_PAUSED,
        POSTS.c.state == PostState.SCHEDULED,
        POSTS.c.due_at <= _now_param(),
        _CONNECTED,
    )
    .order_by(POSTS.c.due_at)
    .limit(bindparam("b_limit"))
    .with_for_update(skip_locked=True, of=POSTS)
)
CLAIM_DETAIL = {
    PostState.SCHEDULED: "claimed",
    PostState.UNKNOWN: "claimed to settle an unknown outcome",
    PostState.SENDING: "recovered from a worker that stopped before sending",
}


@dataclass
class DispatchResult:
    claimed: int = 0
    published: int = 0
    retried: int = 0
    failed: int = 0
    unknown: int = 0
    waiting: int = 0
    lost: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)

    def __str__(self) -> str:
        parts = [f"{v} {k}" for k, v in vars(self).items() if isinstance(v, int) and v]
        return ", ".join(parts)

    def count(self, post_id: int, outcome: str) -> None:
        self.outcomes[post_id] = outcome
        if hasattr(self, outcome):
            setattr(self, outcome, getattr(self, outcome) + 1)

    def add(self, other: DispatchResult) -> None:
        for key, value in vars(other).items():
            if isinstance(value, int):
                setattr(self, key, getattr(self, key) + value)
        self.outcomes.update(other.outcomes)


@dataclass
class DispatchSettings:
    site_url: str
    lease: timedelta = timedelta(minutes=2)
    missed_after: timedelta = timedelta(days=2)
    max_retries: int = 5
    backoff: timedelta = timedelta(seconds=60)
    backoff_cap: timedelta = timedelta(hours=1)
    reconcile_after: timedelta = timedelta(minutes=2)
    static_folder: Path | None = None


class Dispatcher:
    def __init__(
        self,
        database: Database,
        *,
        client: li.LinkedInClient,
        vault: TokenVault,
        clock: Clock,
        settings: DispatchSettings,
        fetcher: Fetcher | None = None,
        owner: str | None = None,
        actor: str | None = None,
        jitter: random.Random | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.vault = vault
        self.clock = clock
        self.settings = settings
        self.fetcher = fetcher
        self.owner = owner or worker_name()
        # What the history shows; the lease owner stays the raw host:pid.
        self.actor = actor or owner or sender("dispatcher")
        self.random = jitter or random.Random()  # noqa: S311 (jitter, not secrets)
        # A post LinkedIn accepted, written by the next write transaction (see _write).
        self._accepted: Accepted | None = None
        self._recorded: dict[int, str] = {}
        self._connection: Connection | None = None  # held for a pass (see _one_connection)

    # --- claiming -------------------------------------------------------------------------

    def claim(self, limit: int = 10) -> list[Claim]:
        """Claim up to ``limit`` due posts in one short transaction: locking reads of the
        posts table alone, one UPDATE for the batch, one read of what sending needs, one
        history insert."""
        now = self.clock.now()
        params = {"b_now": now, "b_alert": version_alert_key(self.client.version)}
        with self._write() as session:
            connection = session.connection()
            rows = connection.execute(LOCK_TO_RECOVER, {**params, "b_limit": limit}).all()
            if len(rows) < limit:
                rows += connection.execute(LOCK_DUE, {**params, "b_limit": limit - len(rows)})
            taking: dict[int, PostState] = {}
            for post_id, state, started, old_owner in rows:
                if state is PostState.SENDING and started is not None:
                    self._lost_after_sending(session, post_id, old_owner, now)
                else:
                    taking[post_id] = state
            if not taking:
                return []
            # The rows are locked (PostgreSQL) or the whole database is (SQLite), so the
            # batch update changes exactly the rows just read.
            attempts = dict(
                connection.execute(
                    update(POSTS)
                    .where(POSTS.c.id.in_(taking))
                    .values(
                        state=PostState.SENDING,
                        attempt=POSTS.c.attempt + 1,
                        lease_owner=self.owner,
                        lease_expires_at=now + self.settings.lease,
                        updated_at=now,
                        request_started_at=None,
                    )
                    .returning(POSTS.c.id, POSTS.c.attempt)
                ).all()
            )
            jobs = {
                row[0]: Job(*row) for row in connection.execute(LOAD_JOBS, {"b_ids": list(taking)})
            }
            connection.execute(
                INSERT_HISTORY,
                [
                    self._history_row(
                        post_id,
                        state,
                        PostState.SENDING,
                        attempts[post_id],
                        now,
                        CLAIM_DETAIL[state],
                    )
                    for post_id, state in taking.items()
                ],
            )
        return [
            Claim(post_id, attempts[post_id], state is PostState.UNKNOWN, jobs[post_id])
            for post_id, state in taking.items()
        ]

    def _history_row(
        self,
        post_id: int,
        from_state: PostState,
        to_state: PostState,
        attempt: int,
        now: datetime,
        detail: str,
        http_status: int | None = None,
    ) -> dict[str, Any]:
        return {
            "post_id": post_id,
            "at": now,
            "from_state": from_state.value,
            "to_state": to_state.value,
            "attempt": attempt,
            "actor": self.actor[:200],
            "http_status": http_status,
            "detail": detail[:4000],
        }

    def _history(
        self,
        session: Session,
        post_id: int,
        from_state: PostState,
        to_state: PostState,
        attempt: int,
        now: datetime,
        detail: str,
        http_status: int | None = None,
    ) -> None:
        """A history row written without loading the post (the hot path)."""
        session.connection().execute(
            INSERT_HISTORY,
            self._history_row(post_id, from_state, to_state, attempt, now, detail, http_status),
        )

    def _lost_after_sending(
        self, session: Session, post_id: int, old_owner: str | None, now: datetime
    ) -> None:
        post = session.get(Post, post_id)
        post.lease_owner = None
        post.due_at = now + self.settings.reconcile_after
        record(
            session,
            post,
            PostState.UNKNOWN,
            now=now,
            actor=self.actor,
            detail=f"the process that was sending it (host:pid {old_owner}) stopped after its "
            "request to LinkedIn left; the outcome will be checked",
        )

    # --- writing --------------------------------------------------------------------------

    @contextmanager
    def _one_connection(self) -> Iterator[None]:
        """Run the enclosed writes on one pooled connection.

        Every checkout from the pool pings the server first, and a pass writes once per
        post, so it checks out once instead. Only where the app's sessions use the engine:
        tests bind them to a connection of their own, and SQLite has no ping to save.
        """
        if self._connection is not None:
            yield
            return
        with self.database.sessions() as probe:
            bind = probe.get_bind()
        if not isinstance(bind, Engine) or bind.dialect.name == "sqlite":
            yield
            return
        with bind.connect() as connection:
            self._connection = connection
            try:
                yield
            finally:
                self._connection = None

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        if self._connection is None:
            with self.database.write_transaction() as session:
                yield session
        else:
            with self.database.sessions(bind=self._connection) as session, session.begin():
                yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction that also records the post LinkedIn accepted last, if any.

        The next post's fence has to be committed before its request anyway, so the
        accepted post rides along instead of paying a commit of its own. It is written
        after the caller's work, so that the event lock its event takes is held only until
        the commit: every dispatcher takes that lock for every post. Every write of a pass
        goes through here, and nothing slow happens between LinkedIn's answer and this
        write (see ``_flush``).
        """
        accepted, self._accepted = self._accepted, None
        outcome = "lost"
        committed = False
        try:
            with self._transaction() as session:
                yield session
                if accepted is not None:
                    outcome = self._record_published(session, accepted)
            committed = True
        finally:
            if accepted is not None:
                if committed:
                    self._recorded[accepted.claim.post_id] = outcome
                else:
                    # Rolled back with the caller's work: the next write tries again.
                    self._accepted = accepted

    def _flush(self) -> None:
        """Write the accepted post now, before anything slow (another request to LinkedIn)."""
        if self._accepted is not None:
            with self._write():
                pass

    # --- passes ---------------------------------------------------------------------------

    def run_once(self, limit: int = 10) -> DispatchResult:
        with self._one_connection():
            try:
                result = self._pass(limit)
            finally:
                self._flush()
            self._count_recorded(result)
        return result

    def run_until_idle(self, *, limit: int = 10, max_passes: int = 10_000) -> DispatchResult:
        total = DispatchResult()
        with self._one_connection():
            try:
                for _ in range(max_passes):
                    # The post accepted last in a pass is recorded by the next pass's claim.
                    result = self._pass(limit)
                    total.add(result)
                    if not result.claimed:
                        break
            finally:
                self._flush()
            self._count_recorded(total)
        return total

    def _pass(self, limit: int) -> DispatchResult:
        """Claim a batch and send it; may leave the last accepted post to be recorded."""
        result = DispatchResult()
        for claim in self.claim(limit):
            result.claimed += 1
            outcome = self._process(claim)
            if outcome is not None:
                result.count(claim.post_id, outcome)
        self._count_recorded(result)
        return result

    def _count_recorded(self, result: DispatchResult) -> None:
        recorded, self._recorded = self._recorded, {}
        for post_id, outcome in recorded.items():
            result.count(post_id, outcome)

    def _fenced(self, claim: Claim):  # noqa: ANN202
        """Rows still ours: same owner, same attempt, still sending (ORM form)."""
        return and_(
            Post.id == claim.post_id,
            Post.lease_owner == self.owner,
            Post.attempt == claim.attempt,
            Post.state == PostState.SENDING,
        )

    def _fence_params(self, claim: Claim, **more: Any) -> dict[str, Any]:
        return {
            "b_post_id": claim.post_id,
            "b_owner": self.owner,
            "b_attempt": claim.attempt,
            **more,
        }

    def _load(self, session: Session, claim: Claim) -> Job | None:
        """What sending needs, read in one query without loading ORM objects."""
        row = session.execute(LOAD_JOB, self._fence_params(claim)).one_or_none()
        return Job(*row) if row is not None else None

    def process(self, claim: Claim) -> str:
        """Send one claimed post and record what came of it."""
        outcome = self._process(claim)
        self._flush()
        recorded, self._recorded = self._recorded, {}
        return recorded.get(claim.post_id, outcome or "lost")

    def _process(self, claim: Claim) -> str | None:
        """Send one claimed post; None when LinkedIn accepted it and the record is pending."""
        now = self.clock.now()
        # Reads and network calls happen outside write transactions, so that SQLite's single
        # writer is held only for the short fenced writes.
        job = claim.job
        if job is None:
            with self.database.transaction() as session:
                job = self._load(session, claim)
        if job is None:
            return "lost"
        if (
            not claim.reconciling
            and job.scheduled_at
            and now - job.scheduled_at > self.settings.missed_after
        ):
            late = now - job.scheduled_at
            with self._write() as session:
                return self._finish(
                    session,
                    claim,
                    PostState.MISSED,
                    now,
                    notify=True,
                    detail=f"{duration(late)} late; not sent (SYNDICATE_MISSED_AFTER)",
                )
        if not claim.reconciling and job.daily_cap:
            self._flush()  # the count must include the post published just before
            with self._write() as session:
                if self._over_daily_cap(session, job, now):
                    return self._defer_for_cap(session, claim, job, now)
        token = self._token(job, claim, now)
        if token is None:
            return "waiting"
        thumbnail = self._thumbnail(job, claim, token, now)
        body = post_body(job, author=job.target_urn, thumbnail=thumbnail)
        with self._write() as session:
            started = self._start_request(session, claim, now)
        if not started:
            return "lost"
        try:
            urn = self.client.create_post(token, body)
        except li.LinkedInError as exc:
            return self._after_error(claim, exc)
        self._accepted = Accepted(claim, urn, note="")
        return None

    def _token(self, job: Job, claim: Claim, now: datetime) -> str | None:
        """The plaintext token; None (and the post back to waiting) when it cannot be had."""
        if job.connection_state is ConnectionState.ACTIVE and job.token_encrypted:
            try:
                return self.vault.decrypt(job.token_encrypted)
            except UndecryptableSecret:
                pass
        with self._write() as session:
            connection = session.get(LinkedInConnection, job.connection_id)
            try:
                return connections.access_token(session, connection, vault=self.vault, now=now)
            except connections.ReconnectNeeded as exc:
                self._wait(session, claim, now, f"waiting: {exc}")
                return None

    def _start_request(self, session: Session, claim: Claim, now: datetime) -> bool:
        """The fence: committed before the request leaves, impossible for a stale worker."""
        changed = (
            session.connection()
            .execute(START_REQUEST, self._fence_params(claim, b_now=now))
            .rowcount
        )
        if changed != 1:
            # Nothing was changed, so nothing needs undoing (the transaction may carry the
            # record of the previous post).
            log.warning("post %s: lease lost before sending; another worker has it", claim.post_id)
            return False
        return True

    def _published(self, claim: Claim, urn: str, *, note: str) -> str:
        self._accepted = Accepted(claim, urn, note)
        self._flush()
        return self._recorded.pop(claim.post_id, "lost")

    def _record_published(self, session: Session, accepted: Accepted) -> str:
        """The fenced write of a post LinkedIn has, with its history row and event."""
        claim, urn, note = accepted.claim, accepted.urn, accepted.note
        now = self.clock.now()
        detail, status = note or f"published as {urn}", 422 if note else 201
        connection = session.connection()
        params = self._fence_params(claim, b_urn=urn, b_now=now)
        if connection.dialect.name == "postgresql":
            row = connection.execute(
                MARK_PUBLISHED_WITH_HISTORY,
                {**params, "b_actor": self.actor[:200], "b_status": status, "b_detail": detail},
            ).one_or_none()
        else:
            row = connection.execute(MARK_PUBLISHED, params).one_or_none()
            if row is not None:
                self._history(
                    session,
                    claim.post_id,
                    PostState.SENDING,
                    PostState.PUBLISHED,
                    claim.attempt,
                    now,
                    detail,
                    http_status=status,
                )
        if row is None:
            log.warning(
                "post %s: published as %s but the lease was lost; the new owner will settle it",
                claim.post_id,
                urn,
            )
            return "lost"
        if claim.job is not None:
            public_id, target_urn = claim.job.article_public_id, claim.job.target_urn
        else:
            public_id, target_urn = session.execute(
                select(ARTICLES.c.public_id, TARGETS.c.urn)
                .select_from(POSTS)
                .join(ARTICLES, ARTICLES.c.id == POSTS.c.article_id)
                .join(TARGETS, TARGETS.c.id == POSTS.c.target_id)
                .where(POSTS.c.id == claim.post_id)
            ).one()
        if claim.reconciling:
            post = session.get(Post, claim.post_id, populate_existing=True)
            if post is not None and post.unknown_notified_at is not None:
                _notify(session, post, now)
        payload = {"post_id": claim.post_id, "urn": urn, "article": public_id, "target": target_urn}
        # Last before the commit: the event lock is held from here until then.
        events.emit_rows(session, [("post.published", str(claim.post_id), payload)], now=now)
        return "published"

    def _fenced_post(self, session: Session, claim: Claim) -> Post | None:
        return session.scalar(select(Post).where(self._fenced(claim)).with_for_update(of=Post))

    def _after_error(self, claim: Claim, error: li.LinkedInError) -> str:
        if isinstance(error, li.DuplicatePost):
            if error.urn:
                return self._published(
                    claim,
                    error.urn,
                    note=(
                        f"LinkedIn already had this post as {error.urn} (settled by its duplicate "
                        "answer)"
                    ),
                )
            return self._end(
                claim,
                PostState.NEEDS_ATTENTION,
                error,
                "LinkedIn calls it a duplicate but names no post; check LinkedIn",
            )
        now = self.clock.now()
        with self._write() as session:
            post = self._fenced_post(session, claim)
            if post is None:
                log.warning(
                    "post %s: lost the lease while LinkedIn answered %s", claim.post_id, error
                )
                return "lost"
            if isinstance(error, li.OutcomeUnknown):
                return self._unknown(session, post, error, now, lasting=claim.reconciling)
            if isinstance(error, li.AuthError):
                connections.handle_auth_failure(session, post.target.connection, error, now=now)
                return self._requeue(
                    session,
                    post,
                    now,
                    error,
                    count=False,
                    detail=f"waiting for reconnection: {error}",
                )
            if isinstance(error, li.VersionInactive):
                raise_alert(
                    session,
                    version_alert_key(self.client.version),
                    f"LinkedIn no longer accepts API version {self.client.version}. Sending "
                    "is paused: set SYNDICATE_LINKEDIN_VERSION to a current version (YYYYMM) "
                    "and restart. LinkedIn said: " + str(error),
                    now=now,
                    level="error",
                )
                return self._requeue(
                    session,
                    post,
                    now,
                    error,
                    count=False,
                    detail="paused: LinkedIn-Version is no longer active",
                )
            if error.retryable:
                return self._retry(session, post, now, error)
            return self._fail(session, post, now, error)

    def _end(self, claim: Claim, state: PostState, error: li.LinkedInError, detail: str) -> str:
        now = self.clock.now()
        with self._write() as session:
            post = self._fenced_post(session, claim)
            if post is None:
                return "lost"
            post.last_error = f"{detail}: {error}"[:4000]
            post.lease_owner = None
            record(
                session,
                post,
                state,
                now=now,
                actor=self.actor,
                detail=detail,
                http_status=error.status,
            )
            _notify(session, post, now)
            _emit_failed(session, post, now)
        return "failed"

    def _unknown(
        self, session: Session, post: Post, error: li.LinkedInError, now: datetime, *, lasting: bool
    ) -> str:
        """No answer from LinkedIn. ``lasting``: the post was unknown already and this check,
        a reconcile window later, could not settle it; only then is its owner told (once),
        however it became unknown (a timeout, or a worker that died after sending)."""
        post.retry_count += 1
        post.last_error = str(error)[:4000]
        post.lease_owner = None
        if post.retry_count > self.settings.max_retries:
            record(
                session,
                post,
                PostState.NEEDS_ATTENTION,
                now=now,
                actor=self.actor,
                detail="LinkedIn never confirmed or denied this post; check LinkedIn",
            )
            _notify(session, post, now)
            return "failed"
        post.due_at = now + self.settings.reconcile_after
        record(
            session,
            post,
            PostState.UNKNOWN,
            now=now,
            actor=self.actor,
            detail=f"no answer from LinkedIn ({error}); will check at {post.due_at.isoformat()}",
        )
        if lasting and post.unknown_notified_at is None:
            post.unknown_notified_at = now
            _notify(session, post, now)
        return "unknown"

    def _retry(self, session: Session, post: Post, now: datetime, error: li.LinkedInError) -> str:
        post.retry_count += 1
        if post.retry_count > self.settings.max_retries:
            return self._fail(
                session, post, now, error, prefix=f"gave up after {post.retry_count} tries: "
            )
        delay = min(self.settings.backoff * 2 ** (post.retry_count - 1), self.settings.backoff_cap)
        delay = delay * self.random.uniform(0.8, 1.2)
        return self._requeue(
            session,
            post,
            now,
            error,
            count=False,
            delay=delay,
            detail=f"LinkedIn answered {error.status or 'nothing'} ({error}); "
            f"try {post.retry_count + 1} in {int(delay.total_seconds())} s",
        )

    def _requeue(
        self,
        session: Session,
        post: Post,
        now: datetime,
        error: li.LinkedInError | None,
        *,
        count: bool,
        detail: str,
        delay: timedelta = timedelta(0),
    ) -> str:
        post.lease_owner = None
        post.request_started_at = None
        post.due_at = now + delay
        if error is not None:
            post.last_error = str(error)[:4000]
        record(
            session,
            post,
            PostState.SCHEDULED,
            now=now,
            actor=self.actor,
            detail=detail,
            http_status=error.status if error else None,
        )
        return "retried" if delay else "waiting"

    def _fail(
        self, session: Session, post: Post, now: datetime, error: li.LinkedInError, prefix: str = ""
    ) -> str:
        post.lease_owner = None
        post.last_error = f"{prefix}{error}"[:4000]
        record(
            session,
            post,
            PostState.FAILED,
            now=now,
            actor=self.actor,
            detail=post.last_error,
            http_status=error.status,
        )
        _notify(session, post, now)
        _emit_failed(session, post, now)
        return "failed"

    def _finish(
        self,
        session: Session,
        claim: Claim,
        state: PostState,
        now: datetime,
        *,
        detail: str,
        notify: bool,
    ) -> str:
        post = self._fenced_post(session, claim)
        if post is None:
            return "lost"
        post.lease_owner = None
        post.last_error = detail
        record(session, post, state, now=now, actor=self.actor, detail=detail)
        if notify:
            _notify(session, post, now)
        return "failed"

    def _wait(self, session: Session, claim: Claim, now: datetime, detail: str) -> str:
        post = self._fenced_post(session, claim)
        if post is None:
            return "lost"
        return self._requeue(session, post, now, None, count=False, detail=detail)

    def _over_daily_cap(self, session: Session, job: Job, now: datetime) -> bool:
        if not job.daily_cap:
            return False
        zone = ZoneInfo(job.time_zone)
        local = now.astimezone(zone)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(
            ZoneInfo("UTC")
        )
        sent = (
            session.scalar(
                select(func.count())
                .select_from(Post)
                .where(
                    Post.target_id == job.target_id,
                    Post.state == PostState.PUBLISHED,
                    Post.published_at >= day_start,
                )
            )
            or 0
        )
        return sent >= job.daily_cap

    def _defer_for_cap(self, session: Session, claim: Claim, job: Job, now: datetime) -> str:
        post = self._fenced_post(session, claim)
        if post is None:
            return "lost"
        zone = ZoneInfo(job.time_zone)
        tomorrow = (now.astimezone(zone) + timedelta(days=1)).date()
        local_time = (job.scheduled_at or now).astimezone(zone).time()
        from syndicate.posts.services import from_local

        later = from_local(tomorrow, local_time, job.time_zone).instant
        return self._requeue(
            session,
            post,
            now,
            None,
            count=False,
            delay=later - now,
            detail=f"{job.target_name} reached its daily cap of "
            f"{job.daily_cap}; moved to {later.isoformat()}",
        )

    # --- thumbnails -----------------------------------------------------------------------

    def _thumbnail(self, job: Job, claim: Claim, token: str, now: datetime) -> str | None:
        """The image URN for the card, uploaded once per article and owner and reused."""
        if not job.thumbnail_url:
            return None
        if job.image_urn:  # found by the claim
            return job.image_urn
        key = (
            LinkedInImage.article_id == job.article_id,
            LinkedInImage.owner_urn == job.target_urn,
            LinkedInImage.source_url == job.thumbnail_url,
        )
        with self.database.transaction() as session:
            cached = session.scalar(select(LinkedInImage.image_urn).where(*key))
        if cached:
            return cached
        # The upload is a request of its own: the post LinkedIn accepted last is recorded
        # before it, not after.
        self._flush()
        try:
            data = self._image_bytes(job.thumbnail_url)
            upload = self.client.initialize_image_upload(token, job.target_urn)
            image = self.client.upload_image(token, upload, data)
        except (FetchError, li.LinkedInError, OSError) as exc:
            # A card without its picture is better than no post: say so and go on.
            with self._write() as session:
                self._history(
                    session,
                    job.post_id,
                    PostState.SENDING,
                    PostState.SENDING,
                    claim.attempt,
                    now,
                    f"thumbnail not attached: {exc}",
                )
            return None
        with self._write() as session:
            if session.scalar(select(LinkedInImage.id).where(*key)) is None:
                session.add(
                    LinkedInImage(
                        article_id=job.article_id,
                        owner_urn=job.target_urn,
                        source_url=job.thumbnail_url,
                        image_urn=image,
                        uploaded_at=now,
                    )
                )
        return image

    def _image_bytes(self, url: str) -> bytes:
        own_static = self.settings.site_url + "/static/"
        if self.settings.static_folder and url.startswith(own_static):
            # Our own files are read from disk: no request to ourselves.
            path = (self.settings.static_folder / url.removeprefix(own_static)).resolve()
            if self.settings.static_folder.resolve() in path.parents and path.is_file():
                return path.read_bytes()
        if self.fetcher is None:
            raise FetchError("no fetcher configured for remote thumbnails")
        return self.fetcher.get(url).body


def post_body(post: Post | Job, *, author: str, thumbnail: str | None) -> dict[str, Any]:
    """The Posts API body: an article card LinkedIn cannot scrape itself, so we fill it."""
    article: dict[str, Any] = {"source": post.link_url, "title": post.card_title}
    if post.card_description:
        article["description"] = post.card_description
    if thumbnail:
        article["thumbnail"] = thumbnail
    return {
        "author": author,
        "commentary": escape_little_text(post.commentary),
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "content": {"article": article},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


def _emit_failed(session: Session, post: Post, now: datetime) -> None:
    """Tell subscribers (webhooks) that a post ended without being published."""
    events.emit(
        session,
        "post.failed",
        str(post.id),
        {
            "post_id": post.id,
            "state": post.state.value,
            "error": post.last_error,
            "article": post.article.public_id,
            "target": post.target.urn,
        },
        now=now,
    )


def _notify(session: Session, post: Post, now: datetime) -> None:
    """Email the staff member who scheduled the post about how it ended, or about an outcome
    LinkedIn has left unknown for longer than the reconcile window."""
    if post.created_by_id is None:
        return
    user = session.get(User, post.created_by_id)
    if user is None or not user.is_active:
        return
    from syndicate.mail.services import new_mail, queue_mail

    where = f"The post of “{post.article.title}” to {post.target.display_name}"
    if post.state is PostState.UNKNOWN:
        subject = "LinkedIn post not confirmed yet"
        text = (
            f"{where} was sent, but LinkedIn has neither confirmed nor refused it, and the "
            f"check since could not tell either.\n\n{post.last_error}\n\nsyndicate keeps "
            "checking (it never sends the post twice) and will email you the outcome."
        )
    elif post.state is PostState.PUBLISHED:
        subject = "LinkedIn post published after all"
        text = f"{where}, whose outcome was unknown, is published: {post.live_url}"
    else:
        state = post.state.value.replace("_", " ")
        subject = f"LinkedIn post {state}"
        text = f"{where} is {state}.\n\n{post.last_error}"
    queue_mail(
        session,
        new_mail(
            to=user.email,
            now=now,
            subject=f"{subject}: {post.card_title[:80]}",
            text=f"{text}\n\nSee it in the dashboard under Posts.",
        ),
    )
