"""API housekeeping for the scheduler: forget Idempotency-Keys after their 24 hours."""

from __future__ import annotations

from flask import Flask

from syndicate.api import idempotency
from syndicate.db import get_database


def purge_idempotency_keys(app: Flask) -> str:
    """Delete expired keys; a summary for the log, empty when there were none."""
    with get_database(app).write_transaction() as session:
        purged = idempotency.purge_expired(session, now=app.extensions["clock"].now())
    return f"api: {purged} expired idempotency keys purged" if purged else ""
