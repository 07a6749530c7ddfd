"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

- ``database_url`` (per session, parametrised): a database of the test run's own, migrated
  to head with the real Alembic scripts, dropped at the end.
- ``connection`` / ``session`` / ``app`` / ``client`` / ``runner``: one outer transaction per
  test, rolled back afterwards; the app's sessions join it through savepoints, so code that
  commits still leaves nothing behind.
- ``fresh_database``: a committed, empty-but-migrated database for tests that start other
  threads or processes (live server, scheduler processes).
- ``make_user``, ``make_article``, ``make_connection``, ``make_target``, ``make_sandbox_target``,
  ``make_post``, ``staff_user``, ``admin``: tests/factories.py bound to the test's session and
  clock; targets and posts are committed, as the pages that make them would.

PostgreSQL runs when SYNDICATE_TEST_DATABASE_URL is set, Chromium when SYNDICATE_TEST_BROWSER
names its binary; otherwise those tests skip with the reason, and under CI=true they fail.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from syndicate import create_app, migrate
from syndicate.clock import FixedClock
from syndicate.db import make_engine
from syndicate.staff.models import Role
from tests import factories

T = TypeVar("T")

pytest_plugins = ("tests.sandbox_fixtures",)

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_URL = os.environ.get("SYNDICATE_TEST_DATABASE_URL", "")
BROWSER = os.environ.get("SYNDICATE_TEST_BROWSER", "")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def missing_service(reason: str) -> None:
    """Skip on a laptop; fail in CI, where every service must be there."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


class PostgresDatabases:
    """Creates and drops databases of the test run's own beside the configured one."""

    def __init__(self, url: str) -> None:
        self.url = make_url(
            url
            if "+" in url.split("://")[0]
            else url.replace("postgresql://", "postgresql+psycopg://", 1)
        )
        self.admin = create_engine(self.url, isolation_level="AUTOCOMMIT")

    def create(self) -> str:
        name = f"syndicate_test_{os.getpid()}_{secrets.token_hex(4)}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabases]:
    if not PG_URL:
        missing_service("SYNDICATE_TEST_DATABASE_URL is not set, so PostgreSQL tests cannot run")
    databases = PostgresDatabases(PG_URL)
    try:
        with databases.admin.connect():
            pass
    except Exception as exc:  # noqa: BLE001
        databases.close()
        missing_service(f"PostgreSQL at SYNDICATE_TEST_DATABASE_URL is unreachable: {exc}")
    yield databases
    databases.close()


