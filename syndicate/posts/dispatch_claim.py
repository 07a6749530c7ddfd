"""Claiming due posts for the dispatcher: one short transaction per batch.

Locking reads of the posts table alone (``dispatch_sql.LOCK_TO_RECOVER`` and ``LOCK_DUE``),
one UPDATE for the batch, one read of what sending needs, one history insert. The lease and
fencing mechanism is the one every claimed table shares (``syndicate/claims.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from syndicate.db import changed_rows
from syndicate.linkedin import client as li
from syndicate.linkedin.models import ConnectionState
from syndicate.posts.context import record
from syndicate.posts.dispatch_sql import (
    INSERT_HISTORY,
    LOAD_JOB,
    LOAD_JOBS,
    LOCK_DUE,
    LOCK_TO_RECOVER,
    POST_LEASES,
    POSTS,
    version_alert_key,
)
from syndicate.posts.models import Post, PostState

if TYPE_CHECKING:
    from syndicate.clock import Clock
    from syndicate.posts.dispatcher import DispatchSettings


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

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Job:
        """A row of dispatch_sql.JOB_COLUMNS, which lists the fields in this order."""
        return cls(*row)


CLAIM_DETAIL = {
    PostState.SCHEDULED: "claimed",
    PostState.UNKNOWN: "claimed to settle an unknown outcome",
    PostState.SENDING: "recovered from a worker that stopped before sending",
}


class Claiming:
    """The dispatcher's claim, the fence that every later write of a claim passes, and the
    history rows it writes (part of ``Dispatcher``)."""

    owner: str
    actor: str
    clock: Clock
    client: li.LinkedInClient
    settings: DispatchSettings

    if TYPE_CHECKING:
        # Dispatcher provides these two; Sending and Recording inherit the declarations.
        def _write(self) -> AbstractContextManager[Session]: ...
        def _flush(self) -> None: ...

    def claim(self, limit: int = 10) -> list[Claim]:
        """Claim up to ``limit`` due posts in one short transaction: locking reads of the
        posts table alone, one UPDATE for the batch, one read of what sending needs, one
        history insert."""
        now = self.clock.now()
        params = {"b_now": now, "b_alert": version_alert_key(self.client.version)}
        with self._write() as session:
            connection = session.connection()
            rows = list(connection.execute(LOCK_TO_RECOVER, {**params, "b_limit": limit}))
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
            attempts: dict[int, int] = dict(
                connection.execute(
                    update(POSTS)
                    .where(POSTS.c.id.in_(taking))
                    .values(
                        **POST_LEASES.take(self.owner, now + self.settings.lease),
                        updated_at=now,
                        request_started_at=None,
                    )
                    .returning(POSTS.c.id, POSTS.c.attempt)
                ).all()
            )
            jobs = {
                row[0]: Job.from_row(row)
                for row in connection.execute(LOAD_JOBS, {"b_ids": list(taking)})
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

    def renew(self, claims: Sequence[Claim]) -> int:
        """Extend the leases of ``claims`` that this worker still holds by a lease from now;
        how many it renewed. A lease that ran out stays out: its post is someone else's to
        take, and this worker's fence before sending it will fail."""
        if not claims:
            return 0
        now = self.clock.now()
        with self._write() as session:
            renewed = session.connection().execute(
                update(POSTS)
                .where(
                    POSTS.c.id.in_([claim.post_id for claim in claims]),
                    POSTS.c.lease_owner == self.owner,
                    POSTS.c.state == PostState.SENDING,
                    POSTS.c.lease_expires_at > now,
                )
                .values(lease_expires_at=now + self.settings.lease)
            )
            return changed_rows(renewed)

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
        post = session.get_one(Post, post_id)  # locked by the claim's read
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

    def _fenced(self, claim: Claim) -> Any:
        """Rows still ours: same owner, same attempt, still sending (with values bound)."""
        return POST_LEASES.fenced(claim.post_id, self.owner, claim.attempt)

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
        return Job.from_row(row) if row is not None else None
