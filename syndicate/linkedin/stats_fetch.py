"""Fetching published posts' figures from LinkedIn: claim the due ones, call LinkedIn in
batches, record each post's outcome on its own.

One pass claims a batch (``statistics.claim``), groups it by connection, and asks LinkedIn:

- **Page posts**: ``organizationalEntityShareStatistics``, many posts of one page per call
  (``SYNDICATE_POST_STATS_BATCH``, fewer when the URL would pass 4000 characters).
- **Member posts**: ``memberCreatorPostAnalytics`` when the connection holds the scope
  ``r_member_postAnalytics``, else ``socialActions`` (reactions and comments only).

The answers of a claimed batch are written together in one short transaction once its calls
are done (a failure at once), under each claim's fence, and nothing is written while LinkedIn
is being asked. The commits do not wait for the disk on PostgreSQL: figures can always be
fetched again, and a claim whose record was lost simply expires and is fetched anew.

What goes wrong stays with the posts it concerns: a post LinkedIn no longer has (404) stops
being fetched; a 401 marks the
connection *reconnect needed* (as for publishing) and its posts wait; a 429 means the daily
limit is reached, so the pass stops asking and gives the rest back for later; anything else
backs off the posts of that call (5 minutes, doubling, at most a day).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from syndicate.clock import Clock
from syndicate.crypto import TokenVault, UndecryptableSecret
from syndicate.db import Database
from syndicate.linkedin import client as li
from syndicate.linkedin import services as connections
from syndicate.linkedin import statistics as stats
from syndicate.linkedin.models import (
    ConnectionState,
    LinkedInConnection,
    StatSource,
    TargetKind,
)

log = logging.getLogger(__name__)

# Waiting for a reconnect or LinkedIn's rate limit: look again after this.
RECONNECT_WAIT = timedelta(hours=1)
THROTTLE_WAIT = timedelta(minutes=30)
MEMBER_ANALYTICS_SCOPE = "r_member_postAnalytics"


@dataclass
class RefreshResult:
    claimed: int = 0
    fetched: int = 0
    failed: int = 0
    gone: int = 0
    waiting: int = 0
    calls: int = 0
    throttled: bool = False
    enrolled: int = 0
    rounds: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"{value} {name}"
            for name, value in vars(self).items()
            if isinstance(value, int) and not isinstance(value, bool) and value
        ]
        if self.throttled:
            parts.append("throttled")
        return ", ".join(parts)

    def add(self, other: RefreshResult) -> None:
        for name, value in vars(other).items():
            if isinstance(value, bool):
                setattr(self, name, getattr(self, name) or value)
            elif isinstance(value, int):
                setattr(self, name, getattr(self, name) + value)
        self.errors.extend(other.errors)


class _StopPass(Exception):
    """LinkedIn said to stop asking for now (429, or a sunset version); ``rest`` are the
    claimed posts not asked about."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.rest: list[stats.Claimed] = []


Answer = list[tuple[stats.Claimed, li.PostFigures]]
Call = tuple[list[stats.Claimed], Callable[[], Answer], StatSource]


