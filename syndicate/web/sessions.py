"""Flask's signed-cookie session, minus the work a request without the cookie never needed.

Flask builds a signing serializer on every request, before it even looks for the cookie,
and reads six cookie settings on every response, even when there is nothing to write. Most
requests (feeds, share links, public pages) carry no session cookie, so here the serializer
is built once per key and a request without a cookie, whose session stays empty, costs
nothing beyond the cookie lookup. Sessions that exist behave exactly as Flask's.
"""

from __future__ import annotations

from flask import Flask, Request, Response
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer


class LeanCookieSessionInterface(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializer: tuple[tuple[object, ...], URLSafeTimedSerializer | None] | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        # Keyed by the keys themselves: a changed SECRET_KEY (tests) gets a new serializer.
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached = self._serializer
        if cached is None or cached[0] != keys:
            cached = self._serializer = (keys, super().get_signing_serializer(app))
        return cached[1]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if not request.cookies.get(self.get_cookie_name(app)) and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified:
            # What Flask does for an empty, untouched session, without its cookie settings.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = LeanCookieSessionInterface()
