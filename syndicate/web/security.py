"""Security headers, CSRF, proxy trust and safe redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

csrf = CSRFProtect()


class _Limiter(Limiter):
    """Flask-Limiter, without its evaluation of a request that a request filter exempts.

    For such a request it finds no limit once a filter says so, then still walks its meta
    limits and exemption scopes and keeps a context for the response hook: about a third
    of a cached feed's cost. With no meta limit configured, that walk cannot refuse it.
    """

    def _check_request_limit(
        self, callable_name: str | None = None, in_middleware: bool = True
    ) -> None:
        if in_middleware and not self._meta_limits and any(f() for f in self._request_filters):
            return
        super()._check_request_limit(callable_name, in_middleware)


# One limiter for the process; each app's init_app gives it that app's storage
# (SYNDICATE_RATELIMIT_STORAGE_URI: memory:// per process, redis:// shared by all workers).
# The key is the client address as ProxyFix leaves it, so X-Forwarded-For is only believed
# from as many proxies as SYNDICATE_PROXY_FIX_X_FOR says.
limiter = _Limiter(
    key_func=get_remote_address,
    headers_enabled=True,
    strategy="moving-window",
    in_memory_fallback_enabled=True,
)

CSP = (
    "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    limiter.init_app(app)
    hops = app.config["PROXY_FIX_X_FOR"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    defaults = security_headers(production=app.config["ENV"] == "production")

    @app.after_request
    def _headers(response: Response) -> Response:
        # One pass over the response's headers instead of a lookup per default: a view's
        # own value (a private page's Referrer-Policy) wins, as with setdefault.
        present = {name.lower() for name in response.headers.keys()}
        response.headers.extend([header for header in defaults if header[0].lower() not in present])
        return response


def security_headers(*, production: bool) -> tuple[tuple[str, str], ...]:
    """The headers every answer carries unless its view set its own."""
    headers: tuple[tuple[str, str], ...] = (
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    )
    if production:
        headers += (("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),)
    return headers


def safe_next(target: str | None, default: str) -> str:
    """A local path to go to after login; anything pointing elsewhere gives the default."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target
