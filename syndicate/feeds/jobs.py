"""The WebSub scheduler tick: run our own hub, or ping the configured external one."""

from __future__ import annotations

from typing import Any

from flask import Flask

from syndicate.db import get_database
from syndicate.feeds import websub
from syndicate.feeds.services import FeedSettings
from syndicate.fetch import Fetcher


def deliver_websub(app: Flask, *, poster: websub.Poster | None = None) -> str:
    """Verify subscriptions, queue deliveries for changed feeds and send what is due; with
    SYNDICATE_WEBSUB_HUB set, queue and send publish pings to that hub instead."""
    settings = FeedSettings.from_config(app.config)
    poster = poster or Fetcher.from_config(app.config)  # type: ignore[assignment]
    clock = app.extensions["clock"]
    if app.config.get("WEBSUB_HUB"):
        return _ping_external_hub(app, poster, settings, clock)
    result = websub.run_hub(get_database(app), poster, settings, now=clock.now())
    return ", ".join(f"{name} {count}" for name, count in result.items() if count)


def _ping_external_hub(app: Flask, poster: Any, settings: FeedSettings, clock: Any) -> str:
    from syndicate import outbox

    queued = websub.queue_pings(get_database(app), settings, now=clock.now())

    def handle(_app: Flask, payload: dict[str, Any]) -> str:
        return websub.ping_hub(poster, str(payload["hub"]), str(payload["topic"]))

    drained = outbox.drain(
        app,
        kinds=[websub.PING_KIND],
        handlers={websub.PING_KIND: handle},
        owner=outbox.new_owner("websub"),
        now_fn=clock.now,
    )
    if not queued and not drained:
        return ""
    return f"pings queued {queued}, {drained}"
