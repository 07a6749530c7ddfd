"""Recording what came of a claimed post: published, retried, waiting, failed, unknown.

Every write is fenced (the row must still be this claim's), and a post LinkedIn accepted is
recorded by the next write transaction of the pass (see ``Dispatcher._write``).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate import events
from syndicate.clock import Clock
from syndicate.linkedin import client as li
from syndicate.linkedin import services as connections
from syndicate.posts.context import record
from syndicate.posts.dispatch_claim import Claim, Claiming, Job
from syndicate.posts.dispatch_sql import (
    ARTICLES,
    MARK_PUBLISHED,
    MARK_PUBLISHED_WITH_HISTORY,
    POSTS,
    TARGETS,
    version_alert_key,
)
from syndicate.posts.models import Post, PostState
from syndicate.staff.models import User
from syndicate.web.services import raise_alert

if TYPE_CHECKING:
    from syndicate.posts.dispatcher import DispatchSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    """LinkedIn has the post as ``urn``; the row does not say so yet."""

    claim: Claim
    urn: str
    note: str


class Recording(Claiming):
    """The fenced writes that end a claim (part of ``Dispatcher``)."""

    actor: str
    clock: Clock
    client: li.LinkedInClient
    settings: DispatchSettings
    random: random.Random
    _accepted: Accepted | None
    _recorded: dict[int, str]

    def _published(self, claim: Claim, urn: str, *, note: str) -> str:
        self._accepted = Accepted(claim, urn, note)
        self._flush()
        return self._recorded.pop(claim.post_id, "lost")

    def _record_published(self, session: Session, accepted: Accepted) -> str:
        """The fenced write of a post LinkedIn has, with its history row and event."""
        claim, urn = accepted.claim, accepted.urn
        now = self.clock.now()
        connection = session.connection()
        params = self._fence_params(claim, b_urn=urn, b_now=now)
        what = self._published_history(accepted)
        if connection.dialect.name == "postgresql":
            row = connection.execute(MARK_PUBLISHED_WITH_HISTORY, {**params, **what}).one_or_none()
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
                    what["b_detail"],
                    http_status=what["b_status"],
                )
        if row is None:
            return self._published_but_lost(accepted)
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
        payload = published_payload(claim.post_id, urn, public_id, target_urn)
        # Last before the commit: the event lock is held from here until then.
        events.emit_rows(session, [("post.published", str(claim.post_id), payload)], now=now)
        return "published"

    def _published_history(self, accepted: Accepted) -> dict[str, Any]:
        """The history row's actor, HTTP status and detail for a post LinkedIn accepted."""
        note = accepted.note
        return {
            "b_actor": self.actor[:200],
            "b_status": 422 if note else 201,
            "b_detail": note or f"published as {accepted.urn}",
        }

    def _published_but_lost(self, accepted: Accepted) -> str:
        log.warning(
            "post %s: published as %s but the lease was lost; the new owner will settle it",
            accepted.claim.post_id,
            accepted.urn,
        )
        return "lost"

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

    def _defer_for_cap(self, session: Session, claim: Claim, job: Job, now: datetime) -> str:
        post = self._fenced_post(session, claim)
        if post is None:
            return "lost"
        zone = ZoneInfo(job.time_zone)
        tomorrow = (now.astimezone(zone) + timedelta(days=1)).date()
        local_time = (job.scheduled_at or now).astimezone(zone).time()
        from syndicate.posts.scheduling import from_local

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


def published_payload(post_id: int, urn: str, article: str, target: str) -> dict[str, Any]:
    """The ``post.published`` event's payload (webhooks deliver it as it is)."""
    return {"post_id": post_id, "urn": urn, "article": article, "target": target}


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
