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
"""

from __future__ import annotations

import logging
import os
import random
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from syndicate import events
from syndicate.articles.models import Article
from syndicate.clock import Clock
from syndicate.crypto import TokenVault, UndecryptableSecret
from syndicate.db import Database
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

log = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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


JOB_COLUMNS = (
    Post.id,
    Post.commentary,
    Post.link_url,
    Post.card_title,
    Post.card_description,
    Post.thumbnail_url,
    Post.scheduled_at,
    Post.article_id,
    Article.public_id,
    LinkedInTarget.id,
    LinkedInTarget.urn,
    LinkedInTarget.display_name,
    LinkedInTarget.time_zone,
    LinkedInTarget.daily_cap,
    LinkedInConnection.id,
    LinkedInConnection.state,
    LinkedInConnection.access_token_encrypted,
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
        jitter: random.Random | None = None,
    ) -> None:
        self.database = database
        self.client = client
        self.vault = vault
        self.clock = clock
        self.settings = settings
        self.fetcher = fetcher
        self.owner = owner or worker_name()
        self.random = jitter or random.Random()  # noqa: S311 (jitter, not secrets)

    # --- claiming -------------------------------------------------------------------------

    def sending_paused(self, session: Session) -> bool:
        """A 426 for the configured version stops all sending until the setting changes."""
        key = version_alert_key(self.client.version)
        return (
            session.scalar(
                select(func.count())
                .select_from(Alert)
                .where(Alert.key == key, Alert.resolved_at.is_(None))
            )
            > 0
        )

    def claim(self, limit: int = 10) -> list[Claim]:
        """Claim up to ``limit`` due posts in one short transaction: one locking read that
        also fetches what sending needs, one UPDATE for the batch, one history insert."""
        now = self.clock.now()
        with self.database.write_transaction() as session:
            if self.sending_paused(session):
                return []
            due = or_(
                and_(Post.state.in_([PostState.SCHEDULED, PostState.UNKNOWN]), Post.due_at <= now),
                and_(Post.state == PostState.SENDING, Post.lease_expires_at < now),
            )
            rows = session.execute(
                select(Post.state, Post.request_started_at, Post.lease_owner, *JOB_COLUMNS)
                .join(Article, Article.id == Post.article_id)
                .join(LinkedInTarget, LinkedInTarget.id == Post.target_id)
                .join(LinkedInConnection, LinkedInConnection.id == LinkedInTarget.connection_id)
                # A post whose connection needs reconnecting waits; one stranded in
                # "sending" by a dead worker is recovered whatever its connection's state.
                .where(
                    due,
                    or_(
                        LinkedInConnection.state == ConnectionState.ACTIVE,
                        Post.state == PostState.SENDING,
                    ),
                )
                .order_by(Post.due_at, Post.id)
                .limit(limit)
                .with_for_update(skip_locked=True, of=Post)
            ).all()
            taking: dict[int, tuple[PostState, Job]] = {}
            for state, started, old_owner, *job_fields in rows:
                job = Job(*job_fields)
                if state is PostState.SENDING and started is not None:
                    self._lost_after_sending(session, job.post_id, old_owner, now)
                else:
                    taking[job.post_id] = (state, job)
            if not taking:
                return []
            # The rows are locked (PostgreSQL) or the whole database is (SQLite), so the
            # batch update changes exactly the rows just read.
            attempts = dict(
                session.execute(
                    update(Post)
                    .where(Post.id.in_(taking))
                    .values(
                        state=PostState.SENDING,
                        attempt=Post.attempt + 1,
                        lease_owner=self.owner,
                        lease_expires_at=now + self.settings.lease,
                        updated_at=now,
                        request_started_at=None,
                    )
                    .returning(Post.id, Post.attempt)
                    .execution_options(synchronize_session=False)
                ).all()
            )
            session.execute(
                insert(PostHistory),
                [
                    {
                        "post_id": post_id,
                        "at": now,
                        "from_state": state.value,
                        "to_state": PostState.SENDING.value,
                        "attempt": attempts[post_id],
                        "actor": self.owner[:200],
                        "http_status": None,
                        "detail": CLAIM_DETAIL[state],
                    }
                    for post_id, (state, _job) in taking.items()
                ],
            )
        return [
            Claim(post_id, attempts[post_id], state is PostState.UNKNOWN, job)
            for post_id, (state, job) in taking.items()
        ]

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
        session.execute(
            insert(PostHistory).values(
                post_id=post_id,
                at=now,
                from_state=from_state.value,
                to_state=to_state.value,
                attempt=attempt,
                actor=self.owner[:200],
                http_status=http_status,
                detail=detail[:4000],
            )
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
            actor=self.owner,
            detail=f"worker {old_owner} stopped after its request to LinkedIn left; "
            "the outcome will be checked",
        )

    # --- one post -------------------------------------------------------------------------

    def run_once(self, limit: int = 10) -> DispatchResult:
        result = DispatchResult()
        for claim in self.claim(limit):
            result.claimed += 1
            outcome = self.process(claim)
            result.outcomes[claim.post_id] = outcome
            if hasattr(result, outcome):
                setattr(result, outcome, getattr(result, outcome) + 1)
        return result

    def run_until_idle(self, *, limit: int = 10, max_passes: int = 10_000) -> DispatchResult:
        total = DispatchResult()
        for _ in range(max_passes):
            result = self.run_once(limit)
            if not result.claimed:
                break
            for key, value in vars(result).items():
                if isinstance(value, int):
                    setattr(total, key, getattr(total, key) + value)
            total.outcomes.update(result.outcomes)
        return total

    def _fenced(self, claim: Claim):  # noqa: ANN202
        """Rows still ours: same owner, same attempt, still sending."""
        return and_(
            Post.id == claim.post_id,
            Post.lease_owner == self.owner,
            Post.attempt == claim.attempt,
            Post.state == PostState.SENDING,
        )

    def _load(self, session: Session, claim: Claim) -> Job | None:
        """What sending needs, read in one query without loading ORM objects."""
        row = session.execute(
            select(*JOB_COLUMNS)
            .join(Article, Article.id == Post.article_id)
            .join(LinkedInTarget, LinkedInTarget.id == Post.target_id)
            .join(LinkedInConnection, LinkedInConnection.id == LinkedInTarget.connection_id)
            .where(self._fenced(claim))
        ).one_or_none()
        return Job(*row) if row is not None else None

    def process(self, claim: Claim) -> str:
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
            with self.database.write_transaction() as session:
                return self._finish(
                    session,
                    claim,
                    PostState.MISSED,
                    now,
                    notify=True,
                    detail=f"{_hours(late)} late; not sent (SYNDICATE_MISSED_AFTER)",
                )
        if not claim.reconciling and job.daily_cap:
            with self.database.write_transaction() as session:
                if self._over_daily_cap(session, job, now):
                    return self._defer_for_cap(session, claim, job, now)
        token = self._token(job, claim, now)
        if token is None:
            return "waiting"
        thumbnail = self._thumbnail(job, claim, token, now)
        body = post_body(job, author=job.target_urn, thumbnail=thumbnail)
        with self.database.write_transaction() as session:
            if not self._start_request(session, claim, now):
                return "lost"
        try:
            urn = self.client.create_post(token, body)
        except li.LinkedInError as exc:
            return self._after_error(claim, exc)
        return self._published(claim, urn, note="")

    def _token(self, job: Job, claim: Claim, now: datetime) -> str | None:
        """The plaintext token; None (and the post back to waiting) when it cannot be had."""
        if job.connection_state is ConnectionState.ACTIVE and job.token_encrypted:
            try:
                return self.vault.decrypt(job.token_encrypted)
            except UndecryptableSecret:
                pass
        with self.database.write_transaction() as session:
            connection = session.get(LinkedInConnection, job.connection_id)
            try:
                return connections.access_token(session, connection, vault=self.vault, now=now)
            except connections.ReconnectNeeded as exc:
                self._wait(session, claim, now, f"waiting: {exc}")
                return None

    def _start_request(self, session: Session, claim: Claim, now: datetime) -> bool:
        changed = session.execute(
            update(Post)
            .where(self._fenced(claim), Post.lease_expires_at > now)
            .values(request_started_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed != 1:
            log.warning("post %s: lease lost before sending; another worker has it", claim.post_id)
            session.rollback()
            return False
        return True

    def _published(self, claim: Claim, urn: str, *, note: str) -> str:
        now = self.clock.now()
        with self.database.write_transaction() as session:
            row = session.execute(
                update(Post)
                .where(self._fenced(claim))
                .values(
                    state=PostState.PUBLISHED,
                    linkedin_urn=urn,
                    published_at=now,
                    lease_owner=None,
                    updated_at=now,
                )
                .returning(Post.id)
                .execution_options(synchronize_session=False)
            ).one_or_none()
            if row is None:
                log.warning(
                    "post %s: published as %s but the lease was lost; the new owner will settle it",
                    claim.post_id,
                    urn,
                )
                return "lost"
            self._history(
                session,
                claim.post_id,
                PostState.SENDING,
                PostState.PUBLISHED,
                claim.attempt,
                now,
                note or f"published as {urn}",
                http_status=422 if note else 201,
            )
            if claim.job is not None:
                public_id, target_urn = claim.job.article_public_id, claim.job.target_urn
            else:
                public_id, target_urn = session.execute(
                    select(Article.public_id, LinkedInTarget.urn)
                    .select_from(Post)
                    .join(Article, Article.id == Post.article_id)
                    .join(LinkedInTarget, LinkedInTarget.id == Post.target_id)
                    .where(Post.id == claim.post_id)
                ).one()
            events.emit(
                session,
                "post.published",
                str(claim.post_id),
                {"post_id": claim.post_id, "urn": urn, "article": public_id, "target": target_urn},
                now=now,
            )
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
        with self.database.write_transaction() as session:
            post = self._fenced_post(session, claim)
            if post is None:
                log.warning(
                    "post %s: lost the lease while LinkedIn answered %s", claim.post_id, error
                )
                return "lost"
            if isinstance(error, li.OutcomeUnknown):
                return self._unknown(session, post, error, now)
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
        with self.database.write_transaction() as session:
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
                actor=self.owner,
                detail=detail,
                http_status=error.status,
            )
            _notify(session, post, now)
            _emit_failed(session, post, now)
        return "failed"

    def _unknown(self, session: Session, post: Post, error: li.LinkedInError, now: datetime) -> str:
        post.retry_count += 1
        post.last_error = str(error)[:4000]
        post.lease_owner = None
        if post.retry_count > self.settings.max_retries:
            record(
                session,
                post,
                PostState.NEEDS_ATTENTION,
                now=now,
                actor=self.owner,
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
            actor=self.owner,
            detail=f"no answer from LinkedIn ({error}); will check at {post.due_at.isoformat()}",
        )
        if post.retry_count == 1:
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
            actor=self.owner,
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
            actor=self.owner,
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
        record(session, post, state, now=now, actor=self.owner, detail=detail)
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
        key = (
            LinkedInImage.article_id == job.article_id,
            LinkedInImage.owner_urn == job.target_urn,
            LinkedInImage.source_url == job.thumbnail_url,
        )
        with self.database.transaction() as session:
            cached = session.scalar(select(LinkedInImage.image_urn).where(*key))
        if cached:
            return cached
        try:
            data = self._image_bytes(job.thumbnail_url)
            upload = self.client.initialize_image_upload(token, job.target_urn)
            image = self.client.upload_image(token, upload, data)
        except (FetchError, li.LinkedInError, OSError) as exc:
            # A card without its picture is better than no post: say so and go on.
            with self.database.write_transaction() as session:
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
        with self.database.write_transaction() as session:
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


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours >= 2 else f"{delta.total_seconds() / 60:.0f} minutes"


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
    """Email the staff member who scheduled the post about its trouble."""
    if post.created_by_id is None:
        return
    user = session.get(User, post.created_by_id)
    if user is None or not user.is_active:
        return
    from syndicate.mail.services import queue_mail

    state = post.state.value.replace("_", " ")
    queue_mail(
        session,
        to=user.email,
        now=now,
        subject=f"LinkedIn post {state}: {post.card_title[:80]}",
        text=(
            f"The post of “{post.article.title}” to {post.target.display_name} is {state}.\n\n"
            f"{post.last_error}\n\nSee it in the dashboard under Posts."
        ),
    )
