"""Import articles from the publisher's site: RSS/Atom feeds, sitemaps and article pages.

One import is: fetch the source through the URL guard and recognise what it is
(``import_fetch``), turn it into items (``import_parse``, ``import_page``), match them to
stored articles (``import_match``), then store them so that a malformed one is reported and
skipped without leaving anything half-stored (``import_store``). An item matches an existing
article by the source's guid, else by canonical URL. An item whose rendered content hashes
to what is stored costs no write at all, and new articles are created in batches, which
keeps an import within a small factor of parsing the feed.

This module is the entry: importing a URL, and the sources that are synced periodically.
Its functions take a Session and never commit; the command, the scheduler's job
(``articles/jobs.py``) and the Sources page own the transactions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from syndicate import claims
from syndicate.articles.import_fetch import SourceError, detect_kind, fetch_source, maybe_gunzip
from syndicate.articles.import_match import (
    ArticleIndex,
    oldest_publication,
    place_undated,
    without_repeated_guids,
)
from syndicate.articles.import_page import parse_page
from syndicate.articles.import_parse import http_url, parse_feed, parse_sitemap
from syndicate.articles.import_store import (
    ImportSummary,
    Progress,
    failed_result,
    store_items,
)
from syndicate.articles.models import Article, Source, SourceKind
from syndicate.db import Page, paginate
from syndicate.fetch import Fetcher

MIN_INTERVAL_MINUTES = 5
MAX_INTERVAL_MINUTES = 7 * 24 * 60
SYNC_LEASE = timedelta(hours=1)


def import_url(
    session: Session,
    url: str,
    *,
    kind: str | SourceKind = "auto",
    fetcher: Fetcher,
    now: datetime,
    source: Source | None = None,
    progress: Progress | None = None,
    actor_id: int | None = None,
    fetch_pages: bool = False,
) -> ImportSummary:
    """Import every article at ``url`` into the source (found or created by URL).

    Raises SourceError when the URL itself cannot be fetched or read; a bad item is only
    counted as failed. ``fetch_pages`` fetches the page of feed items that carry no content.
    """
    url = check_source_url(url)
    response = fetch_source(fetcher, url)
    response = replace(response, body=maybe_gunzip(response.body, fetcher.max_bytes))
    if kind == "auto" and source is not None:
        kind = source.kind
    resolved = detect_kind(response) if kind == "auto" else SourceKind(kind)
    summary = ImportSummary(kind=resolved)
    if resolved is SourceKind.FEED:
        items = parse_feed(
            response.body,
            url=response.url,
            content_type=response.headers.get("content-type", ""),
            fetch_pages=fetch_pages,
        )
    elif resolved is SourceKind.SITEMAP:
        items = parse_sitemap(response, fetcher=fetcher, fail=summary.fail)
    else:
        items = [parse_page(response.body, url=response.url, charset=response.charset, guid=url)]
    take_turn(session, url)
    if source is None:
        source = session.scalar(select(Source).where(Source.url == url))
    if source is None:
        source = Source(url=url, kind=resolved, created_at=now)
        session.add(source)
        session.flush()
    summary.source_id = source.id
    items = without_repeated_guids(items)
    index = ArticleIndex(session, source)
    index.prefetch(item.url for item in items)
    index.prefetch_authors(name for item in items if item.data for name in item.data.authors)
    place_undated(items, index, now=now, floor=lambda: oldest_publication(session, now))
    store_items(
        session,
        items,
        index,
        summary,
        source=source,
        fetcher=fetcher,
        now=now,
        actor_id=actor_id,
        progress=progress,
    )
    return summary


def take_turn(session: Session, url: str) -> None:
    """PostgreSQL: imports of one source URL take turns, each until its transaction ends.

    An import finds its articles by guid or canonical URL, and only those committed before it
    looked. Two imports of one source at once (the scheduler's sync and "Sync now", or two
    ``syndicate import`` commands) would each create the other's new articles, twice where
    no unique guid stops it. The second now waits for the first to commit, then finds them
    all. The lock is taken after fetching and parsing, so only storing is serialised. SQLite
    serialises every writer anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(url.encode()).digest()
    session.execute(
        _SOURCE_TURN, {"kind": SOURCE_LOCK_KIND, "key": int.from_bytes(digest[:4], signed=True)}
    )


# pg_advisory_xact_lock(int, int): the first key tells import turns from other advisory locks
# (events.EVENT_LOCK_KEY is a single bigint key, a separate space).
SOURCE_LOCK_KIND = 0x5EE7_0002
_SOURCE_TURN = text("SELECT pg_advisory_xact_lock(:kind, :key)")


# --- sources ------------------------------------------------------------------------------


