"""Imports outside a request: the ``syndicate import`` command and the periodic source sync.

These own their transactions; the import services they call take a Session and never commit.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import click
from flask import Flask

from syndicate import wording
from syndicate.articles import importing
from syndicate.articles.import_fetch import SourceError
from syndicate.articles.import_store import failed_result
from syndicate.articles.models import Source
from syndicate.db import get_database
from syndicate.fetch import Fetcher

log = logging.getLogger(__name__)


def run_import_command(app: Flask, url: str, kind: str, interval: int | None) -> int:
    """``syndicate import URL``: import with a progress bar, then print the summary."""
    fetcher = app.extensions["fetcher"]
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
                source, summary = importing.import_source(
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
        click.echo(f"Next sync at {wording.time_in_zone(next_sync, 'UTC')}.")
    return 0 if summary.imported or not summary.failed else 1


def sync_due_sources(app: Flask, *, limit: int = 20) -> str:
    """Sync every source whose next sync is due (the scheduler's job); one line per source."""
    database = get_database(app)
    clock = app.extensions["clock"]
    fetcher = app.extensions["fetcher"]
    now = clock.now()
    with database.transaction() as session:
        due = importing.due_source_ids(session, now=now, limit=limit)
    lines = []
    for source_id in due:
        if not _claim(app, source_id, now):
            continue
        lines.append(_sync_claimed(app, source_id, fetcher, clock.now()))
    return "; ".join(lines) if lines else "no source due"


def _claim(app: Flask, source_id: int, now: datetime) -> bool:
    """Claim a due source in a transaction of its own (see importing.claim_due_source)."""
    with get_database(app).transaction() as session:
        return importing.claim_due_source(session, source_id, now)


def _sync_claimed(app: Flask, source_id: int, fetcher: Fetcher, now: datetime) -> str:
    database = get_database(app)
    try:
        with database.transaction() as session:
            source = session.get(Source, source_id)
            if source is None:
                return f"source {source_id}: deleted meanwhile"
            url = source.url
            try:
                return f"{url}: {importing.sync_source(session, source, fetcher=fetcher, now=now)}"
            except SourceError as exc:
                return f"{url}: failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - one broken source must not stop the others
        log.exception("syncing source %s failed", source_id)
        with database.transaction() as session:
            source = session.get(Source, source_id)
            if source is not None:
                importing.record_sync(
                    source, failed_result(f"unexpected error ({type(exc).__name__})"), now=now
                )
        return f"source {source_id}: failed unexpectedly ({type(exc).__name__})"
