"""Email: queued in the outbox with the change that caused it, delivered over SMTP."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The mail pages (what was sent, and what waits)."""
    from syndicate.mail import views

    app.register_blueprint(views.mail)
