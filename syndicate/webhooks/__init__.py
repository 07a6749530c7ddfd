"""Outgoing webhooks: signed POSTs of events to receivers staff register."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The webhooks pages."""
    from syndicate.webhooks import views

    app.register_blueprint(views.bp)
