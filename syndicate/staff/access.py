"""Who is asking: the signed-in staff member (session) or an API token (bearer)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.staff.models import User
from syndicate.staff.services import (
    authenticate_api_token,
    end_session,
    session_user,
    start_session,
)
from syndicate.web.models import Alert
from syndicate.web.services import open_alerts


def current_user() -> User | None:
    """The signed-in staff member, looked up on first use: a feed never pays for it."""
    if "user" not in g:
        g.user = _signed_in_user()
    user: User | None = g.user
    return user


def signed_in_user() -> User:
    """The staff member of a view behind ``login_required``, who is there by then."""
    user = current_user()
    assert user is not None, "signed_in_user() outside login_required"
    return user


def without_sign_in() -> None:
    """Answer the rest of this request as whoever is known so far, asking the database nothing.

    For the page that says the database is unreachable.
    """
    g.setdefault("user", None)


# The browser's key to its server-side session (staff.models.StaffSession).
SESSION_KEY = "staff_session"


def log_in(user: User) -> None:
    """Start a session for ``user`` in this browser; the caller commits."""
    raw = start_session(
        get_session(), user, now=app_now(), lifetime=current_app.config["SESSION_LIFETIME"]
    )
    session.clear()  # nothing from before the sign-in carries over (session fixation)
    session[SESSION_KEY] = raw
    session.permanent = True
    g.user = user


def log_out() -> None:
    """End this browser's session on the server, so a copy of its cookie is refused too."""
    raw = session.get(SESSION_KEY)
    if isinstance(raw, str):
        end_session(get_session(), raw)
    session.clear()
    g.user = None


def _signed_in_user() -> User | None:
    # Only a request that carries a staff session asks the database: one indexed lookup.
    raw = session.get(SESSION_KEY)
    if raw is None:
        return None
    user = session_user(get_session(), raw, now=app_now()) if isinstance(raw, str) else None
    if user is None:
        session.clear()
    return user


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return redirect(url_for("staff.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    # Read by the authorisation matrix (tests/web/test_authorization.py).
    wrapped.login_only = True  # type: ignore[attr-defined]
    return wrapped


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None or not user.is_admin:
            abort(403, "Only an administrator can do that.")
        return view(*args, **kwargs)

    wrapped.admin_only = True  # type: ignore[attr-defined]
    return wrapped


def bearer_token_user(db: Session) -> User | None:
    """The user of the request's bearer API token, its use noted; the caller commits.

    For the token endpoints outside the JSON API's pipeline (which authenticates in
    api/handling.py); the session cookie is never read here.
    """
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not raw:
        return None
    user = authenticate_api_token(db, raw.strip(), now=app_now())
    if user is not None:
        g.user = user
    return user


def unauthorized() -> Response:
    from syndicate.web.errors import error_response

    response = error_response(401, "A valid API token is required (Authorization: Bearer ...).")
    response.headers["WWW-Authenticate"] = 'Bearer realm="syndicate"'
    return response


class _OpenAlerts:
    """The signed-in user's alerts, queried only if the page lists them (error pages don't)."""

    def __init__(self, user: User | None) -> None:
        self.user = user

    def __iter__(self) -> Iterator[Alert]:
        if self.user is None:
            return iter(())
        return iter(open_alerts(get_session(), self.user.id))


def init_app(app: Flask) -> None:
    # The cookie lasts as long as the session it names (Flask's default is 31 days).
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config["SESSION_LIFETIME"]

    @app.context_processor
    def _inject() -> dict[str, Any]:
        user = current_user()
        return {"current_user": user, "staff_alerts": _OpenAlerts(user)}