def check_source_url(url: str) -> str:
    """An absolute http(s) URL of at most 2000 characters, or SourceError saying why not."""
    checked = http_url(url)
    if checked is None:
        raise SourceError(
            "Give the absolute http(s) address of a feed, sitemap or article "
            "page (at most 2000 characters)."
        )
    return checked


def check_interval(minutes: int | None) -> int | None:
    if minutes is None:
        return None
    if not MIN_INTERVAL_MINUTES <= minutes <= MAX_INTERVAL_MINUTES:
        raise SourceError(
            f"The interval is {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES} "
            "minutes (a week), or empty to sync only by hand."
        )
    return minutes


def record_sync(source: Source, result: dict[str, Any], *, now: datetime) -> None:
    """Store a sync's outcome and when the next one is due."""
    source.last_synced_at = now
    source.last_result = result
    source.next_sync_at = (
        now + timedelta(minutes=source.interval_minutes) if source.interval_minutes else None
    )


def import_source(
    session: Session,
    url: str,
    *,
    kind: str = "auto",
    interval_minutes: int | None = None,
    fetcher: Fetcher,
    now: datetime,
    progress: Progress | None = None,
    actor_id: int | None = None,
) -> tuple[Source, ImportSummary]:
    """Import from ``url`` into its source (created if new) and record the result there.

    An interval given replaces the source's; none given keeps it. SourceError leaves nothing.
    """
    interval_minutes = check_interval(interval_minutes)
    if kind not in ("auto", *SourceKind):
        raise SourceError("The kind is auto, feed, sitemap or page.")
    summary = import_url(
        session, url, kind=kind, fetcher=fetcher, now=now, progress=progress, actor_id=actor_id
    )
    source = session.get(Source, summary.source_id)
    assert source is not None and summary.kind is not None
    source.kind = summary.kind
    if interval_minutes is not None:
        source.interval_minutes = interval_minutes
    record_sync(source, summary.as_result(), now=now)
    session.flush()
    return source, summary


def sync_source(
    session: Session,
    source: Source,
    *,
    fetcher: Fetcher,
    now: datetime,
    actor_id: int | None = None,
) -> ImportSummary:
    """Import a stored source now and record the result.

    A SourceError is recorded on the source too, then raised; the caller still commits.
    """
    try:
        with session.begin_nested():
            summary = import_url(
                session,
                source.url,
                kind=source.kind,
                fetcher=fetcher,
                now=now,
                source=source,
                actor_id=actor_id,
            )
    except SourceError as exc:
        record_sync(source, failed_result(str(exc)), now=now)
        session.flush()
        raise
    record_sync(source, summary.as_result(), now=now)
    session.flush()
    return summary


def delete_source(session: Session, source: Source) -> None:
    """Forget a source; its articles stay, no longer tied to it."""
    session.execute(update(Article).where(Article.source_id == source.id).values(source_id=None))
    session.execute(delete(Source).where(Source.id == source.id))
    session.flush()


@dataclass(frozen=True)
class SourcePage(Page[Source]):
    """A page of sources with how many articles each has."""

    counts: dict[int, int] = field(default_factory=dict)


def sources_page(session: Session, number: int, size: int) -> SourcePage:
    """Sources by URL, with how many articles each has."""
    page = paginate(
        session, select(Source).order_by(Source.url, Source.id), number=number, size=size
    )
    items = page.items
    counts: dict[int, int] = {}
    if items:
        counts = {
            source_id: count
            for source_id, count in session.execute(
                select(Article.source_id, func.count())
                .where(Article.source_id.in_([s.id for s in items]))
                .group_by(Article.source_id)
            )
            if source_id is not None  # never, given the IN; tells the type checker
        }
    return SourcePage(items, page.number, page.size, page.total, counts)


def article_count(session: Session, source: Source) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Article).where(Article.source_id == source.id)
        )
        or 0
    )


def due_source_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    """The periodically synced sources whose next sync is due, longest waiting first."""
    return list(
        session.scalars(
            select(Source.id)
            .where(Source.next_sync_at <= now, Source.interval_minutes.is_not(None))
            .order_by(Source.next_sync_at)
            .limit(limit)
        )
    )


def claim_due_source(session: Session, source_id: int, now: datetime) -> bool:
    """Push a due source's next sync past the lease; True only for the caller that did it.

    The conditional UPDATE is the lock: a second scheduler finds the row no longer due and
    changes nothing. The lease outlasts any sync (which sets the real next time when done),
    and a process that dies mid-sync leaves the source due again once the lease is over.
    """
    sources = Source.__table__
    return claims.take(
        session,
        sources,
        source_id,
        due=sources.c.next_sync_at <= now,
        values={"next_sync_at": now + SYNC_LEASE},
    )
