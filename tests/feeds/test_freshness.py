"""How a process learns that feed content changed without asking the database per request."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from syndicate import events, migrate
from syndicate.articles import services as articles
from syndicate.db import Database, make_engine
from syndicate.feeds import freshness
from syndicate.feeds.cache import content_version
from tests.conftest import START, _new_database, eventually, url_is_sqlite


def _migrated(kind: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[Database]:
    url, drop = _new_database(kind, request, directory)
    engine = make_engine(url)
    migrate.upgrade(engine)
    yield Database(engine)
    engine.dispose()
    drop()  # type: ignore[operator]


@pytest.fixture
def sqlite_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from _migrated("sqlite", request, tmp_path)


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    yield from _migrated("postgresql", request, tmp_path)


def _no_session():  # noqa: ANN202
    raise AssertionError("the version source asked for a session")


def _publish(database: Database, title: str, minutes: int = 0) -> int:
    when = START + timedelta(minutes=minutes)
    with database.transaction() as session:
        article = articles.create_article(
            session, articles.ArticleInput(title=title, authors=["Ada"]), now=when
        )
        articles.publish_article(session, article, now=when)
    with database.transaction() as session:
        return content_version(session)


def test_the_source_fits_the_database(fresh_database: str) -> None:
    database = Database(make_engine(fresh_database))
    source = freshness.version_source(database)
    expected = freshness.SqliteVersion if url_is_sqlite(fresh_database) else (
        freshness.PostgresVersion)
    assert isinstance(source, expected)
    with database.engine.connect() as connection:
        shared = Database(database.engine)
        shared.sessions.configure(bind=connection)
        assert isinstance(freshness.version_source(shared), freshness.QueryVersion)
    database.engine.dispose()
    memory = Database(make_engine("sqlite://"))
    assert isinstance(freshness.version_source(memory), freshness.QueryVersion)


def test_sqlite_sees_another_connections_commit_at_the_next_call(
    sqlite_database: Database,
) -> None:
    database = sqlite_database
    source = freshness.SqliteVersion(database.engine)
    first = _publish(database, "One")
    assert source.current(_no_session) == first
    second = _publish(database, "Two", minutes=1)
    assert second > first and source.current(_no_session) == second


@pytest.fixture
def watched(sqlite_database: Database) -> tuple[Database, freshness.SqliteVersion, int]:
    """A SQLite database with one published article and a source that has read it."""
    source = freshness.SqliteVersion(sqlite_database.engine)
    version = _publish(sqlite_database, "One")
    assert source.current(_no_session) == version
    return sqlite_database, source, version


def test_sqlite_runs_only_the_data_version_pragma_while_nothing_changes(watched) -> None:  # noqa: ANN001
    database, source, version = watched
    statements: list[str] = []
    source._watch().connection.set_trace_callback(statements.append)
    assert all(source.current(_no_session) == version for _ in range(50))
    assert statements == ["PRAGMA data_version"] * 50
    # Commits that are not article events move data_version but not the version.
    with database.transaction() as session:
        session.execute(text("UPDATE articles SET summary = 'changed'"))
    assert source.current(_no_session) == version and len(statements) == 52


def test_sqlite_falls_back_to_the_session_when_its_watch_breaks(watched) -> None:  # noqa: ANN001
    database, source, version = watched
    source._watch().connection.close()
    with database.sessions() as session:
        assert source.current(lambda: session) == version
    # The broken connection is replaced on the next call.
    assert source.current(_no_session) == version
    assert isinstance(source._watch().connection, sqlite3.Connection)


@pytest.fixture
def database(postgres_database: Database) -> Database:
    return postgres_database


@pytest.fixture
def listener(database: Database) -> Iterator[freshness.PostgresVersion]:
    source = freshness.PostgresVersion(database.engine, heartbeat=5.0, max_retry_delay=1.0)
    yield source
    source.close()


def _known(source: freshness.PostgresVersion) -> int | None:
    return source.known


def test_postgres_learns_of_a_commit_through_notify(
    database: Database, listener: freshness.PostgresVersion
) -> None:
    first = _publish(database, "One")
    with database.sessions() as session:
        assert listener.current(lambda: session) == first  # starts the listener
    assert eventually(lambda: _known(listener), lambda known: known == first) == first
    second = _publish(database, "Two", minutes=1)
    assert eventually(lambda: _known(listener), lambda known: known == second) == second
    assert listener.current(_no_session) == second


def test_postgres_ignores_events_that_no_feed_shows(
    database: Database, listener: freshness.PostgresVersion
) -> None:
    first = _publish(database, "One")
    with database.sessions() as session:
        listener.current(lambda: session)
    eventually(lambda: _known(listener), lambda known: known == first)
    reads: list[int] = []
    original = listener._read

    def counting_read(connection):  # noqa: ANN001, ANN202
        reads.append(1)
        return original(connection)

    listener._read = counting_read  # type: ignore[method-assign]
    with database.transaction() as session:
        events.emit(session, "post.published", "x", {}, now=START)
    second = _publish(database, "Two", minutes=1)
    eventually(lambda: _known(listener), lambda known: known == second)
    assert reads == [1]


def test_postgres_asks_the_database_while_the_listener_is_cut_off_then_reconnects(
    database: Database, listener: freshness.PostgresVersion
) -> None:
    first = _publish(database, "One")
    with database.sessions() as session:
        listener.current(lambda: session)
    eventually(lambda: _known(listener), lambda known: known == first)
    backend = listener._connection.info.backend_pid
    with database.transaction() as session:
        session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    second = _publish(database, "Two", minutes=1)
    with database.sessions() as session:
        # Whether through the fallback query or the new connection: never the old answer.
        assert eventually(
            lambda: listener.current(lambda: session), lambda version: version == second
        ) == second
    assert eventually(lambda: _known(listener), lambda known: known == second) == second
    assert listener._connection.info.backend_pid != backend
