"""Webhook work of the scheduler: turn events into deliveries, then send what is due."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask

from syndicate import events, outbox
from syndicate.crypto import TokenVault
from syndicate.db import Database, get_database
from syndicate.fetch import Fetcher, FetchError, HttpStatusError
from syndicate.webhooks import services
from syndicate.webhooks.models import EVENT_KINDS, OUTBOX_KIND

SUBSCRIBER = "webhooks"
MAX_BATCHES = 50


class DeliveryFailed(Exception):
    """The receiver did not take the delivery; the outbox retries it later."""


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
    return deliver(
        get_database(app),
        delivery_id,
        vault=app.extensions["token_vault"],
        fetcher=app.extensions["fetcher"],
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


def deliver(
    database: Database,
    delivery_id: int,
    *,
    vault: TokenVault,
    fetcher: Fetcher,
    now_fn: Callable[[], datetime],
) -> str:
    """One attempt at one delivery (the outbox handler); raises to have the outbox retry."""
    with database.transaction() as session:
        send = services.prepare_send(session, delivery_id, vault=vault, now=now_fn())
    if isinstance(send, str):
        return send
    headers = services.request_headers(send, now=now_fn())
    started = time.monotonic()
    status: int | None = None
    snippet = error = ""
    try:
        answer = fetcher.post(send.url, data=send.body, headers=headers)
        status = answer.status
        snippet = answer.body[: services.SNIPPET].decode("utf-8", "replace")
    except HttpStatusError as exc:
        status, error = exc.status, str(exc)
    except FetchError as exc:
        error = str(exc) or type(exc).__name__
    elapsed = int((time.monotonic() - started) * 1000)
    with database.write_transaction() as session:
        outcome = services.record_attempt(
            session,
            send,
            status=status,
            snippet=snippet,
            error=error,
            elapsed_ms=elapsed,
            now=now_fn(),
        )
    if outcome == "delivered":
        return f"delivered: HTTP {status}"
    if outcome == "gone":
        raise outbox.PermanentFailure("the receiver answered 410 Gone; the endpoint is deactivated")
    raise DeliveryFailed(error or f"HTTP {status}")
