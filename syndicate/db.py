"""The declarative base, the engine, and one session per request or job.

The caller owns the transaction: a view, job or command commits; services only add and flush.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar, cast

from flask import Flask, current_app, g
from sqlalchemy import (
    JSON,
    Connection,
    CursorResult,
    DateTime,
    Engine,
    MetaData,
    Result,
    Select,
    String,
    Table,
    create_engine,
    event,
    exc,
    func,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

T = TypeVar("T")
log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every database; naive datetimes are refused.

    SQLite keeps no zone, so values are stored as naive UTC there and made aware on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given where an aware one is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def new_public_id() -> str:
    return str(uuid.uuid4())


utc_datetime = Annotated[datetime, mapped_column(UTCDateTime())]
str_255 = Annotated[str, mapped_column(String(255))]


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # SQLAlchemy types it as any FromClause; every model here is mapped to a Table.
        __table__: ClassVar[Table]

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


def _configure_sqlite(engine: Engine) -> None:
    """Make pysqlite honour BEGIN/SAVEPOINT and let writers wait instead of failing.

    pysqlite's own transaction handling defeats savepoints and BEGIN IMMEDIATE, so the
    driver is put in autocommit and SQLAlchemy emits BEGIN itself (SQLAlchemy's documented
    recipe). A connection opened with the execution option ``sqlite_begin="IMMEDIATE"``
    takes the write lock at once, which the claim queries need.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    turns = (
        WriterTurns(engine.url.database + "-writer.lock")
        if engine.url.database not in (None, "", ":memory:")
        else None
    )

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode == "IMMEDIATE" and turns is not None:
            turns.take(connection.connection.dbapi_connection)
        connection.exec_driver_sql(f"BEGIN {mode}")

    if turns is not None:

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _on_end(connection: Any) -> None:
            turns.give_back(connection.connection.dbapi_connection)

        @event.listens_for(engine, "checkin")
        @event.listens_for(engine, "close")
        def _on_return(dbapi_connection: Any, _record: Any) -> None:
            turns.give_back(dbapi_connection)


class WriterTurns:
    """Writers of one SQLite file, of every process, take turns through a file lock.

    SQLite lets a writer that finds the database locked sleep and retry (busy_timeout), in
    steps of 1, 2, 5, 10 ms and up: with several writer processes (gunicorn workers, the
    scheduler), a short transaction waited tens of milliseconds for one that had ended long
    before. Waiting on a file lock first, the next writer wakes when the last one is done.
    The lock is released when the transaction commits or rolls back (just before the COMMIT
    itself: a writer that comes in between waits in SQLite's way, a millisecond). It only
    orders writers: SQLite's own lock still decides. A writer that waits for it longer than
    SQLite would wait (busy_timeout) goes on without it, so a mistake can only ever be as
    slow as SQLite alone, never hang.
    """

    def __init__(self, path: str, *, patience: float = 30.0) -> None:
        self.path = path
        self.patience = patience
        self._held: dict[int, int] = {}  # id of the DBAPI connection -> open lock file

    def take(self, dbapi_connection: Any) -> None:
        import fcntl
        import os

        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline, pause = time.monotonic() + self.patience, 0.0001
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(descriptor)
                    return
                time.sleep(pause)
                pause = min(pause * 2, 0.001)
        self._held[id(dbapi_connection)] = descriptor

    def give_back(self, dbapi_connection: Any) -> None:
        import os

        descriptor = self._held.pop(id(dbapi_connection), None)
        if descriptor is not None:
            os.close(descriptor)  # closing the file releases its lock


# A pooled connection back in the pool for longer than this is pinged before it is used again.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_connections_left_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only if it sat idle for ``idle_seconds``.

    Connections die while idle (a server restart, a proxy's or firewall's idle timeout). A
    ping on every checkout (pool_pre_ping) would cost every request a round trip, though a
    connection used a moment ago is almost surely alive. If one dies even so, the request
    that meets it fails (503, see web.errors) and SQLAlchemy drops every older connection,
    so the next requests connect afresh.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return  # new, or just used
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            # The pool replaces this connection and every one older than it.
            raise exc.InvalidatePoolError(f"an idle pooled connection is gone: {error}") from error


def make_engine(
    url: str, *, ping_after_idle: float = PING_AFTER_IDLE_SECONDS, **kwargs: Any
) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, **kwargs)
    _ping_connections_left_idle(engine, ping_after_idle)
    return engine