def _new_database(kind: str, request: pytest.FixtureRequest, directory: Path) -> tuple[str, object]:
    if kind == "sqlite":
        path = directory / f"{secrets.token_hex(4)}.db"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    databases: PostgresDatabases = request.getfixturevalue("postgres")
    url = databases.create()
    return url, lambda: databases.drop(url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url, drop = _new_database(request.param, request, tmp_path_factory.mktemp("db"))
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    drop()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


def url_is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite")


def eventually(
    probe: Callable[[], T], accept: Callable[[T], bool], *, timeout: float = 10.0
) -> T:
    """Call ``probe`` until ``accept`` takes its answer (for work other threads finish)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = probe()
        if accept(answer) or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def app_config(database_url: str, **overrides: object) -> dict[str, object]:
    config: dict[str, object] = {
        "ENV": "testing",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "TOKEN_KEYS": [Fernet.generate_key().decode()],
        # A fixed, obviously fake Ed25519 seed so signatures are reproducible in tests.
        "SHARING_SIGNING_KEY": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
        "SITE_URL": "https://news.example.test",
        "WTF_CSRF_ENABLED": False,
        "FETCH_ALLOW_PRIVATE": True,
        "SCHEDULER_TICK_SECONDS": 1,
    }
    config.update(overrides)
    return config


@pytest.fixture
def app_overrides() -> dict[str, object]:
    """Settings a test module wants changed; override this fixture to set them."""
    return {}


@pytest.fixture
def app(
    engine: Engine,
    connection: Connection,
    clock: FixedClock,
    database_url: str,
    tmp_path: Path,
    app_overrides: dict[str, object],
) -> Flask:
    app = create_app(
        app_config(
            database_url,
            ENGINE=engine,
            CLOCK=clock,
            INSTANCE_PATH=str(tmp_path / "instance"),
            **app_overrides,
        )
    )
    app.extensions["database"].sessions.configure(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    return app


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    with app.extensions["database"].sessions() as db_session:
        yield db_session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(session: Session, clock: FixedClock):  # noqa: ANN201
    def make(**overrides: object):  # noqa: ANN202
        return factories.make_user(session, now=clock.now(), **overrides)

    return make


@pytest.fixture
def make_article(session: Session, clock: FixedClock):  # noqa: ANN201
    def make(**overrides: object):  # noqa: ANN202
        return factories.make_article(session, now=clock.now(), **overrides)

    return make


@pytest.fixture
def login(client: FlaskClient, session: Session, clock: FixedClock):  # noqa: ANN201
    """Sign a user in on the test client without going through the form."""

    def sign_in(user) -> None:  # noqa: ANN001
        factories.sign_in(client, session, user, now=clock.now())

    return sign_in


@pytest.fixture
def staff_user(make_user, login):  # noqa: ANN001, ANN201
    """A staff member (make_user's overrides) signed in on the test client."""

    def make(**overrides: object):  # noqa: ANN202
        user = make_user(**overrides)
        login(user)
        return user

    return make


@pytest.fixture
def admin(make_user):  # noqa: ANN001, ANN201
    """An administrator in Europe/Berlin, not signed in."""
    return make_user(email="admin@example.test", role=Role.ADMIN, time_zone="Europe/Berlin")


@pytest.fixture
def make_connection(app: Flask, session: Session, clock: FixedClock):  # noqa: ANN201
    """Connections whose token is sealed with the app's keys; no one accepts it, none is sent."""
    vault = app.extensions["token_vault"]

    def make(**overrides: object):  # noqa: ANN202
        overrides.setdefault("access_token_encrypted", vault.encrypt("not-sent"))
        return factories.make_connection(session, now=clock.now(), **overrides)

    return make


@pytest.fixture
def make_target(session: Session, clock: FixedClock, make_connection):  # noqa: ANN001, ANN201
    """Targets, each on a connection of its own unless one is given; committed."""

    def make(**overrides: object):  # noqa: ANN202
        if overrides.get("connection") is None:
            overrides["connection"] = make_connection()
        target = factories.make_target(session, now=clock.now(), **overrides)
        session.commit()
        return target

    return make


@pytest.fixture
def make_sandbox_target(app: Flask, session: Session, clock: FixedClock, linkedin_sandbox):  # noqa: ANN001, ANN201
    """Targets of the sandbox's member, connected with a token the sandbox accepts; committed."""

    def make(**overrides: object):  # noqa: ANN202
        target = factories.make_sandbox_target(
            session,
            sandbox=linkedin_sandbox,
            vault=app.extensions["token_vault"],
            now=clock.now(),
            **overrides,
        )
        session.commit()
        return target

    return make


@pytest.fixture
def make_post(app: Flask, session: Session, clock: FixedClock):  # noqa: ANN201
    """Posts as the compose form makes them (factories.make_post), committed."""

    def make(**overrides: object):  # noqa: ANN202
        post = factories.make_post(
            session, now=clock.now(), site_url=app.config["SITE_URL"], **overrides
        )
        session.commit()
        return post

    return make


@pytest.fixture
def fresh_database(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[str]:
    """A migrated database of this test's own whose commits are real (for other threads)."""
    kind = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    url, drop = _new_database(kind, request, tmp_path)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    drop()


class LiveServer:
    """The app served over real HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app: Flask, port: int = 0) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def live_app(fresh_database: str, tmp_path: Path) -> Iterator[tuple[Flask, LiveServer]]:
    app = create_app(
        app_config(fresh_database, INSTANCE_PATH=str(tmp_path / "instance"), WTF_CSRF_ENABLED=True)
    )
    with LiveServer(app) as server:
        app.config["SITE_URL"] = server.url
        yield app, server
    app.extensions["database"].engine.dispose()


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Debian Chromium driven by Playwright."""
    if not BROWSER:
        missing_service("SYNDICATE_TEST_BROWSER is not set, so browser tests cannot run")
    if not Path(BROWSER).exists():
        missing_service(f"SYNDICATE_TEST_BROWSER={BROWSER} does not exist")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=BROWSER,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
