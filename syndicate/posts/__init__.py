"""LinkedIn posts: composing, scheduling, queue slots, auto-post rules and the dispatcher."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The posts pages (analytics included), and the posts' gauges on /metrics."""
    from syndicate.posts import analytics, views
    from syndicate.posts import metrics as posts_metrics
    from syndicate.web import metrics

    app.register_blueprint(views.bp)
    app.register_blueprint(analytics.bp)
    metrics.register_gauges(app, posts_metrics.gauges, posts_metrics.HELP)
