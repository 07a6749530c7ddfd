"""The feeds' counters on /metrics: requests the rendered-feed cache answered, or not."""

from __future__ import annotations

from flask import Flask

from syndicate.web.metrics import Key, Source, key

HELP = {
    "syndicate_feed_cache_requests_total": (
        "Feed requests answered from the rendered-feed cache (hit) or rendered (miss)."
    ),
}


def cache_counters(app: Flask) -> Source:
    """Reads this process's feed cache (made on first use, so it may not exist yet)."""

    def read() -> dict[Key, float]:
        cache = app.extensions.get("feed_cache")
        if cache is None:
            return {}
        return {
            key("syndicate_feed_cache_requests_total", result="hit"): cache.hits,
            key("syndicate_feed_cache_requests_total", result="miss"): cache.misses,
        }

    return read
