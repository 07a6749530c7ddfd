"""Import articles from the publisher's site: RSS/Atom feeds, sitemaps and article pages.

One import is: fetch the source through the URL guard and recognise what it is
(``import_fetch``), turn it into items (``import_parse``, ``import_page``), match them to
stored articles (``import_match``), then store them so that a malformed one is reported and
skipped without leaving anything half-stored (``import_store``). An item matches an existing
article by the source's guid, else by canonical URL. An item whose rendered content hashes
to what is stored costs no write at all, and new articles are created in batches, which
keeps an import within a small factor of parsing the feed.

This module is the entry: importing a URL, and the sources that are synced periodically.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

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
from syndicate.db import Page, get_database, paginate
from syndicate.fetch import Fetcher

log = logging.getLogger(__name__)

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
        }
    return SourcePage(items, page.number, page.size, page.total, counts)


def article_count(session: Session, source: Source) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Article).where(Article.source_id == source.id)
        )
        or 0
    )


# --- commands and jobs --------------------------------------------------------------------


def run_import_command(app: Flask, url: str, kind: str, interval: int | None) -> int:
    """``syndicate import URL``: import with a progress bar, then print the summary."""
    fetcher = Fetcher.from_config(app.config)
    now = app.extensions["clock"].now()
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label="Importing", show_pos=True)
            bar.__enter__()
        bar.update(done - bar.pos)

    try:
        with get_database(app).transaction() as session:
            try:
                source, summary = import_source(
                    session,
                    url,
                    kind=kind,
                    interval_minutes=interval,
                    fetcher=fetcher,
                    now=now,
                    progress=progress,
                )
            finally:
                if bar is not None:
                    bar.__exit__(None, None, None)
            source_kind, next_sync = source.kind.value, source.next_sync_at
    except SourceError as exc:
        click.echo(f"Could not import {url}: {exc}", err=True)
        return 1
    click.echo(f"Imported {url} ({source_kind}): {summary}.")
    for failure in summary.failures:
        click.echo(f"  failed: {failure.item}: {failure.reason}")
    if next_sync is not None:
        click.echo(f"Next sync at {next_sync:%Y-%m-%d %H:%M} UTC.")
    return 0 if summary.imported or not summary.failed else 1


def _claim(app: Flask, source_id: int, now: datetime) -> bool:
    """Push a due source's next sync past the lease; True only for the process that did it.

    The conditional UPDATE is the lock: a second scheduler finds the row no longer due and
    changes nothing. The lease outlasts any sync (which sets the real next time when done),
    and a process that dies mid-sync leaves the source due again once the lease is over.
    """
    with get_database(app).transaction() as session:
        claimed = session.execute(
            update(Source)
            .where(Source.id == source_id, Source.next_sync_at <= now)
            .values(next_sync_at=now + SYNC_LEASE)
            .execution_options(synchronize_session=False)
        )
        return claimed.rowcount == 1


def sync_due(app: Flask, *, limit: int = 20) -> str:
    """Sync every source whose next sync is due (the scheduler's job); one line per source."""
    database = get_database(app)
    clock = app.extensions["clock"]
    fetcher = Fetcher.from_config(app.config)
    now = clock.now()
    with database.transaction() as session:
        due = list(
            session.scalars(
                select(Source.id)
                .where(Source.next_sync_at <= now, Source.interval_minutes.is_not(None))
                .order_by(Source.next_sync_at)
                .limit(limit)
            )
        )
    lines = []
    for source_id in due:
        if not _claim(app, source_id, now):
            continue
        lines.append(_sync_claimed(app, source_id, fetcher, clock.now()))
    return "; ".join(lines) if lines else "no source due"


def _sync_claimed(app: Flask, source_id: int, fetcher: Fetcher, now: datetime) -> str:
    database = get_database(app)
    try:
        with database.transaction() as session:
            source = session.get(Source, source_id)
            if source is None:
                return f"source {source_id}: deleted meanwhile"
            url = source.url
            try:
                return f"{url}: {sync_source(session, source, fetcher=fetcher, now=now)}"
            except SourceError as exc:
                return f"{url}: failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
        log.exception("syncing source %s failed", source_id)
        with database.transaction() as session:
            source = session.get(Source, source_id)
            if source is not None:
                record_sync(
                    source, failed_result(f"unexpected error ({type(exc).__name__})"), now=now
                )
        return f"source {source_id}: failed unexpectedly ({type(exc).__name__})"
