"""Feeds for subscribers: RSS 2.0, Atom 1.0 and JSON Feed 1.1, archives, OPML and WebSub."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Feeds, the WebSub hub, the feeds page, and the feed cache's counters on /metrics."""
    from syndicate.feeds import metrics as feeds_metrics
    from syndicate.feeds import views
    from syndicate.web import metrics
    from syndicate.web.fastpath import fast_path
    from syndicate.web.security import csrf

    app.register_blueprint(views.bp)
    app.register_blueprint(views.dashboard)
    fast_path(app).add("/feeds/", views.fast_feed(app))
    # WebSub subscribers are other servers: they cannot hold a CSRF token.
    csrf.exempt(views.hub)
    metrics.register_counters(app, feeds_metrics.cache_counters(app), feeds_metrics.HELP)
