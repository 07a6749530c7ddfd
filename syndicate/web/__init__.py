"""Layout, errors, security headers, health and metrics."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """What every page shares: converters, security, errors, logs, metrics, templates, health."""
    from syndicate.web import (
        converters,
        errors,
        fastpath,
        metrics,
        security,
        sessions,
        templating,
        views,
    )
    from syndicate.web import logging as web_logging

    converters.init_app(app)  # before any blueprint: rules are parsed when registered
    fastpath.init_app(app)  # before security: ProxyFix must wrap it
    security.init_app(app)
    sessions.init_app(app)
    errors.init_app(app)
    web_logging.init_app(app)
    metrics.init_app(app)
    templating.init_app(app)
    app.register_blueprint(views.bp)
