"""The request pipeline every API operation runs through.

Bearer token (never the cookie) → query parameters → JSON body (415, 413, 400, 422) →
Idempotency-Key claim → the view → response model → one commit. Views raise ``ApiError`` or a
domain error; they never commit, so the response stored for an Idempotency-Key commits in
the same transaction as the work it describes.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate.api import idempotency
from syndicate.api.errors import ApiError
from syndicate.api.registry import Operation
from syndicate.clock import app_now
from syndicate.db import get_database, get_session
from syndicate.errors import DomainError
from syndicate.staff.models import User
from syndicate.staff.services import authenticate_api_token

log = logging.getLogger(__name__)

JSON_TYPES = ("application/json",)
# What the API has always answered a refusal with (docs/api.md). The public share form's
# refusals (400 altered form, 410 used link, 429 too many requests) never reach the API; if
# one did, it would still answer 422 as before rather than a status the API never promised.
REFUSAL_STATUSES = frozenset({403, 409, 422})


def field_problems(error: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as {field, message, type}, one per field at fault."""
    problems: dict[str, dict[str, str]] = {}
    for item in error.errors(include_url=False, include_input=False):
        # Union members add their own names to the location ("target.int"); drop those.
        parts = [str(p) for p in item["loc"] if isinstance(p, int) or _is_field_name(str(p))]
        name = ".".join(parts) or "body"
        problems.setdefault(name, {"field": name, "message": item["msg"], "type": item["type"]})
    return list(problems.values())


_TYPE_TAGS = frozenset({"int", "str", "none", "bool", "float", "list", "dict", "datetime", "date"})


def _is_field_name(part: str) -> bool:
    """Field names are snake_case; union branches are tagged with type or model names."""
    return part.isidentifier() and not part[0].isupper() and part not in _TYPE_TAGS


def validation_error(error: ValidationError, *, where: str = "body") -> ApiError:
    status, code = (422, "validation_failed") if where == "body" else (400, "bad_query")
    noun = "request body" if where == "body" else "query string"
    return ApiError(status, f"The {noun} is not valid; see details.", code, field_problems(error))


def from_domain_error(exc: DomainError) -> ApiError:
    """A service's refusal as an API answer, with the status and code the error carries."""
    status = exc.status if exc.status in REFUSAL_STATUSES else 422
    return ApiError(status, exc.message, exc.code, exc.details())


# --- steps -----------------------------------------------------------------------------


def authenticate(session: Session) -> User:
    """The user of the bearer token; the session cookie is ignored on the API."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    user = None
    if scheme.lower() == "bearer" and raw.strip():
        user = authenticate_api_token(session, raw.strip(), now=app_now())
    if user is None:
        raise ApiError(
            401,
            "A valid API token is required (Authorization: Bearer …).",
            "unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="syndicate"'},
        )
    return user


def parse_query(model: type[BaseModel]) -> BaseModel:
    values: dict[str, str] = {}
    for name in request.args:
        given = request.args.getlist(name)
        if len(given) > 1:
            raise ApiError(400, f"Give {name!r} once.", "bad_query", [
                {"field": name, "message": "Repeated parameter.", "type": "repeated"}
            ])
        values[name] = given[0]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc, where="query") from None


def read_body(op: Operation) -> bytes:
    """The raw body, after checking its type; werkzeug answers 413 beyond MAX_CONTENT_LENGTH."""
    raw = request.get_data(cache=True)
    if not raw:
        if op.body_required:
            raise ApiError(415, "Send a JSON body with Content-Type: application/json.")
        return raw
    if request.mimetype not in JSON_TYPES:
        raise ApiError(415, "The body must be JSON, sent with Content-Type: application/json.")
    return raw


def parse_body(op: Operation, raw: bytes) -> BaseModel:
    assert op.body is not None
    try:
        return op.body.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "The body is not valid JSON.", "malformed_json") from None
        raise validation_error(exc) from None


def fingerprint(raw: bytes) -> str:
    """What a replay must match: method, path and the body (as parsed, when it parses)."""
    try:
        canonical = json.dumps(json.loads(raw or b"{}"), sort_keys=True, separators=(",", ":"))
        material = canonical.encode()
    except (ValueError, RecursionError):
        material = raw
    head = f"{request.method} {request.path}\n".encode()
    return hashlib.sha256(head + material).hexdigest()


def serialize(op: Operation, result: BaseModel | tuple[BaseModel, int]) -> Response:
    status = op.status
    if isinstance(result, tuple):
        result, status = result
    if not isinstance(result, op.response):
        raise TypeError(f"{op.endpoint} returned {type(result).__name__}, not {op.response}")
    return Response(result.model_dump_json(), status=status, mimetype="application/json")


# --- the pipeline ----------------------------------------------------------------------


def handler(op: Operation, view: Callable[..., Any]) -> Callable[..., Response]:
    @wraps(view)
    def handle(**path: Any) -> Response:
        try:
            return _handle(op, view, path)
        except ApiError as exc:
            get_session().rollback()
            return exc.response()

    return handle


def _writing(session: Session) -> None:
    """SQLite: take the write lock at BEGIN, so a read-then-write never fails as busy."""
    if not session.in_transaction():
        session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def _handle(op: Operation, view: Callable[..., Any], path: dict[str, Any]) -> Response:
    session = get_session()
    session.rollback()  # the cookie loader may have read; start clean
    _writing(session)
    user = authenticate(session)
    session.commit()
    g.user = user
    kwargs = dict(path)
    if op.query is not None:
        kwargs["query"] = parse_query(op.query)
    if not op.mutating:
        return serialize(op, view(**kwargs))

    raw = read_body(op)
    key = idempotency.key_from(request.headers)
    if key is None:
        response = _run(op, view, kwargs, raw, session)
        _commit(session)
        return response
    claim = idempotency.begin(
        get_database(),
        user_id=user.id,
        key=key,
        method=request.method,
        path=request.path,
        request_hash=fingerprint(raw),
        now=app_now(),
    )
    if isinstance(claim, idempotency.Stored):
        return claim.response()
    try:
        response = _run(op, view, kwargs, raw, session)
        if response.status_code >= 500:
            raise RuntimeError(f"{op.endpoint} answered {response.status_code}")
        if not idempotency.finish(session, claim, response, now=app_now()):
            session.rollback()
            raise ApiError(
                409,
                "Another request with this Idempotency-Key took over; retry to see its result.",
                "idempotency_in_progress",
            )
        _commit(session)
    except BaseException:
        session.rollback()
        idempotency.release(get_database(), claim)
        raise
    return response


def _run(
    op: Operation, view: Callable[..., Any], kwargs: dict[str, Any], raw: bytes, session: Session
) -> Response:
    """Validate the body and run the view; an error rolls the work back and becomes the answer."""
    try:
        body = parse_body(op, raw)
        _writing(session)
        try:
            result = view(**kwargs, body=body)
        except DomainError as exc:
            raise from_domain_error(exc) from None
        return serialize(op, result)
    except ApiError as exc:
        session.rollback()
        _writing(session)
        return exc.response()


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        log.info("API write lost a unique-constraint race: %s %s", request.method, request.path)
        raise ApiError(
            409, "That conflicts with a change made at the same moment; retry.", "conflict"
        ) from None
