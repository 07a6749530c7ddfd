"""Logs as text or JSON lines, a request id on every request, and secrets kept out.

``SYNDICATE_LOG_FORMAT=json`` writes one JSON object per line to standard error: ``time``
(UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``, ``pid``, and for the
access line (logger ``syndicate.access``) ``method``, ``path``, ``route``, ``status`` and
``duration_ms``; an exception arrives as the string field ``exc_info``. The default, text,
is the same information on one human-readable line.

Every request gets an id: a sane incoming ``X-Request-ID`` (``[A-Za-z0-9._-]{1,64}``, as a
proxy sets it) or a new one; it is in every line logged while serving the request and in
the ``X-Request-ID`` response header.

Secrets stay out: no header is logged, paths never carry their query string, path
arguments that hold tokens or codes are replaced, and the formatter masks bearer tokens,
``password=``/``token=``-style pairs, credentials in URLs and private reader links in
whatever message it is given.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

ACCESS = logging.getLogger("syndicate.access")
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_ENVIRON = "HTTP_X_REQUEST_ID"
_INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Path arguments whose values grant access (reader links, share codes, tokens).
_SECRET_ARGUMENT = re.compile(r"token|secret|code|key|signature", re.IGNORECASE)
REDACTED = "[redacted]"
_SCRUBS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + REDACTED),
    (re.compile(r"(?i)(authorization[\"']?\s*[=:]\s*[\"']?\w+\s+)[^\s\"',;]+"), r"\1" + REDACTED),
    (
        re.compile(
            r"(?i)\b((?:access_token|refresh_token|id_token|client_secret|password|passwd|"
            r"api_key|secret_key|token_keys)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;]+"
        ),
        r"\1" + REDACTED,
    ),
    # Query-string parameters that carry one-time secrets (OAuth code and state, tokens).
    (re.compile(r"(?i)([?&](?:token|code|state|key|signature)=)[^&\s#\"']+"), r"\1" + REDACTED),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@:]*:[^/\s@]*@"), r"\1" + REDACTED + "@"),
    (re.compile(r"(/sharing/r/|/s/)[^/?#\s\"']+"), r"\1" + REDACTED),
)
# Something each pattern above needs to match: most lines (every access line but a share
# link's) have none, and one search is cheaper than every substitution finding nothing.
_MAY_HOLD_SECRET = re.compile(
    r"(?i)bearer|authorization|token|secret|passw|api_key|[?&](?:code|state|key|signature)="
    r"|://|/s/|/sharing/r/"
)
# Standard LogRecord attributes; anything else a caller passes in `extra` is a field.
_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "request_id"}
)


def scrub(text: str) -> str:
    """The text with bearer tokens, secret parameters, URL credentials and reader links masked."""
    if not _MAY_HOLD_SECRET.search(text):
        return text
    for pattern, replacement in _SCRUBS:
        text = pattern.sub(replacement, text)
    return text


def _utc_iso(created: float) -> str:
    moment = datetime.fromtimestamp(created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class RequestIdFilter(logging.Filter):
    """Gives every record the id of the request being served (None outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
            "pid": record.process,
        }
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_"):
                entry[name] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["exc_info"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """A readable line: UTC time, level, logger, request id, message."""

    # A static method: a plain function here would be bound, and get the formatter first.
    converter = staticmethod(time.gmtime)

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
            datefmt="%Y-%m-%dT%H:%M:%SZ",
        )

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = None
        return scrub(super().format(record))


def dict_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """A logging.config dictionary; gunicorn.conf.py hands the same one to gunicorn."""
    if log_format not in {"text", "json"}:
        raise ValueError(f"log format must be text or json, not {log_format!r}")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"text": {"()": TextFormatter}, "json": {"()": JsonFormatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # gunicorn's own loggers go through the same handler; its access log is off
            # because syndicate.access writes one line per request with the request id.
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
            # The development server's own access lines would repeat ours (with queries).
            "werkzeug": {"level": "WARNING"},
            "apscheduler": {"level": "WARNING"},
        },
    }


def configure_logging(config: Mapping[str, Any]) -> None:
    """Set up the process's logging from LOG_FORMAT and LOG_LEVEL (CLI entry points)."""
    logging.config.dictConfig(
        dict_config(str(config.get("LOG_FORMAT") or "text"), str(config.get("LOG_LEVEL") or "INFO"))
    )


def current_request_id() -> str | None:
    if not has_request_context():
        return None
    request_id: str | None = g.get("request_id")
    return request_id


def request_id_from(environ: Mapping[str, Any]) -> str:
    """A sane incoming X-Request-ID, else a new id."""
    # Straight from the WSGI environ: building the header mapping costs more than the id.
    incoming = environ.get(_REQUEST_ID_ENVIRON, "")
    return incoming if _INCOMING_ID.fullmatch(incoming) else new_request_id()


def _start_request() -> None:
    g.request_id = request_id_from(request.environ)
    g.request_started = time.perf_counter()


def new_request_id() -> str:
    """32 random hex digits (as uuid4().hex was, at a fifth of its cost)."""
    return os.urandom(16).hex()


def _loggable_path() -> str:
    """The path without its query, with secret-bearing path arguments replaced."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if _SECRET_ARGUMENT.search(name) and isinstance(value, str) and value:
            path = path.replace(value, REDACTED)
    return path


def _finish_request(response: Response) -> Response:
    request_id = g.get("request_id") or new_request_id()
    response.headers[REQUEST_ID_HEADER] = request_id
    started = g.get("request_started")
    if ACCESS.isEnabledFor(logging.INFO):
        rule = request.url_rule
        log_access(
            request.method,
            _loggable_path(),
            rule.rule if rule is not None else None,
            response.status_code,
            started,
            request_id,
        )
    return response


def log_access(
    method: str, path: str, route: str | None, status: int, started: float | None, request_id: str
) -> None:
    """The access line of one request (every answer has one, Flask's or the fast path's)."""
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started else None
    ACCESS.info(
        "%s %s %s %sms",
        method,
        path,
        status,
        duration_ms,
        extra={
            "method": method,
            "path": path,
            "route": route,
            "status": status,
            "duration_ms": duration_ms,
            "request_id": request_id,
        },
    )


def init_app(app: Flask) -> None:
    """Give every request an id (first of all hooks) and log one access line per request."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)
