"""Public GETs answered before Flask: cached feeds and tracked share links.

A cached feed hit, a 304 or a share-link redirect needs none of Flask's machinery: no
routing of the whole URL map, request context, session, CSRF, rate limiter or template.
Building them cost more than the answer itself (issue 15: a 304 took three times a bare
Flask route). A fast route sees the WSGI environ and answers, or declines by returning None
or raising ``Declined``; Flask then serves the request as before, with every hook.

Nothing a Flask answer carries is lost: this middleware gives every fast answer the request
id (``X-Request-ID``), the security headers, the access line and the request counter, with
the route label of the Flask rule that would have served it. It sits inside ProxyFix, so the
client address it sees is the one Flask would see. Fast routes must not change anything
before they know they answer: a declined request is served again, in full, by Flask.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

from werkzeug.http import HTTP_STATUS_CODES

from syndicate.web.logging import REQUEST_ID_HEADER, log_access, request_id_from
from syndicate.web.metrics import count_request
from syndicate.web.security import security_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from flask import Flask

log = logging.getLogger(__name__)

_STATUS_LINES = {code: f"{code} {phrase.upper()}" for code, phrase in HTTP_STATUS_CODES.items()}
# No body, and no Content-Length either (RFC 9110 8.6), as werkzeug answers them.
_WITHOUT_BODY = frozenset({204, 304})


class Declined(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by a fast route's collaborators when only the full Flask path can answer."""


def no_session() -> NoReturn:
    """A session source for fast routes: needing the database means Flask must serve."""
    raise Declined


@dataclass(frozen=True, slots=True)
class Answer:
    """A fast route's answer, and the Flask endpoint that would have given it."""

    endpoint: str
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes = b""
    # The path as the access line shows it (secret path arguments redacted); None: as asked.
    logged_path: str | None = None


FastRoute = Callable[["WSGIEnvironment"], Answer | None]


class FastPath:
    """WSGI middleware: GET and HEAD requests under a registered prefix try its route first."""

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._routes: list[tuple[str, FastRoute]] = []
        self._rules: dict[str, str] | None = None
        self._security = security_headers(production=app.config["ENV"] == "production")

    def add(self, prefix: str, route: FastRoute) -> None:
        """Let ``route`` try requests whose path starts with ``prefix`` (first match only)."""
        self._routes.append((prefix, route))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method == "GET" or method == "HEAD":
            path: str = environ.get("PATH_INFO", "")
            for prefix, route in self._routes:
                if path.startswith(prefix):
                    started = time.perf_counter()
                    answer = self._try(route, environ)
                    if answer is not None:
                        return self._send(answer, environ, start_response, started)
                    break
        return self.wsgi_app(environ, start_response)

    def _try(self, route: FastRoute, environ: WSGIEnvironment) -> Answer | None:
        try:
            return route(environ)
        except Declined:
            return None
        except Exception as exc:  # noqa: BLE001 (Flask serves it, and reports what fails there)
            log.warning("fast route failed (%s); Flask serves the request", type(exc).__name__)
            return None

    def _send(
        self,
        answer: Answer,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        started: float,
    ) -> Iterable[bytes]:
        request_id = request_id_from(environ)
        headers = list(answer.headers)
        body = answer.body
        if answer.status not in _WITHOUT_BODY:
            headers.append(("Content-Length", str(len(body))))
        else:
            body = b""
        headers.append((REQUEST_ID_HEADER, request_id))
        present = {name.lower() for name, _ in answer.headers}
        headers.extend(header for header in self._security if header[0].lower() not in present)
        method: str = environ["REQUEST_METHOD"]
        route = self._rule(answer.endpoint)
        count_request(self.app.extensions["metrics"], route, method, answer.status)
        log_access(
            method,
            answer.logged_path or environ.get("PATH_INFO", ""),
            route,
            answer.status,
            started,
            request_id,
        )
        start_response(_STATUS_LINES.get(answer.status, str(answer.status)), headers)
        return [] if method == "HEAD" else [body]

    def _rule(self, endpoint: str) -> str | None:
        rules = self._rules
        if rules is None:
            # Read once the app is built: every blueprint has registered its rules by then.
            rules = {}
            for rule in self.app.url_map.iter_rules():
                rules.setdefault(rule.endpoint, rule.rule)
            self._rules = rules
        return rules.get(endpoint)


def fast_path(app: Flask) -> FastPath:
    """The app's fast path (installed by web.init_app)."""
    found: FastPath = app.extensions["fast_path"]
    return found


def init_app(app: Flask) -> None:
    """Put the fast path in front of Flask, inside ProxyFix (web.init_app calls it first)."""
    middleware = FastPath(app, app.wsgi_app)
    app.extensions["fast_path"] = middleware
    app.wsgi_app = middleware  # type: ignore[method-assign]

