"""The WebSub scheduler tick: run our own hub, or ping the configured external one.

Each step owns its transactions and keeps HTTP outside them: a challenge or a delivery is
read in one transaction, sent, and its outcome recorded in another, so a slow subscriber
never holds a row lock. The services in ``websub`` take a Session and never commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from syndicate import events
from syndicate.db import Database, get_database
from syndicate.feeds import websub
from syndicate.feeds.cache import ARTICLE_EVENT_KINDS
from syndicate.feeds.context import FeedSettings
from syndicate.fetch import FetchError, HttpStatusError


def deliver_websub(app: Flask, *, poster: websub.Poster | None = None) -> str:
    """Verify subscriptions, queue deliveries for changed feeds and send what is due; with
    SYNDICATE_WEBSUB_HUB set, queue and send publish pings to that hub instead."""
    settings = FeedSettings.from_config(app.config)
    poster = poster or app.extensions["fetcher"]
    clock = app.extensions["clock"]
    if app.config.get("WEBSUB_HUB"):
        return _ping_external_hub(app, poster, settings, clock)
    result = run_hub(get_database(app), poster, settings, now=clock.now())
    return ", ".join(f"{name} {count}" for name, count in result.items() if count)


def _ping_external_hub(app: Flask, poster: Any, settings: FeedSettings, clock: Any) -> str:
    from syndicate import outbox

    queued = queue_pings(get_database(app), settings, now=clock.now())

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


def run_hub(
    database: Database, poster: websub.Poster, settings: FeedSettings, *, now: datetime
) -> dict[str, Any]:
    """One scheduler tick of the hub: verify, queue from events, send what is due."""
    verified = verify_pending(database, poster, settings, now=now)
    queued = consume_article_events(database, settings, now=now)
    sent = send_due_deliveries(database, poster, settings, now=now)
    with database.transaction() as session:
        pruned = websub.prune_deliveries(session, now=now)
    return {"verified": verified, "queued": queued, **sent, "pruned": pruned}


def verify_pending(
    database: Database,
    poster: websub.Poster,
    settings: FeedSettings,
    *,
    now: datetime,
    limit: int = 50,
) -> int:
    """Confirm the intent of waiting requests with a challenge; return how many were settled."""
    with database.transaction() as session:
        waiting = websub.waiting_requests(session, limit=limit)
    settled = 0
    for sub_id, since in waiting:
        with database.transaction() as session:
            request = websub.pending_request(session, sub_id, since)
        if request is None:
            continue
        confirmed, error = websub.challenge_callback(poster, request)
        with database.transaction() as session:
            if websub.settle_request(session, sub_id, since, confirmed, error, settings, now=now):
                settled += 1
    return settled


def consume_article_events(database: Database, settings: FeedSettings, *, now: datetime) -> int:
    """Turn new article events into deliveries, once per change whatever crashes."""
    queued = 0
    done = False

    def handle(session: Session, _event: events.Event) -> None:
        nonlocal queued, done
        # One pass over the current state covers every event of the batch.
        if not done:
            queued += websub.queue_deliveries(session, settings, now=now)
            done = True

    while events.consume(database, websub.CONSUMER, handle, now=now, kinds=ARTICLE_EVENT_KINDS):
        done = False
    return queued


def queue_pings(database: Database, settings: FeedSettings, *, now: datetime) -> int:
    """For an external hub: one outbox ping per affected topic of each new article event."""
    queued = 0

    def handle(session: Session, event: events.Event) -> None:
        nonlocal queued
        queued += websub.queue_pings_for_event(session, event, settings, now=now)

    while events.consume(database, websub.CONSUMER, handle, now=now, kinds=ARTICLE_EVENT_KINDS):
        pass
    return queued


def _claim(database: Database, *, now: datetime, limit: int) -> list[int]:
    """Take due deliveries (or ones whose sender died) so no other process sends them."""
    with database.transaction() as session:
        candidates = websub.due_delivery_ids(session, now=now, limit=limit)
    claimed = []
    for delivery_id in candidates:
        with database.transaction() as session:
            if websub.claim_delivery(session, delivery_id, now=now):
                claimed.append(delivery_id)
    return claimed


def send_due_deliveries(
    database: Database,
    poster: websub.Poster,
    settings: FeedSettings,
    *,
    now: datetime,
    limit: int = 50,
) -> dict[str, int]:
    """POST each claimed delivery's current topic body; record success, retry or the end."""
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "dropped": 0}
    for delivery_id in _claim(database, now=now, limit=limit):
        with database.transaction() as session:
            outgoing = websub.prepare_delivery(session, delivery_id, settings, now=now)
        if outgoing is None:
            counts["dropped"] += 1
            continue
        status: int | None = None
        error: str | None = None
        try:
            response = poster.post(outgoing.callback, data=outgoing.body, headers=outgoing.headers)
            status = response.status
        except HttpStatusError as exc:
            status, error = exc.status, str(exc)
        except FetchError as exc:
            error = str(exc)
        with database.transaction() as session:
            counts[websub.record_delivery(session, delivery_id, status, error, now=now)] += 1
    return counts
