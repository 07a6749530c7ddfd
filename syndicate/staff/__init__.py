"""Staff users, roles, login and API tokens."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Sign-in on every request, the staff pages, and the API's token endpoints."""
    from syndicate.staff import access, views
    from syndicate.web.security import csrf

    access.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(views.api_bp)
    csrf.exempt(views.api_bp)
