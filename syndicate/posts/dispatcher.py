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
prepared Core statements (no ORM objects), one claim serves a batch and fetches everything
sending needs, a token is decrypted once per run, and a post LinkedIn accepted is recorded
by the same write as the next post's fence (the write that has to happen before the next
request anyway). On PostgreSQL that write is one statement outside any transaction
(``dispatch_sql.RECORD_AND_START``), so each post costs one round trip to the database and
the event lock its event takes is held only while the statement runs. Nothing goes to
LinkedIn while an accepted post is still unrecorded, so a crash leaves at most one post to
settle, exactly as before; the batch's other posts wait for their leases to run out, which
the pass renews while it works through them (``_pass``).

Where each part lives: the claim and its fence in ``dispatch_claim.py`` (on the lease
mechanism every claimed table shares, ``syndicate/claims.py``), the token, picture, fence
and request in ``dispatch_send.py``, the outcomes in ``dispatch_record.py``, the prebuilt
statements in ``dispatch_sql.py``; this module runs the passes and owns the transactions.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from syndicate.clock import Clock
from syndicate.crypto import TokenVault
from syndicate.db import Database
from syndicate.fetch import Fetcher
from syndicate.linkedin import client as li
from syndicate.posts.dispatch_claim import Claim
from syndicate.posts.dispatch_record import Accepted, Recording, published_payload
from syndicate.posts.dispatch_send import Sending, post_body
from syndicate.posts.dispatch_sql import RECORD_AND_START, START_REQUEST
from syndicate.posts.models import PostState
from syndicate.wording import duration

log = logging.getLogger(__name__)
# Posts claimed per pass: one claim (a few statements) serves this many posts.
BATCH = 20


def worker_name() -> str:
    """The lease owner: unique per process and short (``posts.lease_owner``), for operators."""
    return f"{socket.gethostname()}:{os.getpid()}"


def sender(role: str) -> str:
    """Who sends, in words, for a post's history: "scheduler on web1 (pid 2878)"."""
    return f"{role} on {socket.gethostname()} (pid {os.getpid()})"


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


