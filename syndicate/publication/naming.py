"""The name an administrator stored, applied to this process's ``SITE_NAME``.

Everything that shows the publication's name reads ``config.site_name(app.config)``: page
headers and titles, the feeds' titles, credit lines and emails (their contexts are rebuilt
when ``SITE_NAME`` changes, see ``config.derived``). So the stored name is put there, in
every process: web workers before each request, the scheduler before each job. Feeds
answered before Flask (web/fastpath.py) need nothing more: a rename moves the content
version, so their cached bytes are stale and Flask (this hook, then the view) renders them.

Reading it from the database on every request would cost a query; instead a rename emits
``site.renamed``, which feeds count as a content change (``feeds/cache.py``), and each
process reads the name again only when the content version it already watches for its
feeds (``feeds/freshness.py``: no query on SQLite or PostgreSQL) has moved.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from flask import Flask, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate.config import site_name
from syndicate.db import Database
from syndicate.feeds import freshness
from syndicate.publication.services import stored_site_name

log = logging.getLogger(__name__)

EXTENSION = "publication_name"
# Requests that show no name and must stay cheap.
_SKIPPED_ENDPOINTS = frozenset(
    {"static", "web.favicon", "web.healthz", "web.readyz", "metrics.metrics"}
)


@dataclass
class NameSync:
    """What this process applied, at which content version."""

    version: int | None = None
    applied: str | None = None
    configured: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, app: Flask, database: Database) -> None:
        """Put the stored name (or the configured one) in ``app.config`` if it may have changed."""
        versions = freshness.shared_version_source(app, database)
        opened: list[Session] = []

        def session() -> Session:
            # Only when the version source must ask, or the name must be read: usually never.
            if not opened:
                opened.append(database.sessions())
            return opened[0]

        try:
            version = versions.current(session)
            if version == self.version:
                return
            stored = stored_site_name(session())
        except SQLAlchemyError:
            # The name is not worth failing a request for: keep the one we have, and ask
            # again next time (a page that needs the database will say it is unreachable).
            log.warning("could not read the publication's name; keeping %r", self.applied)
            return
        finally:
            for made in opened:
                made.close()
        with self.lock:
            current = str(app.config.get("SITE_NAME") or "")
            if self.applied is None or current != self.applied:
                # Set by the environment, or changed on the running app since (tests).
                self.configured = current
            wanted = stored or self.configured
            app.config["SITE_NAME"] = wanted
            self.applied, self.version = wanted, version


def apply_stored_name(app: Flask) -> None:
    """Bring ``SITE_NAME`` up to date in this process (the scheduler calls it before jobs)."""
    sync: NameSync | None = app.extensions.get(EXTENSION)
    database: Database | None = app.extensions.get("database")
    if sync is not None and database is not None:
        sync.apply(app, database)


def configured_site_name(app: Flask) -> str:
    """The name the settings give (SYNDICATE_SITE_NAME and its fallbacks), stored one aside."""
    sync: NameSync | None = app.extensions.get(EXTENSION)
    configured = sync.configured if sync is not None and sync.applied is not None else None
    if configured is None:
        configured = str(app.config.get("SITE_NAME") or "")
    return site_name({**app.config, "SITE_NAME": configured})


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = NameSync()

    @app.before_request
    def _stored_name() -> None:
        if request.endpoint not in _SKIPPED_ENDPOINTS:
            apply_stored_name(app)
