"""Periodic upkeep of LinkedIn connections: refresh tokens early, warn before expiry."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from syndicate.crypto import TokenVault
from syndicate.db import Database, get_database
from syndicate.linkedin import client as li
from syndicate.linkedin import services
from syndicate.linkedin.models import ConnectionState, LinkedInConnection
from syndicate.linkedin.stats_fetch import StatsRefresher

log = logging.getLogger(__name__)


def make_stats_refresher(app: Flask, **overrides: Any) -> StatsRefresher:
    """A statistics refresher with the app's settings, named after this process."""
    from syndicate.posts.dispatcher import worker_name

    options: dict[str, Any] = {
        "client": app.extensions["linkedin_client"],
        "vault": app.extensions["token_vault"],
        "clock": app.extensions["clock"],
        "owner": worker_name(),
        "schedule": app.config["POST_STATS_SCHEDULE"],
        "batch": app.config["POST_STATS_BATCH"],
        **overrides,
    }
    return StatsRefresher(get_database(app), **options)


def refresh_post_statistics(app: Flask) -> str:
    """Fetch the LinkedIn figures of the published posts that are due (claimed, so several
    schedulers split the work instead of doing it twice)."""
    return str(make_stats_refresher(app).run_until_idle())


def maintain_connections(app: Flask) -> str:
    database = get_database(app)
    now = app.extensions["clock"].now()
    with database.transaction() as session:
        ids = session.scalars(
            select(LinkedInConnection.id).where(
                LinkedInConnection.state == ConnectionState.ACTIVE,
                LinkedInConnection.refresh_token_encrypted.is_not(None),
                LinkedInConnection.expires_at <= now + services.REFRESH_MARGIN,
            )
        ).all()
    refreshed = 0
    for connection_id in ids:
        try:
            refreshed += refresh_if_due(
                database,
                connection_id,
                client=app.extensions["linkedin_client"],
                vault=app.extensions["token_vault"],
                now=now,
            )
        except li.LinkedInError as exc:
            log.warning("refreshing connection %s failed, will retry: %s", connection_id, exc)
    with database.transaction() as session:
        warned = services.warn_expiring(session, now=now)
    return f"{refreshed} refreshed, {warned} warned" if refreshed or warned else ""


def refresh_if_due(
    database: Database,
    connection_id: int,
    *,
    client: li.LinkedInClient,
    vault: TokenVault,
    now: datetime,
    margin: timedelta = services.REFRESH_MARGIN,
) -> bool:
    """Refresh the connection's access token if it expires within ``margin`` and LinkedIn gave
    a refresh token, in a transaction of its own; True when this call refreshed it.

    The row stays locked from the check to the write (FOR UPDATE on PostgreSQL, the write
    lock on SQLite), so several workers noticing the same expiry refresh it once: the others
    wait, then see the new expiry and do nothing.
    """
    with database.write_transaction() as session:
        connection = session.scalar(
            select(LinkedInConnection)
            .where(LinkedInConnection.id == connection_id)
            .with_for_update()
        )
        if connection is None:
            return False
        return services.refresh_expiring_token(
            session, connection, client=client, vault=vault, now=now, margin=margin
        )
