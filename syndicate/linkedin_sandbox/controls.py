"""The sandbox's test controls (contract section K): switches, queued faults, tokens, versions,
the clock, and the stored posts, under /sandbox/control/ (the page shows the same state)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import timedelta
from typing import Any, cast

from flask import Blueprint, Response, request

from syndicate.linkedin_sandbox import rest
from syndicate.linkedin_sandbox.context import current_state, empty_response, json_response
from syndicate.linkedin_sandbox.state import Post, SandboxState

bp = Blueprint("sandbox_controls", __name__)


def describe(state: SandboxState) -> dict[str, Any]:
    """The switches, versions, clock, queued faults and counters."""
    with state.lock:
        return {
            "switches": asdict(state.switches),
            "active_versions": sorted(state.active_versions()),
            "versions_rolling": state.explicit_versions is None,
            "now": state.now().isoformat(),
            "clock_offset_seconds": state.clock_offset.total_seconds(),
            "token_delay_seconds": state.token_delay.total_seconds(),
            "signed_in": state.signed_in,
            "faults": [asdict(f) for f in state.faults],
            "token_calls": dict(state.token_calls),
            "posts": len(state.posts),
            "tokens": len(state.tokens),
            "images": len(state.images),
        }


def control_post_json(state: SandboxState, post: Post) -> dict[str, Any]:
    """A stored post for the controls: the API view plus what the sandbox knows besides."""
    return {
        **rest.post_json(post),
        "sentCommentary": post.commentary,
        "renderedCommentary": post.text.rendered,
        "cutAt": post.text.cut_at,
        "authorName": state.author_name(post.author),
        "deleted": post.deleted_at is not None,
    }


def _control_body() -> dict[str, Any]:
    """The control request's JSON object ({} when empty)."""
    body = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def _control(view: Callable[..., Response]) -> Callable[..., Response]:
    """Answer a control request's bad input with 400 {"error": …}."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)

    return wrapper


def _number(body: dict[str, Any], name: str) -> float:
    """A numeric field of a control request."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


@bp.get("/sandbox/control/state")
@_control
def control_state() -> Response:
    """Everything switchable, at a glance."""
    return json_response(describe(current_state()))


@bp.post("/sandbox/control/reset")
@_control
def control_reset() -> Response:
    """Back to a fresh sandbox."""
    current_state().reset()
    return json_response(describe(current_state()))


@bp.post("/sandbox/control/switches")
@_control
def control_switches() -> Response:
    """Set switches, e.g. {"auto_consent": true, "partner": true}."""
    return json_response(asdict(current_state().set_switches(**_control_body())))


@bp.get("/sandbox/control/faults")
@_control
def control_faults() -> Response:
    """The queued faults."""
    return json_response(describe(current_state())["faults"])


@bp.post("/sandbox/control/faults")
@_control
def control_add_fault() -> Response:
    """Queue a fault: {"path": "/rest/posts", "kind": "429", "count": 1, "method", "seconds"}."""
    body = _control_body()
    path, kind = body.get("path"), body.get("kind")
    if not isinstance(path, str) or not isinstance(kind, str):
        raise ValueError("path and kind are required strings")
    method = body.get("method")
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool):
        raise ValueError("count must be an integer")
    seconds = _number(body, "seconds") if "seconds" in body else 0.0
    fault = current_state().inject(
        path, kind, count=count, seconds=seconds, method=method if isinstance(method, str) else None
    )
    return json_response(asdict(fault), 201)


@bp.delete("/sandbox/control/faults")
@_control
def control_clear_faults() -> Response:
    """Drop every queued fault."""
    current_state().clear_faults()
    return empty_response(204)


def _token_arg(body: dict[str, Any]) -> str | None:
    """The optional token a control request names."""
    token = body.get("token")
    if token is not None and not isinstance(token, str):
        raise ValueError("token must be a string (or left out for every token)")
    return token


@bp.post("/sandbox/control/tokens/revoke")
@_control
def control_revoke() -> Response:
    """Revoke {"token": …}, or every token."""
    return json_response({"revoked": current_state().revoke_tokens(_token_arg(_control_body()))})


@bp.post("/sandbox/control/tokens/expire")
@_control
def control_expire() -> Response:
    """Expire {"token": …}, or every access token."""
    return json_response({"expired": current_state().expire_tokens(_token_arg(_control_body()))})


@bp.post("/sandbox/control/tokens/delay")
@_control
def control_token_delay() -> Response:
    """New tokens answer REVOKED_ACCESS_TOKEN for their first {"seconds": N}."""
    current_state().set_token_delay(_number(_control_body(), "seconds"))
    return json_response(describe(current_state()))


@bp.post("/sandbox/control/tokens/mint")
@_control
def control_mint() -> Response:
    """A token without the OAuth dance: {"scopes": [...], "sub": optional}."""
    body = _control_body()
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError("scopes must be a list of strings")
    state = current_state()
    sub = body.get("sub", state.signed_in)
    if sub not in state.members:
        raise ValueError(f"no member {sub!r}")
    return json_response({"access_token": state.mint_token(scopes, sub=sub)}, 201)


@bp.post("/sandbox/control/versions")
@_control
def control_versions() -> Response:
    """{"active": ["202611", …]}, or {"active": null} for the rolling twelve months."""
    active = _control_body().get("active")
    if active is not None and not isinstance(active, list):
        raise ValueError("active must be a list of YYYYMM strings or null")
    current_state().set_active_versions(cast(Iterable[str] | None, active))
    return json_response(describe(current_state()))


@bp.post("/sandbox/control/clock")
@_control
def control_clock() -> Response:
    """{"offset_seconds": N} sets the offset; {"advance_seconds": N} moves time on."""
    body = _control_body()
    state = current_state()
    if "offset_seconds" in body:
        state.set_clock_offset(timedelta(seconds=_number(body, "offset_seconds")))
    if "advance_seconds" in body:
        state.advance_clock(timedelta(seconds=_number(body, "advance_seconds")))
    return json_response(describe(state))


@bp.post("/sandbox/control/sign-in")
@_control
def control_sign_in() -> Response:
    """Choose the member who answers consent pages: {"sub": …}."""
    sub = _control_body().get("sub")
    if not isinstance(sub, str):
        raise ValueError("sub must be a string")
    current_state().sign_in(sub)
    return json_response(describe(current_state()))


@bp.get("/sandbox/control/posts")
@_control
def control_posts() -> Response:
    """Every stored post, deleted ones too, newest first."""
    state = current_state()
    return json_response({"elements": [control_post_json(state, p) for p in state.post_list()]})
