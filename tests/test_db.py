"""Pooled PostgreSQL connections: pinged only after sitting idle; one that died anyway costs
the request that meets it a 503, and the next request connects afresh."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from syndicate import create_app, migrate
from syndicate.db import make_engine
from tests.conftest import _new_database, app_config


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    url, drop = _new_database("postgresql", request, tmp_path)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    drop()


def _kill_other_backends(url: str) -> None:
    """What a server restart or a proxy's idle timeout does to pooled connections."""
    killer = make_engine(url)
    with killer.connect() as connection:
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    killer.dispose()


def _backend(engine) -> int:  # noqa: ANN001
    with engine.connect() as connection:
        return connection.scalar(text("SELECT pg_backend_pid()"))


def test_a_connection_left_idle_is_pinged_and_replaced_if_it_died(postgres_url):
    engine = make_engine(postgres_url, ping_after_idle=0.0, pool_size=1, max_overflow=0)
    try:
        first = _backend(engine)
        _kill_other_backends(postgres_url)
        assert _backend(engine) != first  # no error reached the caller
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged_and_its_death_costs_one_503(
    postgres_url, tmp_path
):
    engine = make_engine(postgres_url, ping_after_idle=3600.0, pool_size=1, max_overflow=0)
    app = create_app(
        app_config(postgres_url, ENGINE=engine, INSTANCE_PATH=str(tmp_path / "instance"))
    )
    client = app.test_client()
    try:
        assert client.get("/").status_code == 200
        _kill_other_backends(postgres_url)
        lost = client.get("/")
        assert lost.status_code == 503
        assert lost.headers["Retry-After"] == "1"
        assert "Please try again" in lost.get_data(as_text=True)
        assert "Traceback" not in lost.get_data(as_text=True)
        assert client.get("/").status_code == 200
    finally:
        engine.dispose()
