"""LinkedIn: OAuth connections, the HTTP client, post statistics and little-text escaping."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """OAuth with LinkedIn, the connections pages, and the connections' gauges on /metrics."""
    from syndicate.linkedin import metrics as linkedin_metrics
    from syndicate.linkedin import oauth, views
    from syndicate.web import metrics

    oauth.init_app(app)
    app.register_blueprint(views.bp)
    metrics.register_gauges(app, linkedin_metrics.gauges, linkedin_metrics.HELP)
