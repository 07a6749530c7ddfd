"""The publication itself: its name as an administrator sets it in the dashboard, and the
first-run checklist on the dashboard's home."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from syndicate.publication import naming, views

    naming.init_app(app)
    app.register_blueprint(views.bp)
