"""The JSON API at /api/v1: bearer tokens, pydantic schemas, a generated OpenAPI 3.1 document."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The JSON API; bearer tokens, not cookies, so no CSRF token."""
    from syndicate.api import views
    from syndicate.web.security import csrf

    app.register_blueprint(views.bp)
    csrf.exempt(views.bp)
