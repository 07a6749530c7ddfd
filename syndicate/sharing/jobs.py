"""Sharing's work that owns its transactions: the scheduler's periodic steps, and the
recorder that writes tracked links' visits in batches.

Each scheduler step runs in its own write transaction and changes rows with conditional
UPDATEs, so two scheduler processes never send the same email twice. The services these
call (``sweeps``, ``visits``) take a session and never commit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from syndicate import events, wording
from syndicate.db import Database, get_database
from syndicate.sharing import sweeps, visits
from syndicate.sharing.context import Sharing
from syndicate.sharing.models import Permission, PermissionState, ShareLink, ShareVisitor

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

log = logging.getLogger(__name__)
CORRECTIONS_SUBSCRIBER = "sharing.corrections"


def maintain_share_requests(app: Flask) -> str:
    """Delete stale unverified requests, remind staff, close stale requests, warn and expire
    grants, and fold yesterday's visitor hashes into daily totals."""
    database = get_database(app)
    ctx = Sharing.for_app(app)
    now_fn = app.extensions["clock"].now
    # (what is counted, what happened to it): "1 grant expired", "2 grants expired".
    done: dict[tuple[str, str], int] = {}
    steps = (
        (("unverified request", "deleted"), sweeps.delete_unverified),
        (("request", "closed without decision"), sweeps.close_stale),
        (("grant end warning", "sent"), sweeps.warn_expiring),
        (("grant", "expired"), sweeps.expire_grants),
    )
    for label, step in steps:
        with database.write_transaction() as session:
            done[label] = step(session, now=now_fn(), ctx=ctx)
    with database.write_transaction() as session:
        waiting = sweeps.remind_waiting(session, now=now_fn(), ctx=ctx)
    with database.write_transaction() as session:
        done["visit", "folded"] = visits.fold_visits(session, now=now_fn())
    summary = ", ".join(
        f"{wording.count(count, noun)} {happened}"
        for (noun, happened), count in done.items()
        if count
    )
    if summary and waiting:
        summary += f"; {waiting} waiting for a decision"
    return f"sharing: {summary}" if summary else ""


def notify_corrections(app: Flask) -> str:
    """Tell grantees when an article they may share is corrected or withdrawn."""
    ctx = Sharing.for_app(app)
    now_fn = app.extensions["clock"].now
    told = 0

    def handle(session: Session, event: events.Event) -> None:
        nonlocal told
        told += sweeps.handle_article_event(session, event, now=now_fn(), ctx=ctx)

    events.consume(
        get_database(app),
        CORRECTIONS_SUBSCRIBER,
        handle,
        now=now_fn(),
        kinds={"article.updated", "article.unpublished"},
    )
    return f"sharing corrections: {wording.count(told, 'grantee')} told" if told else ""


# --- the visits of tracked links -------------------------------------------------------


class LinkDirectory:
    """code -> (link id, target URL), remembered for a few seconds by each process.

    The redirect is the hottest path; the target only changes when an article's canonical
    URL does, so a few seconds of staleness are harmless. Whether a visit counts is decided
    when it is written (the permission must be in force then), not from this cache.
    """

    def __init__(self, database: Database, ttl: float, size: int = 10_000) -> None:
        self.database = database
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, int, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, code: str) -> tuple[int, str] | None:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(code)
            if entry is not None and entry[0] > now:
                return entry[1], entry[2]
        with self.database.sessions() as session:
            row = session.connection().execute(_LOOKUP, {"code": code}).first()
        if row is None:
            return None
        if self.ttl > 0:
            with self._lock:
                self._entries[code] = (now + self.ttl, row.id, row.target_url)
                self._entries.move_to_end(code)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return row.id, row.target_url


_LOOKUP = select(ShareLink.id, ShareLink.target_url).where(ShareLink.code == bindparam("code"))
VisitKey = tuple[int, date, str]


