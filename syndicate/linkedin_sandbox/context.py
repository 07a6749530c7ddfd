"""What every route module of the sandbox shares: its Flask app, whose ``state`` is its whole
world, the running sandbox's state, and JSON and empty responses."""

from __future__ import annotations

from typing import Any, cast

from flask import Flask, Response, current_app, jsonify

from syndicate.linkedin_sandbox.state import SandboxState


class SandboxApp(Flask):
    """The sandbox's Flask app; `state` is its whole world."""

    state: SandboxState


def current_state() -> SandboxState:
    """The running sandbox's state."""
    return cast(SandboxApp, current_app).state


def json_response(body: Any, status: int = 200) -> Response:
    """A JSON response with a status."""
    response = jsonify(body)
    response.status_code = status
    return response


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """A response with an empty body."""
    return Response(b"", status=status, headers=headers or {})
