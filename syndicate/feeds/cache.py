"""Rendered feeds of this process, kept until an article event says the content changed."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.feeds.conditional import RenderedFeed
from syndicate.feeds.context import FeedKey, FeedSettings
from syndicate.feeds.rendering import render_feed, render_opml
from syndicate.models import Event

# Every kind of event that changes what a feed shows; articles/services.py emits them in the
# transaction that made the change, and publication/services.py a new name (every feed's
# title; the name's per-process copy is refreshed on the same signal).
ARTICLE_EVENT_KINDS = (
    "article.published",
    "article.republished",
    "article.updated",
    "article.unpublished",
    "article.moved",
    "site.renamed",
)


# Built once: constructing the statement per request would cost more than running it.
VERSION_QUERY = select(
    *(
        select(func.max(Event.id)).where(Event.kind == kind).scalar_subquery()
        for kind in ARTICLE_EVENT_KINDS
    )
)


def content_version(session: Session) -> int:
    """The newest article event id: one query, one index probe per kind (ix_events_kind_id).

    Every change a feed can show commits an article event in the same transaction, so an
    unchanged value means every cached feed is still right, in every worker process.
    """
    return newest_event_id(session.connection().execute(VERSION_QUERY).one())


def newest_event_id(row: Sequence[int | None]) -> int:
    """content_version from a row of VERSION_QUERY (a kind never written gives NULL)."""
    return max((v for v in row if v is not None), default=0)


SessionSource = Callable[[], Session]


class VersionSource(Protocol):
    """Knows content_version, ideally without a query (implementations: feeds/freshness.py)."""

    def current(self, session: SessionSource) -> int:
        """The newest article event id; ``session`` is called only if a query is needed."""


class FeedCache:
    """Rendered feeds of this process, keyed by feed and checked against the content version.

    ``versions`` (feeds/freshness.py) says what the newest article event is, usually without
    a query; a cache hit then needs no database session at all.
    """

    # Each entry holds a feed in both encodings (about 150 KB for 50 full items).
    def __init__(self, versions: VersionSource, max_entries: int = 256) -> None:
        self.versions = versions
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[Any, ...], RenderedFeed] = OrderedDict()
        self._lock = threading.Lock()
        # Read by /metrics (syndicate_feed_cache_requests_total).
        self.hits = 0
        self.misses = 0

    def get(
        self, session: SessionSource, key: FeedKey | str, settings: FeedSettings
    ) -> RenderedFeed:
        """The feed's bytes, rendered again only when an article event came after them.

        ``session`` is called only when the database must be asked.
        """
        # Read the version before the articles: a change committed in between makes the
        # stored version older than the bytes, which only costs one extra render later.
        version = self.versions.current(session)
        cache_key = (key, settings)
        with self._lock:
            cached = self._entries.get(cache_key)
            if cached is not None and cached.version == version:
                self._entries.move_to_end(cache_key)
                self.hits += 1
                return cached
            self.misses += 1
        if isinstance(key, FeedKey):
            rendered = render_feed(session(), key, settings, version=version)
        else:
            rendered = render_opml(session(), settings, version=version)
        with self._lock:
            self._entries[cache_key] = rendered
            self._entries.move_to_end(cache_key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return rendered

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
