"""How each process knows, without a query per request, whether its cached feeds are current.

Every change a feed can show commits an article event in the same transaction, so the newest
article event id (``cache.content_version``) names the state of every feed. Asking the
database for it on each request costs more than serving the cached bytes (a session, a pool
checkout, a round trip), so each process learns it the cheapest way its database allows:

- SQLite: ``PRAGMA data_version`` on a connection of our own changes whenever another
  connection commits (it reads the shared WAL index: microseconds, no query); only then is
  the version read again. Exact: the very next request sees a commit.
- PostgreSQL: a thread per process LISTENs on ``events.NOTIFY_CHANNEL``, which
  ``events.emit`` announces at commit, and reads the version again when article events
  arrive, and every minute in any case. A request sees a commit once the notification has
  arrived (milliseconds); whenever the listener is not connected, requests ask the database.
- Otherwise (sessions bound to one shared connection, as in the tests' rolled-back
  transactions, or an in-memory SQLite database): the query, through the request's session.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy.engine import Engine

from syndicate.db import Database
from syndicate.events import NOTIFY_CHANNEL
from syndicate.feeds.cache import (
    ARTICLE_EVENT_KINDS,
    VERSION_QUERY,
    SessionSource,
    VersionSource,
    content_version,
    newest_event_id,
)

log = logging.getLogger(__name__)


class QueryVersion:
    """Asks the database on every call."""

    def current(self, session: SessionSource) -> int:
        return content_version(session())


@dataclass
class _SqliteWatch:
    connection: sqlite3.Connection
    pid: int
    data_version: int | None = None
    version: int = 0


class SqliteVersion:
    """Reads the version again only after another connection committed (data_version)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql = _raw_version_sql(engine)
        # data_version is per connection, so each thread (gthread workers) keeps its own.
        self._local = threading.local()

    def _watch(self) -> _SqliteWatch:
        watch: _SqliteWatch | None = getattr(self._local, "watch", None)
        if watch is None or watch.pid != os.getpid():
            raw = self._engine.raw_connection()
            # Out of the pool for good: this connection never writes, so its data_version
            # moves only when someone else commits.
            raw.detach()
            watch = _SqliteWatch(raw.dbapi_connection, os.getpid())  # type: ignore[arg-type]
            self._local.watch = watch
        return watch

    def current(self, session: SessionSource) -> int:
        try:
            watch = self._watch()
            # Read before the version: a commit in between moves data_version again, so the
            # next call reads the version once more instead of trusting a stale one.
            (data_version,) = watch.connection.execute("PRAGMA data_version").fetchone()
            if data_version != watch.data_version:
                watch.version = newest_event_id(watch.connection.execute(self._sql).fetchone())
                watch.data_version = data_version
            return watch.version
        except sqlite3.Error:
            log.warning(
                "feed freshness: the SQLite watch failed; asking through the session", exc_info=True
            )
            self._local.watch = None
            return content_version(session())


class PostgresVersion:
    """Trusts the version a LISTEN thread keeps current; asks the database when it cannot."""

    def __init__(
        self, engine: Engine, *, heartbeat: float = 60.0, max_retry_delay: float = 30.0
    ) -> None:
        self._engine = engine
        self._heartbeat = heartbeat
        self._max_retry_delay = max_retry_delay
        self._sql = _raw_version_sql(engine)
        # None while the listener is not connected and caught up: requests then query.
        self.known: int | None = None
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._stopped = threading.Event()
        self._connection: Any = None

    def current(self, session: SessionSource) -> int:
        if self._pid != os.getpid():
            self._start()
        known = self.known
        return known if known is not None else content_version(session())

    def close(self) -> None:
        """Stop the listener (tests; a worker process simply exits)."""
        self._stopped.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            # A forked child inherits no thread: start its own.
            self._pid, self.known = os.getpid(), None
            threading.Thread(
                target=self._listen_forever, name="feed-freshness", daemon=True
            ).start()

    def _listen_forever(self) -> None:
        delay, reported = 1.0, False
        while not self._stopped.is_set():
            try:
                self._listen()
                delay, reported = 1.0, False
            except Exception:
                if not reported:
                    log.warning(
                        "feed freshness: the PostgreSQL listener lost its connection; "
                        "feed requests ask the database until it is back",
                        exc_info=True,
                    )
                    reported = True
            finally:
                self.known = None
                self._close_connection()
            self._stopped.wait(delay)
            delay = min(delay * 2, self._max_retry_delay)

    def _listen(self) -> None:
        raw = self._engine.raw_connection()
        raw.detach()
        connection = self._connection = raw.dbapi_connection
        assert connection is not None  # None only once invalidated, which nothing here does
        connection.rollback()  # the pool's ping may have opened a transaction
        connection.autocommit = True
        connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
        # Read after LISTEN: a commit in between is either in this answer or notified.
        self.known = self._read(connection)
        while not self._stopped.is_set():
            notes = list(connection.notifies(timeout=self._heartbeat, stop_after=1))
            if notes:
                notes += list(connection.notifies(timeout=0.01))  # the rest of a burst
                if not any(_is_article_change(note.payload) for note in notes):
                    continue
                self.known = None  # until the read below: requests ask for themselves
            self.known = self._read(connection)

    def _read(self, connection: Any) -> int:
        return newest_event_id(connection.execute(self._sql).fetchone())

    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: S110  # nosec B110: already broken; nothing to tell
                pass


def _raw_version_sql(engine: Engine) -> str:
    """VERSION_QUERY as plain SQL for a DBAPI connection of our own (no SQLAlchemy per call)."""
    return str(
        VERSION_QUERY.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    )


def _is_article_change(payload: str) -> bool:
    return any(kind in ARTICLE_EVENT_KINDS for kind in payload.split(","))


def version_source(database: Database) -> VersionSource:
    """The cheapest exact-or-notified source this database allows (see the module text)."""
    bind = database.sessions.kw.get("bind")
    if not isinstance(bind, Engine):
        return QueryVersion()
    if bind.dialect.name == "sqlite" and bind.url.database not in (None, "", ":memory:"):
        return SqliteVersion(bind)
    if bind.dialect.name == "postgresql":
        return PostgresVersion(bind)
    return QueryVersion()


class OncePerRequest:
    """Asks ``inner`` once per request: the publication's name and the feed cache both want
    the version, and a request is answered from one state in any case."""

    def __init__(self, inner: VersionSource) -> None:
        self.inner = inner

    def current(self, session: SessionSource) -> int:
        if not has_request_context():
            return self.inner.current(session)
        known: int | None = g.get("content_version")
        if known is None:
            known = g.content_version = self.inner.current(session)
        return known

    def close(self) -> None:
        """Stop the inner source's listener, if it has one (tests)."""
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def shared_version_source(app: Any, database: Database) -> VersionSource:
    """The process's one version source for ``app`` (feeds' cache, the publication's name).

    Made on first use, when the app's session factory is bound for good; one per app, so a
    PostgreSQL process runs one listener however many parts ask.
    """
    source: VersionSource | None = app.extensions.get("content_versions")
    if source is None:
        made: VersionSource = app.extensions.setdefault(
            "content_versions", OncePerRequest(version_source(database))
        )
        return made
    return source

