"""Storing imported items in bulk: what batching must keep exactly as one-by-one storing did."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from syndicate import create_app
from syndicate.articles import importing, services
from syndicate.articles.import_store import ImportSummary
from syndicate.articles.models import Article, Author, Category, Source, SourceKind, Tag
from syndicate.clock import FixedClock
from syndicate.db import get_database
from syndicate.models import Event
from tests.articles.publisher_site import PublisherSite, SiteArticle
from tests.conftest import START, app_config, url_is_sqlite

AUTHORS = ["Zoë Šimić", "Ada Writer", "Łukasz Nowak"]
SECTIONS = ["World", "Culture", "Technology"]
# More items than one batch of new articles (import_store.BATCH_SIZE), so batches meet.
ITEMS = 450


def many_articles(count: int = ITEMS) -> dict[str, SiteArticle]:
    """Articles that share three authors (two each, in either order), three sections and
    25 tags, in several spellings of the same names."""
    articles = {}
    for n in range(count):
        first, second = AUTHORS[n % 3], AUTHORS[(n + 1 + n % 2) % 3]
        articles[f"piece-{n}"] = SiteArticle(
            slug=f"piece-{n}",
            title=f"Piece {n}: “why feeds matter” — part {n % 7}",
            body=f'<p>Paragraph of piece {n}, with <a href="/articles/piece-{n}">a link</a>.</p>',
            description=f"Summary of piece {n}.",
            authors=[first, second if n % 5 != 4 else f"  {second.upper()} "],
            section=SECTIONS[n % 3],
            keywords=[f"tag {n % 25}", f"Tag {(n + 1) % 25}"],
            published=f"Mon, 02 Feb 2026 {n // 60 % 24:02d}:{n % 60:02d}:00 +0000",
            published_iso="2026-02-02T08:30:00+00:00",
            modified_iso="2026-02-03T10:00:00+00:00",
        )
    return articles


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"FETCH_MAX_BYTES": 5_000_000, "FETCH_TIMEOUT": 10}


@pytest.fixture
def site(publisher_site: PublisherSite) -> PublisherSite:
    publisher_site.articles = many_articles()
    publisher_site.broken_item = False
    return publisher_site


@pytest.fixture
def run_import(session: Session, app: Flask, clock: FixedClock):  # noqa: ANN201
    def run(url: str) -> ImportSummary:
        summary = importing.import_url(
            session, url, fetcher=app.extensions["fetcher"], now=clock.now()
        )
        session.commit()
        return summary

    return run


@dataclass
class Writes:
    """Every INSERT, UPDATE and DELETE the engine sends, with the rows it says it changed."""

    statements: list[tuple[str, int]] = field(default_factory=list)
    updated_articles: set[int] = field(default_factory=set)

    def record(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in {"INSERT", "UPDATE", "DELETE"}:
            self.statements.append((" ".join(statement.split()[:3]), cursor.rowcount))
        if statement.startswith("UPDATE articles ") and not executemany:
            # WHERE articles.id = the last parameter (named articles_id by psycopg).
            key = parameters["articles_id"] if isinstance(parameters, dict) else parameters[-1]
            self.updated_articles.add(key)

    def rows(self, start: str) -> int:
        return sum(count for statement, count in self.statements if statement.startswith(start))

    def count(self, start: str) -> int:
        return sum(statement.startswith(start) for statement, _ in self.statements)


@pytest.fixture
def writes(engine: Engine) -> Iterator[Writes]:
    recorder = Writes()
    event.listen(engine, "after_cursor_execute", recorder.record)
    yield recorder
    event.remove(engine, "after_cursor_execute", recorder.record)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def feed_state(session: Session, client) -> tuple[object, ...]:  # noqa: ANN001
    session.expire_all()
    rows = session.execute(
        select(Article.id, Article.title, Article.updated_at, Article.content_hash).order_by(
            Article.id
        )
    ).all()
    headers = [client.get(path).headers for path in ("/feeds/atom.xml", "/feeds/rss.xml")]
    return (
        rows,
        count(session, Event),
        [(h["ETag"], h["Last-Modified"]) for h in headers],
    )


def test_import_of_many_items_creates_each_shared_author_category_and_tag_once(
    session, site, run_import
):
    summary = run_import(f"{site.url}/feed.xml")

    assert (summary.new, summary.failed) == (ITEMS, 0)
    assert [count(session, model) for model in (Article, Author, Category, Tag)] == [
        ITEMS,
        3,
        3,
        25,
    ]
    assert sorted(session.scalars(select(Author.name))) == sorted(AUTHORS)
    published = {
        e.subject: e.payload
        for e in session.scalars(select(Event).where(Event.kind == "article.published"))
    }
    assert len(published) == ITEMS
    session.expire_all()
    for article in session.scalars(select(Article)):
        source = site.articles[article.slug]
        # Byline order kept; a name spelled another way is the same author.
        assert [a.name for a in article.authors] == [
            next(name for name in AUTHORS if services.slugify(name) == services.slugify(raw))
            for raw in source.authors
        ]
        assert [c.name for c in article.categories] == [source.section]
        assert sorted(t.slug for t in article.tags) == sorted(
            services.slugify(k) for k in source.keywords
        )
        # What the ORM path would have stored and announced.
        assert article.content_hash == services.content_hash(article)
        payload = services.event_payload(article)
        announced = published[article.public_id]
        assert {**announced, "categories": None, "tags": None} == {
            **payload,
            "categories": None,
            "tags": None,
        }
        assert sorted(announced["categories"]) == sorted(payload["categories"])
        assert sorted(announced["tags"]) == sorted(payload["tags"])


def test_reimport_of_an_unchanged_feed_writes_nothing_and_keeps_the_feeds_etags(
    session, client, site, run_import, writes, clock
):
    run_import(f"{site.url}/feed.xml")
    before = feed_state(session, client)
    clock.advance(timedelta(hours=1))
    writes.statements.clear()

    summary = run_import(f"{site.url}/feed.xml")

    assert (summary.new, summary.updated, summary.unchanged, summary.failed) == (0, 0, ITEMS, 0)
    assert writes.statements == []
    assert feed_state(session, client) == before
    etag = before[2][0][0]
    assert client.get("/feeds/atom.xml", headers={"If-None-Match": etag}).status_code == 304


def test_reimport_of_a_partly_changed_feed_updates_exactly_the_changed_articles(
    session, site, run_import, writes, clock
):
    run_import(f"{site.url}/feed.xml")
    session.expire_all()
    before = {
        slug: (article_id, updated_at, content_hash)
        for slug, article_id, updated_at, content_hash in session.execute(
            select(Article.slug, Article.id, Article.updated_at, Article.content_hash)
        )
    }
    changed = {"piece-5", "piece-217", "piece-449"}
    site.articles["piece-5"].title = "Piece 5, retitled"
    site.articles["piece-217"].keywords = ["tag 3", "a new tag"]
    site.articles["piece-449"] = replace(site.articles["piece-449"], authors=["Ada Writer"])
    clock.advance(timedelta(hours=1))
    writes.statements.clear()

    summary = run_import(f"{site.url}/feed.xml")

    assert (summary.new, summary.updated, summary.unchanged) == (0, 3, ITEMS - 3)
    session.expire_all()
    after = {
        slug: (article_id, updated_at, content_hash)
        for slug, article_id, updated_at, content_hash in session.execute(
            select(Article.slug, Article.id, Article.updated_at, Article.content_hash)
        )
    }
    assert {slug for slug in after if after[slug] != before[slug]} == changed
    assert all(after[slug][1] == clock.now() for slug in changed)
    updated = session.scalars(select(Event.subject).where(Event.kind == "article.updated"))
    public_ids = session.execute(
        select(Article.slug, Article.public_id).where(Article.slug.in_(changed))
    ).all()
    assert sorted(updated) == sorted(public_id for _, public_id in public_ids)
    # Only the changed articles' rows are updated; the one new tag; one event each.
    assert writes.updated_articles == {before[slug][0] for slug in changed}
    assert writes.rows("UPDATE articles") == writes.count("UPDATE articles")
    assert writes.count("INSERT INTO tags") == 1
    assert writes.count("INSERT INTO events") == 3
    assert count(session, Article) == ITEMS


def test_concurrent_imports_of_one_source_make_no_duplicates(
    fresh_database, tmp_path, publisher_site
):
    if url_is_sqlite(fresh_database):
        pytest.skip("SQLite serialises writers; concurrent imports are a PostgreSQL matter")
    # No guids: only the canonical URL tells an item's article, and nothing unique stops a
    # second insert of it.
    publisher_site.articles = many_articles(300)
    app = create_app(
        app_config(
            fresh_database,
            INSTANCE_PATH=str(tmp_path / "instance"),
            CLOCK=FixedClock(START),
            FETCH_MAX_BYTES=5_000_000,
        )
    )
    database = get_database(app)
    url = f"{publisher_site.url}/noguid.xml"
    with database.transaction() as session:
        session.add(Source(url=url, kind=SourceKind.FEED, created_at=START))
    start_together = threading.Barrier(2)
    summaries: list[str] = []

    def sync() -> None:
        start_together.wait()
        with database.transaction() as session:
            summary = importing.import_url(
                session, url, fetcher=app.extensions["fetcher"], now=START
            )
        summaries.append(str(summary))

    importers = [threading.Thread(target=sync) for _ in range(2)]
    for importer in importers:
        importer.start()
    for importer in importers:
        importer.join(timeout=120)

    assert sorted(summaries) == [
        "0 new, 0 updated, 300 unchanged, 0 failed",
        "300 new, 0 updated, 0 unchanged, 0 failed",
    ]
    with database.transaction() as session:
        assert count(session, Article) == 300
        assert (
            session.scalar(select(func.count(func.distinct(Article.canonical_url)))) == 300
        )
    database.engine.dispose()
