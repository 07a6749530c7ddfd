"""Periodic upkeep of LinkedIn connections: refresh tokens early, warn before expiry."""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import select

from syndicate.db import get_database
from syndicate.linkedin import client as li
from syndicate.linkedin import services
from syndicate.linkedin.models import ConnectionState, LinkedInConnection

log = logging.getLogger(__name__)


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
            refreshed += services.refresh_if_due(
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