class Database:
    """Owns the engine and the session factory of one app."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on error (jobs, commands)."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def write_transaction(self) -> Iterator[Session]:
        """Like ``transaction``, but SQLite takes the write lock at BEGIN.

        For read-then-write sequences that must not interleave across processes (claims,
        token refreshes): a deferred SQLite transaction that upgrades to writing fails with
        SQLITE_BUSY instead of waiting. PostgreSQL ignores the option; its callers lock rows
        with FOR UPDATE. The session comes from the app's factory, so tests that bind the
        factory to their own connection see the same rows.
        """
        with self.sessions() as session, session.begin():
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
            yield session

    @contextmanager
    def statement_connection(self, *, durable: bool = True) -> Iterator[Connection]:
        """A connection to write with, for work that is one statement on PostgreSQL.

        PostgreSQL: outside any transaction, each statement committing by itself, which spares
        the BEGIN and COMMIT round trips and a session's bookkeeping; so the work must be a
        single statement there to be atomic. SQLite: a transaction that takes the write lock
        at BEGIN and commits when the block ends (rolls back on an error). When the sessions
        are bound to one shared connection (the tests' rolled-back transactions), that
        connection, so that the work stays inside their transaction.

        ``durable=False``: on PostgreSQL the commit does not wait for the WAL to reach the
        disk (``synchronous_commit = off`` for this transaction only). A crash of the server
        or the machine within about half a second may lose the write, whole (never half of
        it); the flush is most of such a write's time on a disk that syncs in milliseconds.
        It is the durability SQLite gives every commit here (WAL, ``synchronous=NORMAL``).
        """
        shared = self.sessions.kw.get("bind")
        if isinstance(shared, Connection):
            yield shared
        elif self.engine.dialect.name == "sqlite":
            with self.engine.connect() as connection:
                with connection.execution_options(sqlite_begin="IMMEDIATE").begin():
                    yield connection
        elif durable:
            with self.engine.connect() as connection:
                yield connection.execution_options(isolation_level="AUTOCOMMIT")
        else:
            with self.engine.connect() as connection, connection.begin():
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield connection


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, numbered from 1."""

    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_prev(self) -> bool:
        return self.number > 1


def paginate(session: Session, query: Select[T], *, number: int, size: int) -> Page[T]:
    """Run an ordered ``select()`` for one page, with the total count of its rows."""
    number = max(number, 1)
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = list(session.scalars(query.limit(size).offset((number - 1) * size)))
    return Page(items, number, size, total)


def changed_rows(result: Result[Any]) -> int:
    """The rows an UPDATE, INSERT or DELETE changed.

    Session.execute is typed to return a Result, which has no rowcount; for these statements
    it is a CursorResult, which has.
    """
    return cast("CursorResult[Any]", result).rowcount


def init_app(app: Flask, engine: Engine | None = None) -> Database:
    database = Database(engine or make_engine(app.config["DATABASE_URL"]))
    app.extensions["database"] = database
    app.teardown_appcontext(_close_session)
    return database


def get_database(app: Flask | None = None) -> Database:
    database: Database = (app or current_app).extensions["database"]
    return database


def get_session() -> Session:
    """The session of the current request, created on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = get_database().sessions()
    session: Session = g.db_session
    return session


def discard_session() -> None:
    """Close the current request's session now; later use in the request starts a fresh one.

    For the error page of a lost connection: the old session would refuse every query until
    rolled back, and its rollback may fail again on the dead connection.
    """
    _close_quietly(g.pop("db_session", None))


def _close_session(_exc: BaseException | None) -> None:
    _close_quietly(g.pop("db_session", None))


def _close_quietly(session: Session | None) -> None:
    """Close a session without ever raising: the response is decided by the time this runs.

    Closing rolls back the open transaction; when the connection died since the last
    statement (a PostgreSQL restart, an idle timeout), that rollback fails. Raising here would
    replace the page already chosen with a bare 500, so the connection is invalidated
    (the pool replaces it) and the failure logged.
    """
    if session is None:
        return
    try:
        session.close()
    except Exception as error:  # noqa: BLE001 (nothing here may reach the response)
        lost = isinstance(error, exc.DBAPIError) and error.connection_invalidated
        log.log(
            logging.WARNING if lost else logging.ERROR,
            "closing a database session failed; its connection is discarded: %s",
            error,
            exc_info=not lost,
        )
        session.invalidate()
