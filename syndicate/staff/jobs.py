"""Staff housekeeping for the scheduler: forget sessions past their end."""

from __future__ import annotations

from flask import Flask

from syndicate.db import get_database
from syndicate.staff import services
from syndicate.wording import count


def purge_expired_sessions(app: Flask) -> str:
    """Delete ended sessions; a summary for the log, empty when there were none."""
    with get_database(app).write_transaction() as session:
        purged = services.purge_expired_sessions(session, now=app.extensions["clock"].now())
    return f"staff: {count(purged, 'expired session')} purged" if purged else ""
