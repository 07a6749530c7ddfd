"""Share requests, decisions, signed permission records and tracked share links."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The readers' share form and permission records, and the staff's sharing pages."""
    from syndicate.sharing import dashboard_views, views

    app.register_blueprint(views.public)
    app.register_blueprint(dashboard_views.dashboard)
