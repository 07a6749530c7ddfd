"""Every error answers with a clear message: HTML for people, JSON for the API. No tracebacks."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from syndicate.db import discard_session
from syndicate.staff.access import without_sign_in

log = logging.getLogger(__name__)

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in.",
    403: "You are not allowed to do that.",
    404: "There is nothing here.",
    405: "That method is not allowed here.",
    409: "That conflicts with something that exists already.",
    413: "That is too large.",
    415: "That content type is not supported here.",
    422: "That could not be processed.",
    429: "Too many requests; please wait a moment.",
    500: "Something went wrong on our side; it has been logged.",
}


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def error_response(
    status: int, message: str | None = None, code: str | None = None, details: object | None = None
) -> Response:
    message = message or MESSAGES.get(status, "Error")
    if wants_json():
        body = {"error": {"code": code or _code(status), "message": message, "details": details}}
        response = jsonify(body)
    else:
        response = Response(
            # No staff alerts: an error page must not need the database.
            render_template("web/error.html", status=status, message=message, staff_alerts=()),
            mimetype="text/html",
        )
    response.status_code = status
    return response


def _code(status: int) -> str:
    return {
        400: "bad_request",
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        409: "conflict",
        413: "too_large",
        415: "unsupported_media_type",
        422: "unprocessable",
        429: "rate_limited",
    }.get(status, "error")


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Response:
        return error_response(
            400,
            "The form expired or was not sent from this site; reload the page and try again.",
            code="csrf",
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        if error.code is None or error.code < 400:
            return error  # type: ignore[return-value]
        message = error.description if error.code not in MESSAGES or _custom(error) else None
        response = error_response(error.code, message)
        if isinstance(error, MethodNotAllowed) and error.valid_methods:
            response.headers["Allow"] = ", ".join(error.valid_methods)
        return response

    @app.errorhandler(DBAPIError)
    def _database(error: DBAPIError) -> Response:
        if not database_unreachable(error):
            return _unexpected(error)
        # The pool has dropped the dead connection and every older one: a retry connects
        # afresh (see db._ping_connections_left_idle). The page itself needs no database:
        # the request's session is closed, and whoever was not looked up yet stays unnamed.
        log.warning(
            "database connection lost on %s %s: %s", request.method, request.path, error.orig
        )
        discard_session()
        without_sign_in()
        response = error_response(
            503, "We lost our connection to the database for a moment. Please try again."
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500)

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError) -> Response:
        log.error(
            "internal error on %s %s",
            request.method,
            request.path,
            exc_info=error.original_exception,
        )
        return error_response(500)


def database_unreachable(error: DBAPIError) -> bool:
    """A connection that died under a statement, or none to be had (PostgreSQL restarting)."""
    connecting = isinstance(error, OperationalError) and error.statement is None
    return bool(error.connection_invalidated) or connecting


def _custom(error: HTTPException) -> bool:
    """True when the code raising the error wrote its own message for the user."""
    return error.description != type(error).description
