"""Share requests, decisions, signed permission records and tracked share links."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The readers' share form and permission records, and the staff's sharing pages."""
    from syndicate.sharing import dashboard_views, views
    from syndicate.web.fastpath import fast_path

    app.register_blueprint(views.public)
    app.register_blueprint(dashboard_views.dashboard)
    fast_path(app).add("/s/", views.fast_follow(app))
