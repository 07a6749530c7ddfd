"""Feeds for subscribers: RSS 2.0, Atom 1.0 and JSON Feed 1.1, archives, OPML and WebSub."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """The feed cache's counters on /metrics."""
    from syndicate.feeds import metrics as feeds_metrics
    from syndicate.web import metrics

    metrics.register_counters(app, feeds_metrics.cache_counters(app), feeds_metrics.HELP)