class Dispatcher(Sending, Recording):
    """Claims due posts and sends each; the concerns live in ``dispatch_claim``,
    ``dispatch_send`` and ``dispatch_record``, the SQL in ``dispatch_sql``."""

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
        self._statements: Connection | None = None  # PostgreSQL, outside transactions
        self._tokens: dict[str, str] = {}  # decrypted for a run (see Sending._token)

    # --- writing --------------------------------------------------------------------------

    @contextmanager
    def _one_connection(self) -> Iterator[None]:
        """Run the enclosed writes on the same connections, checked out once for a pass.

        Every checkout from the pool pings the server first, and a pass writes once per
        post, so it checks out once instead; only where the app's sessions use the engine
        (tests bind them to a connection of their own, and SQLite has no ping to save). On
        PostgreSQL a second connection, outside transactions, runs the write between two
        requests as one statement (``_fence``).
        """
        if self._connection is not None or self._statements is not None:
            yield
            return
        with self.database.sessions() as probe:
            bind = probe.get_bind()
        if bind.dialect.name != "postgresql":
            yield
            return
        with ExitStack() as stack:
            if isinstance(bind, Engine):
                self._connection = stack.enter_context(bind.connect())
            self._statements = stack.enter_context(self.database.statement_connection())
            try:
                yield
            finally:
                self._connection = self._statements = None

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
        if self._accepted is None:
            return
        if self._statements is not None and _one_statement_records(self._accepted):
            self._record_and_start(None, self.clock.now())
            return
        with self._write():
            pass

    def _fence(self, claim: Claim, now: datetime) -> bool:
        """The fence before ``claim``'s request (``_start_request``), which also records the
        post LinkedIn accepted last: on PostgreSQL one statement outside any transaction."""
        if self._statements is not None and (
            self._accepted is None or _one_statement_records(self._accepted)
        ):
            return self._record_and_start(claim, now)
        with self._write() as session:
            return self._start_request(session, claim, now)

    def _record_and_start(self, claim: Claim | None, now: datetime) -> bool:
        """``dispatch_sql.RECORD_AND_START`` (or START_REQUEST alone): the accepted post, if
        any, recorded and ``claim``, if any, fenced; False when the fence did not hold."""
        assert self._statements is not None
        accepted, self._accepted = self._accepted, None
        try:
            params: dict[str, Any] = {
                "b_owner": self.owner,
                "b_now": now,
                "b_until": now + self.settings.lease,
                "b_post_id": claim.post_id if claim else None,
                "b_attempt": claim.attempt if claim else None,
            }
            if accepted is None:
                started = self._statements.execute(START_REQUEST, params).rowcount
            else:
                done, job = accepted.claim, accepted.claim.job
                assert job is not None
                params.update(
                    self._published_history(accepted),
                    b_done_id=done.post_id,
                    b_done_attempt=done.attempt,
                    b_urn=accepted.urn,
                    b_payload=published_payload(
                        done.post_id, accepted.urn, job.article_public_id, job.target_urn
                    ),
                    kinds="post.published",
                )
                recorded, started = self._statements.execute(RECORD_AND_START, params).one()
                self._recorded[done.post_id] = (
                    "published" if recorded else self._published_but_lost(accepted)
                )
        except BaseException:
            # Not written: the next write tries again (see _write).
            self._accepted = accepted
            raise
        if claim is not None and started != 1:
            log.warning("post %s: lease lost before sending; another worker has it", claim.post_id)
            return False
        return True

    # --- passes ---------------------------------------------------------------------------

    def run_once(self, limit: int = BATCH) -> DispatchResult:
        try:
            with self._one_connection():
                try:
                    result = self._pass(limit)
                finally:
                    self._flush()
                self._count_recorded(result)
        finally:
            self._tokens.clear()
        return result

    def run_until_idle(self, *, limit: int = BATCH, max_passes: int = 10_000) -> DispatchResult:
        total = DispatchResult()
        try:
            with self._one_connection():
                try:
                    for _ in range(max_passes):
                        result = self._pass(limit)
                        total.add(result)
                        if not result.claimed:
                            break
                finally:
                    self._flush()
                self._count_recorded(total)
        finally:
            self._tokens.clear()
        return total

    def _pass(self, limit: int) -> DispatchResult:
        """Claim a batch and send it; may leave the last accepted post to be recorded.

        The batch's posts are leased together; while they wait their turn, their leases are
        renewed (``renew``) each time half a lease has gone by, so a slow batch keeps them,
        and a worker that dies mid-batch leaves the rest to others a lease later at most.
        """
        result = DispatchResult()
        claims = self.claim(limit)
        renew_at = self.clock.now() + self.settings.lease / 2
        for index, claim in enumerate(claims):
            result.claimed += 1
            if self.clock.now() >= renew_at:
                self.renew(claims[index:])
                renew_at = self.clock.now() + self.settings.lease / 2
            outcome = self._process(claim)
            if outcome is not None:
                result.count(claim.post_id, outcome)
        self._count_recorded(result)
        return result

    def _count_recorded(self, result: DispatchResult) -> None:
        recorded, self._recorded = self._recorded, {}
        for post_id, outcome in recorded.items():
            result.count(post_id, outcome)

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
        if not self._fence(claim, now):
            return "lost"
        try:
            urn = self.client.create_post(token, body)
        except li.LinkedInError as exc:
            return self._after_error(claim, exc)
        self._accepted = Accepted(claim, urn, note="")
        return None


def _one_statement_records(accepted: Accepted) -> bool:
    """Whether RECORD_AND_START can record ``accepted``: the claim brought what its event
    needs, and settling an unknown (which may email its owner) takes the ORM path."""
    return accepted.claim.job is not None and not accepted.claim.reconciling
