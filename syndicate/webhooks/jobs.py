"""Webhook work of the scheduler: turn events into deliveries, then send what is due."""

from __future__ import annotations

from typing import Any

from flask import Flask

from syndicate import events, outbox
from syndicate.db import get_database
from syndicate.fetch import Fetcher
from syndicate.webhooks import services
from syndicate.webhooks.models import EVENT_KINDS, OUTBOX_KIND

SUBSCRIBER = "webhooks"
MAX_BATCHES = 50


def enqueue_webhook_deliveries(app: Flask) -> str:
    """One delivery per new subscribed event and matching endpoint (the events consumer)."""
    database = get_database(app)
    now = app.extensions["clock"].now()
    queued = 0

    def handle(session: Any, event: events.Event) -> None:
        nonlocal queued
        queued += services.fan_out(session, event, now=now)

    for _ in range(MAX_BATCHES):
        if not events.consume(database, SUBSCRIBER, handle, kinds=EVENT_KINDS, now=now):
            break
    return f"webhooks: {queued} deliveries queued" if queued else ""


def send_webhook(app: Flask, payload: dict[str, Any]) -> str:
    """The outbox handler for ``webhook.deliver``."""
    try:
        delivery_id = int(payload["delivery_id"])
    except (KeyError, TypeError, ValueError):
        raise outbox.PermanentFailure("the message names no delivery") from None
    return services.deliver(
        get_database(app),
        delivery_id,
        vault=app.extensions["token_vault"],
        fetcher=Fetcher.from_config(app.config),
        now_fn=app.extensions["clock"].now,
    )


def deliver_webhooks(app: Flask) -> str:
    """Send the webhook deliveries that are due; a summary for the log, empty if none."""
    result = outbox.drain(
        app,
        kinds=[OUTBOX_KIND],
        handlers={OUTBOX_KIND: send_webhook},
        owner=outbox.new_owner("webhooks"),
        now_fn=app.extensions["clock"].now,
    )
    return f"webhooks: {result}" if result else ""
