"""LinkedIn: OAuth connections, the HTTP client, post statistics and little-text escaping."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Connections' gauges on /metrics."""
    from syndicate.linkedin import metrics as linkedin_metrics
    from syndicate.web import metrics

    metrics.register_gauges(app, linkedin_metrics.gauges, linkedin_metrics.HELP)