class VisitRecorder:
    """Writes counted visits in batches from a thread of the process that took them.

    A redirect only hands its visit over; every ``interval`` seconds the batch is written in
    one transaction, keeping only links whose permission is in force at that moment, with
    INSERT ... ON CONFLICT DO NOTHING so that a visitor counts once a day whichever process
    saw them. ``interval`` 0 writes during the request (tests). A process killed with
    SIGKILL loses at most the last interval's visits; a normal exit writes them.
    """

    def __init__(
        self,
        database: Database,
        now_fn: Callable[[], datetime],
        *,
        interval: float,
        max_pending: int = 50_000,
        remember: int = 100_000,
    ) -> None:
        self.database = database
        self.now_fn = now_fn
        self.interval = interval
        self.max_pending = max_pending
        self.remember = remember
        self.dropped = 0
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._pending: dict[VisitKey, None] = {}
        # Visits written already (per process): a repeat visitor costs no database work.
        self._written: OrderedDict[VisitKey, None] = OrderedDict()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, link_id: int, day: date, visitor: str) -> None:
        if self._pid != os.getpid():
            self._reset()  # forked: the parent's thread and lock are not ours
        key = (link_id, day, visitor)
        with self._lock:
            if key in self._pending or key in self._written:
                return
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.warning(
                        "share visits: %s visits dropped, the database is not keeping up",
                        self.dropped,
                    )
                return
            self._pending[key] = None
            start = self.interval > 0 and self._thread is None
            if start:
                self._thread = threading.Thread(target=self._run, name="share-visits", daemon=True)
        if self.interval <= 0:
            self.flush()
        elif start:
            assert self._thread is not None
            self._thread.start()
            atexit.register(self.close)

    def flush(self) -> int:
        """Write what is pending; return how many visits were new and in force."""
        with self._lock:
            batch = list(self._pending)
            self._pending.clear()
        if not batch:
            return 0
        try:
            written = write_visits(self.database, batch, now=self.now_fn())
        except Exception:  # noqa: BLE001 (the database may be away; keep the visits)
            log.exception("share visits: writing %s visits failed; will retry", len(batch))
            with self._lock:
                for key in batch[: max(0, self.max_pending - len(self._pending))]:
                    self._pending[key] = None
            return 0
        with self._lock:
            for key in batch:
                self._written[key] = None
            while len(self._written) > self.remember:
                self._written.popitem(last=False)
        return written

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is left (at exit, and in tests)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None
        self.flush()


_INSERT_VISITORS: dict[str, Any] = {}


def _insert_visitors(dialect: str) -> Any:
    statement = _INSERT_VISITORS.get(dialect)
    if statement is None:
        # Both dialects' inserts take the same arguments.
        insert: Callable[..., postgresql.Insert | sqlite.Insert]
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = _INSERT_VISITORS.setdefault(
            dialect, insert(ShareVisitor.__table__).on_conflict_do_nothing()
        )
    return statement


def write_visits(database: Database, batch: list[VisitKey], *, now: datetime) -> int:
    """Insert the visits of links whose permission is in force now; duplicates are ignored."""
    with database.write_transaction() as session:
        connection = session.connection()
        in_force = set(
            connection.execute(
                select(ShareLink.id)
                .join(Permission, Permission.id == ShareLink.permission_id)
                .where(
                    ShareLink.id.in_({link_id for link_id, _, _ in batch}),
                    Permission.state == PermissionState.ACTIVE,
                    or_(Permission.expires_at.is_(None), Permission.expires_at > now),
                )
            ).scalars()
        )
        rows = [
            {"link_id": link_id, "day": day, "visitor_hash": visitor}
            for link_id, day, visitor in batch
            if link_id in in_force
        ]
        if rows:
            connection.execute(_insert_visitors(connection.dialect.name), rows)
    return len(rows)


@dataclass(frozen=True)
class Tracking:
    links: LinkDirectory
    recorder: VisitRecorder


def tracking_for(app: Flask) -> Tracking:
    """The app's link directory and visit recorder, made on first use (never at import)."""
    tracking = app.extensions.get("share_tracking")
    if tracking is None:
        with _TRACKING_LOCK:
            tracking = app.extensions.get("share_tracking")
            if tracking is None:
                config = app.config
                tracking = Tracking(
                    LinkDirectory(
                        get_database(app), float(config.get("SHARING_LINK_CACHE_SECONDS", 5.0))
                    ),
                    VisitRecorder(
                        get_database(app),
                        app.extensions["clock"].now,
                        interval=float(config.get("SHARING_VISIT_FLUSH_SECONDS", 1.0)),
                    ),
                )
                app.extensions["share_tracking"] = tracking
    return tracking


_TRACKING_LOCK = threading.Lock()
