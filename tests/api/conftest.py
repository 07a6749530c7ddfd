"""API fixtures: a bearer token, a client that sends it, a LinkedIn target to post to."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from syndicate import create_app
from syndicate.staff.services import create_api_token
from tests.conftest import app_config


class Api:
    """The test client with a bearer token and JSON helpers."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.token = token

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def get(self, path: str, **kwargs: Any):  # noqa: ANN201
        return self.client.get("/api/v1" + path, headers=self.headers(kwargs.pop("headers", None)),
                               **kwargs)

    def send(self, method: str, path: str, body: Any = None, *, key: str | None = None,
             **kwargs: Any):  # noqa: ANN201
        extra = dict(kwargs.pop("headers", None) or {})
        if key is not None:
            extra["Idempotency-Key"] = key
        if body is not None and "data" not in kwargs:
            kwargs["data"] = json.dumps(body)
            kwargs.setdefault("content_type", "application/json")
        return self.client.open("/api/v1" + path, method=method, headers=self.headers(extra),
                                **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any):  # noqa: ANN201
        return self.send("POST", path, body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any):  # noqa: ANN201
        return self.send("PATCH", path, body, **kwargs)


@pytest.fixture
def api_user(make_user):  # noqa: ANN001, ANN201
    return make_user(email="api@example.test", time_zone="Europe/Berlin")


@pytest.fixture
def token(session, api_user, clock) -> str:  # noqa: ANN001
    _token, raw = create_api_token(session, api_user, "tests", now=clock.now())
    session.commit()
    return raw


@pytest.fixture
def api(client: FlaskClient, token: str) -> Api:
    return Api(client, token)


@pytest.fixture
def target(make_connection, make_target, clock):  # noqa: ANN001, ANN201
    """A connected target; nothing is sent, so the token need not be a real one."""
    connection = make_connection(
        name="Ada API",
        expires_at=clock.now() + timedelta(days=50),
        scopes="openid profile w_member_social",
    )
    return make_target(
        connection=connection,
        urn="urn:li:person:api-member",
        display_name="Ada API",
        time_zone="Europe/Berlin",
    )


@pytest.fixture
def fresh_app(fresh_database: str, tmp_path: Path) -> Iterator[Flask]:
    """An app on a committed database of its own, for tests with several threads."""
    app = create_app(app_config(fresh_database, INSTANCE_PATH=str(tmp_path / "instance")))
    yield app
    app.extensions["database"].engine.dispose()