class StatsRefresher:
    """Claims posts whose figures are due and fetches them; owns its transactions."""

    def __init__(
        self,
        database: Database,
        *,
        client: li.LinkedInClient,
        vault: TokenVault,
        clock: Clock,
        owner: str,
        schedule: stats.Schedule = stats.DEFAULT_SCHEDULE,
        batch: int = li.STATS_BATCH,
        claim_size: int = 500,
    ) -> None:
        self.database = database
        self.client = client
        self.vault = vault
        self.clock = clock
        self.owner = owner
        self.schedule = schedule
        self.batch = batch
        self.claim_size = claim_size
        # Answers not yet written: a pass writes them together, at most one claim's worth.
        self._answers: list[tuple[Answer, list[stats.Claimed], StatSource, datetime]] = []

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with self.database.write_transaction() as session:
            if session.get_bind().dialect.name == "postgresql":
                # Figures can always be fetched again: a crash that loses the last commits
                # only leaves their claims to expire and be fetched anew, so these commits
                # need not wait for the disk.
                session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            yield session

    def _record(self, answered: Answer, missing: list[stats.Claimed], source: StatSource) -> None:
        """Keep a call's answer until ``_flush`` writes it (with the others of the pass)."""
        self._answers.append((answered, missing, source, self.clock.now()))

    def _flush(self, result: RefreshResult) -> None:
        """Write the answers kept since the last flush, in one transaction."""
        answers, self._answers = self._answers, []
        if not answers:
            return
        with self._write() as session:
            for answered, missing, source, now in answers:
                result.fetched += stats.record_figures(
                    session,
                    answered,
                    source=source,
                    owner=self.owner,
                    now=now,
                    schedule=self.schedule,
                )
                for post in missing:
                    gone = post.failures + 1 >= stats.MISSING_LIMIT
                    result.gone += gone
                    result.failed += not gone
                    stats.record_failure(
                        session,
                        [post],
                        "LinkedIn's answer left this post out (deleted, or not the page's post?)",
                        owner=self.owner,
                        now=now,
                        schedule=self.schedule,
                        gone=gone,
                    )

    def run_until_idle(self, *, max_rounds: int = 1000) -> RefreshResult:
        """Passes until nothing is due or LinkedIn throttles."""
        total = RefreshResult()
        for _ in range(max_rounds):
            result = self.run_once()
            total.add(result)
            if not result.claimed or result.throttled:
                break
        return total

    def run_once(self) -> RefreshResult:
        """Enroll newly published posts, claim a batch and fetch it."""
        result = RefreshResult(rounds=1)
        now = self.clock.now()
        with self._write() as session:
            result.enrolled = stats.enroll(session, now=now)
            claimed = stats.claim(session, owner=self.owner, now=now, limit=self.claim_size)
        result.claimed = len(claimed)
        if not claimed:
            result.rounds = 0
            return result
        by_connection: dict[int, list[stats.Claimed]] = defaultdict(list)
        for item in claimed:
            by_connection[item.connection_id].append(item)
        with self.database.transaction() as session:
            found = stats.connection_tokens(session, list(by_connection))
            known = {
                cid: (c.state, c.access_token_encrypted, c.scope_set) for cid, c in found.items()
            }
        pending = list(by_connection.items())
        try:
            while pending:
                connection_id, items = pending.pop(0)
                self._connection(connection_id, known.get(connection_id), items, result)
                self._flush(result)
        except _StopPass as stop:
            self._flush(result)
            rest = stop.rest + [item for _, items in pending for item in items]
            with self._write() as session:
                result.waiting += stats.record_failure(
                    session,
                    rest,
                    str(stop),
                    owner=self.owner,
                    now=self.clock.now(),
                    schedule=self.schedule,
                    retry_at=self.clock.now() + THROTTLE_WAIT,
                    count=False,
                )
        return result

    # --- one connection -------------------------------------------------------------------

    def _connection(
        self,
        connection_id: int,
        known: tuple[ConnectionState, str | None, set[str]] | None,
        items: list[stats.Claimed],
        result: RefreshResult,
    ) -> None:
        token = None
        if known is not None and known[0] is ConnectionState.ACTIVE and known[1]:
            try:
                token = self.vault.decrypt(known[1])
            except UndecryptableSecret:
                token = None
        if token is None:
            self._wait_for_reconnect(items, result)
            return
        scopes = known[2] if known else set()
        calls: list[Call] = []
        pages: dict[str, list[stats.Claimed]] = defaultdict(list)
        members = []
        for item in items:
            if item.target_kind is TargetKind.ORGANIZATION:
                pages[item.target_urn].append(item)
            else:
                members.append(item)
        for organization, posts in pages.items():
            by_urn = {p.urn: p for p in posts}
            for batch in self.client.batches_for_url(
                organization, list(by_urn), max_count=self.batch
            ):
                calls.append(self._page_call(token, organization, [by_urn[u] for u in batch]))
        calls += [self._member_call(token, item, scopes) for item in members]
        while calls:
            posts, call, source = calls.pop(0)
            try:
                usable = self._call(connection_id, posts, call, source, result)
            except _StopPass as stop:
                stop.rest += [p for ps, _, _ in calls for p in ps]
                raise
            if not usable:
                # The connection needs reconnecting: its other posts wait too.
                self._wait_for_reconnect([p for ps, _, _ in calls for p in ps], result)
                return

    def _page_call(self, token: str, organization: str, posts: list[stats.Claimed]) -> Call:
        def call() -> Answer:
            found = self.client.organization_share_statistics(
                token, organization, [p.urn for p in posts]
            )
            return [(p, found[p.urn]) for p in posts if p.urn in found]

        return posts, call, StatSource.ORGANIZATION

    def _member_call(self, token: str, post: stats.Claimed, scopes: set[str]) -> Call:
        if MEMBER_ANALYTICS_SCOPE in scopes:

            def analytics() -> Answer:
                return [(post, self.client.member_post_analytics(token, post.urn))]

            return [post], analytics, StatSource.MEMBER_ANALYTICS

        def social() -> Answer:
            return [(post, self.client.social_actions(token, post.urn))]

        return [post], social, StatSource.SOCIAL_ACTIONS

    def _call(
        self,
        connection_id: int,
        posts: list[stats.Claimed],
        call: Callable[[], Answer],
        source: StatSource,
        result: RefreshResult,
    ) -> bool:
        """One LinkedIn call and its record; False when the connection needs reconnecting."""
        # Requests, as LinkedIn's limits count them: member analytics ask once per figure.
        result.calls += (
            len(li.MEMBER_ANALYTICS_QUERIES) if source is StatSource.MEMBER_ANALYTICS else 1
        )
        try:
            answered = call()
        except li.AuthError as exc:
            now = self.clock.now()
            with self._write() as session:
                connection = session.get(LinkedInConnection, connection_id)
                if connection is not None:
                    connections.handle_auth_failure(session, connection, exc, now=now)
            self._fail(
                posts,
                f"LinkedIn refused the token ({exc}); reconnect the connection",
                exc.status,
                result,
                retry_at=now + RECONNECT_WAIT,
                count=False,
            )
            return False
        except li.NotFound as exc:
            self._fail(
                posts, f"LinkedIn no longer has this post ({exc})", exc.status, result, gone=True
            )
            return True
        except li.Throttled as exc:
            result.throttled = True
            self._fail(
                posts,
                f"LinkedIn's rate limit is reached ({exc}); trying later",
                exc.status,
                result,
                retry_at=self.clock.now() + THROTTLE_WAIT,
                count=False,
            )
            raise _StopPass(f"not asked: LinkedIn's rate limit was reached ({exc})") from None
        except li.VersionInactive as exc:
            self._fail(
                posts,
                f"LinkedIn-Version is no longer active ({exc}); fix SYNDICATE_LINKEDIN_VERSION",
                exc.status,
                result,
            )
            raise _StopPass(str(exc)) from None
        except li.LinkedInError as exc:
            self._fail(posts, f"{type(exc).__name__}: {exc}", exc.status, result)
            return True
        answered_ids = {p.state_id for p, _ in answered}
        self._record(answered, [p for p in posts if p.state_id not in answered_ids], source)
        return True

    def _fail(
        self,
        posts: list[stats.Claimed],
        error: str,
        status: int | None,
        result: RefreshResult,
        *,
        gone: bool = False,
        retry_at: datetime | None = None,
        count: bool = True,
    ) -> None:
        log.info("statistics of %s: %s", ", ".join(str(p.post_id) for p in posts[:5]), error)
        if gone:
            result.gone += len(posts)
        elif count:
            result.failed += len(posts)
        else:
            result.waiting += len(posts)
        if len(result.errors) < 20:
            result.errors.append(error)
        with self._write() as session:
            stats.record_failure(
                session,
                posts,
                error,
                owner=self.owner,
                now=self.clock.now(),
                schedule=self.schedule,
                status=status,
                gone=gone,
                retry_at=retry_at,
                count=count,
            )

    def _wait_for_reconnect(self, items: list[stats.Claimed], result: RefreshResult) -> None:
        if not items:
            return
        self._fail(
            items,
            "The LinkedIn connection needs reconnecting; figures resume after that.",
            None,
            result,
            retry_at=self.clock.now() + RECONNECT_WAIT,
            count=False,
        )
