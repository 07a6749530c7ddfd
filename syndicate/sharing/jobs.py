"""Periodic work for share requests, run by the scheduler process (any number of them).

Each step runs in its own write transaction and changes rows with conditional UPDATEs, so
two scheduler processes never send the same email twice.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from syndicate import events, wording
from syndicate.db import get_database
from syndicate.sharing import services, visits
from syndicate.sharing.services import Sharing

CORRECTIONS_SUBSCRIBER = "sharing.corrections"


def maintain_share_requests(app: Flask) -> str:
    """Delete stale unverified requests, remind staff, close stale requests, warn and expire
    grants, and fold yesterday's visitor hashes into daily totals."""
    database = get_database(app)
    ctx = Sharing.for_app(app)
    now_fn = app.extensions["clock"].now
    # (what is counted, what happened to it): "1 grant expired", "2 grants expired".
    done: dict[tuple[str, str], int] = {}
    steps = (
        (("unverified request", "deleted"), services.delete_unverified),
        (("request", "closed without decision"), services.close_stale),
        (("grant end warning", "sent"), services.warn_expiring),
        (("grant", "expired"), services.expire_grants),
    )
    for label, step in steps:
        with database.write_transaction() as session:
            done[label] = step(session, now=now_fn(), ctx=ctx)
    with database.write_transaction() as session:
        waiting = services.remind_waiting(session, now=now_fn(), ctx=ctx)
    with database.write_transaction() as session:
        done["visit", "folded"] = visits.fold_visits(session, now=now_fn())
    summary = ", ".join(
        f"{wording.count(count, noun)} {happened}"
        for (noun, happened), count in done.items()
        if count
    )
    if summary and waiting:
        summary += f"; {waiting} waiting for a decision"
    return f"sharing: {summary}" if summary else ""


def notify_corrections(app: Flask) -> str:
    """Tell grantees when an article they may share is corrected or withdrawn."""
    ctx = Sharing.for_app(app)
    now_fn = app.extensions["clock"].now
    told = 0

    def handle(session: Session, event: events.Event) -> None:
        nonlocal told
        told += services.handle_article_event(session, event, now=now_fn(), ctx=ctx)

    events.consume(
        get_database(app),
        CORRECTIONS_SUBSCRIBER,
        handle,
        now=now_fn(),
        kinds={"article.updated", "article.unpublished"},
    )
    return f"sharing corrections: {wording.count(told, 'grantee')} told" if told else ""
