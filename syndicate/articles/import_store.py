"""Storing items: changed articles updated in savepoints, new ones created in batches.

The last stage of an import (see ``importing``). A malformed item is reported and skipped
without leaving anything half-stored; an item whose content hashes to what is stored costs
no write at all; new articles are created in batches. The summary says what happened to
each item and is what ``Source.last_result`` keeps.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate import events, wording
from syndicate.articles import services
from syndicate.articles.import_match import ArticleIndex, KnownArticle
from syndicate.articles.import_page import dated_from_page, item_from_page
from syndicate.articles.import_parse import ItemProblem, SourceItem, cached_slugify, slug_from_url
from syndicate.articles.models import (
    Article,
    ArticleAuthor,
    ArticleStatus,
    Author,
    Category,
    SlugHistory,
    Source,
    SourceKind,
    Tag,
    article_categories,
    article_tags,
)
from syndicate.db import new_public_id
from syndicate.fetch import Fetcher

# The three taxonomies share (id, name, slug) and are found or created the same way.
Taxon = TypeVar("Taxon", Author, Category, Tag)

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# New articles created per flush; larger batches gain little and fall back in bigger pieces.
BATCH_SIZE = 200
MAX_STORED_FAILURES = 20


# --- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportFailure:
    item: str
    reason: str


@dataclass
class ImportSummary:
    """What one import did, item by item."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failures: list[ImportFailure] = field(default_factory=list)
    # New articles whose source and page gave no date: placed by their order in the source.
    undated: int = 0
    source_id: int | None = None
    kind: SourceKind | None = None

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def imported(self) -> int:
        """Items now in step with the source, whether or not they changed."""
        return self.new + self.updated + self.unchanged

    def fail(self, item: str, reason: str) -> None:
        self.failures.append(ImportFailure(item, reason))

    def as_result(self) -> dict[str, Any]:
        """The summary as stored in ``Source.last_result`` (failures capped)."""
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "failures": [
                {"item": f.item[:300], "reason": f.reason[:500]}
                for f in self.failures[:MAX_STORED_FAILURES]
            ],
            "failures_omitted": max(0, self.failed - MAX_STORED_FAILURES),
            "undated": self.undated,
            "error": None,
        }

    def __str__(self) -> str:
        return describe_result(self.as_result())


def failed_result(message: str) -> dict[str, Any]:
    """``Source.last_result`` for a sync whose source could not be fetched or read."""
    return {
        "new": 0,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "failures": [],
        "failures_omitted": 0,
        "error": message[:1000],
    }


def describe_result(result: dict[str, Any] | None) -> str:
    """One line for a stored ``last_result``."""
    if not result:
        return "never synced"
    if result.get("error"):
        return f"failed: {result['error']}"
    counts = (
        f"{result.get('new', 0)} new, {result.get('updated', 0)} updated, "
        f"{result.get('unchanged', 0)} unchanged, {result.get('failed', 0)} failed"
    )
    undated = result.get("undated", 0)
    if undated:
        counts += (
            f"; {wording.count(undated, 'item')} had no date; placed by their order in the source"
        )
    return counts


# --- storing ------------------------------------------------------------------------------


class _Taxon(NamedTuple):
    id: int
    name: str
    slug: str


class _Taxonomy:
    """Authors, categories and tags by slug, found or created in bulk once per batch.

    Names are normalised exactly as ``services.get_or_create`` does, so both paths agree.
    Rows, not ORM objects: one SELECT per 500 names and one multi-row INSERT for the missing.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[tuple[type, str], _Taxon] = {}

    @staticmethod
    def _key(raw: str) -> tuple[str, str]:
        name = re.sub(r"\s+", " ", raw).strip()[:200]
        return name, cached_slugify(name)

    def prepare(self, model: type[Taxon], names: Iterable[str]) -> None:
        wanted: dict[str, str] = {}
        for raw in names:
            name, slug = self._key(raw)
            if name and (model, slug) not in self.known:
                wanted.setdefault(slug, name)
        table = model.__table__
        columns = (table.c.id, table.c.name, table.c.slug)
        slugs = sorted(wanted)
        for start in range(0, len(slugs), 500):
            chunk = slugs[start : start + 500]
            for row in self.session.execute(select(*columns).where(table.c.slug.in_(chunk))):
                self.known[(model, row.slug)] = _Taxon(*row)
        missing = [
            {"name": wanted[slug], "slug": slug}
            for slug in slugs
            if (model, slug) not in self.known
        ]
        if missing:
            for row in self.session.execute(insert(table).returning(*columns), missing):
                self.known[(model, row.slug)] = _Taxon(*row)

    def named(self, model: type[Taxon], names: Iterable[str]) -> list[_Taxon]:
        found: dict[int, _Taxon] = {}
        for raw in names:
            name, slug = self._key(raw)
            if name:
                taxon = self.known[(model, slug)]
                found.setdefault(taxon.id, taxon)
        return list(found.values())


class _Slugs:
    """Free slugs for new articles, looked up in bulk; collisions get -2, -3... as in services."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.taken: set[str] = set()
        self.checked: set[str] = set()

    def prepare(self, wanted: Iterable[str]) -> None:
        fresh = sorted(set(wanted) - self.checked)
        for start in range(0, len(fresh), 500):
            chunk = fresh[start : start + 500]
            self.taken.update(
                self.session.scalars(select(Article.slug).where(Article.slug.in_(chunk)))
            )
            self.taken.update(
                self.session.scalars(select(SlugHistory.slug).where(SlugHistory.slug.in_(chunk)))
            )
        self.checked.update(fresh)

    def _free(self, slug: str) -> bool:
        if slug not in self.checked:
            self.checked.add(slug)
            if services.slug_owner(self.session, slug) is not None:
                self.taken.add(slug)
        return slug not in self.taken

    def take(self, wanted: str) -> str:
        slug, n = wanted, 2
        while not self._free(slug):
            suffix = f"-{n}"
            slug = wanted[: services.MAX_SLUG - len(suffix)] + suffix
            n += 1
        self.taken.add(slug)
        return slug


def _published_at(item: SourceItem, now: datetime) -> datetime:
    return min(item.published_at or now, now)


def _updated_at(item: SourceItem, now: datetime) -> datetime:
    """A new article's last change: the source's own, never before its publication.

    Not the import's time: every article of one import would share it, and feed readers
    (and the W3C validator) take entries updated in the same second for one event.
    """
    published = _published_at(item, now)
    return min(max(item.updated_at or published, published), now)


def _wanted_slug(item: SourceItem) -> str:
    assert item.data is not None
    return slug_from_url(item.url) or services.slugify(item.data.title)


@dataclass
class _NewArticle:
    """One new article's row, its taxonomy links and its hash, before it is inserted."""

    values: dict[str, Any]
    authors: list[_Taxon]
    categories: list[_Taxon]
    tags: list[_Taxon]


class ArticleCreator:
    """Creates and publishes new articles in batches: a few multi-row statements per batch.

    Each article gets exactly what ``services.create_article`` and ``publish_article`` would
    give it: their validation, rendering, hash (``content_digest``) and event payload
    (``payload_of``) are called, not copied. The rows are written with Core INSERTs (articles
    with RETURNING, then their author, category and tag links and their events), not through
    the ORM's unit of work, which cost more than parsing the feed. A batch the database
    refuses is rolled back and its items go through those services one by one, each in its
    own savepoint, so a bad item still fails alone.
    """

    def __init__(
        self,
        session: Session,
        index: ArticleIndex,
        summary: ImportSummary,
        *,
        source: Source,
        now: datetime,
        actor_id: int | None,
    ) -> None:
        self.session = session
        self.index = index
        self.summary = summary
        self.source = source
        self.now = now
        self.actor_id = actor_id
        self.pending: list[SourceItem] = []
        self.pending_keys: set[str] = set()
        self.taxonomy = _Taxonomy(session)
        self.slugs = _Slugs(session)

    def waiting_for(self, item: SourceItem) -> bool:
        """True when an item may match one not yet created (same guid or URL)."""
        return bool({item.guid, item.url} & self.pending_keys - {None})

    def add(self, item: SourceItem) -> None:
        data = item.data
        assert data is not None
        # Refuse what create_article would refuse before it can spoil a batch.
        services.validate_input(data)
        services.check_url(data.canonical_url, "canonical_url")
        services.check_url(data.hero_image_url, "hero_image_url")
        self.pending.append(item)
        self.pending_keys.update(k for k in (item.guid, item.url) if k)
        if len(self.pending) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        batch, self.pending, self.pending_keys = self.pending, [], set()
        if not batch:
            return
        try:
            with self.session.begin_nested():
                created = self._insert(batch)
        except (SQLAlchemyError, services.ArticleError):
            log.info("a batch of %d new articles was refused; storing them one by one", len(batch))
            # Rows made in the rolled-back savepoint are gone; look names up afresh.
            self.taxonomy.known.clear()
            for item in batch:
                self._create_one(item)
            return
        for known in created:
            self._remember(known)
        self.summary.new += len(created)
        self.summary.undated += sum(item.placed for item in batch)

    def _insert(self, batch: list[SourceItem]) -> list[KnownArticle]:
        """Insert the batch's articles, their links and their events; what was stored."""
        # add() refuses items without data
        inputs = [item.data for item in batch if item.data is not None]
        self.taxonomy.prepare(Author, (n for data in inputs for n in data.authors))
        self.taxonomy.prepare(Category, (n for data in inputs for n in data.categories))
        self.taxonomy.prepare(Tag, (n for data in inputs for n in data.tags))
        self.slugs.prepare(_wanted_slug(item) for item in batch)
        new = [self._row(item) for item in batch]
        articles = Article.__table__
        ids: dict[str, int] = {
            public_id: article_id
            for public_id, article_id in self.session.execute(
                insert(articles).returning(articles.c.public_id, articles.c.id),
                [article.values for article in new],
            )
        }
        author_links, category_links, tag_links = [], [], []
        for article in new:
            article_id = ids[article.values["public_id"]]
            article.values["id"] = article_id
            author_links += [
                {"article_id": article_id, "author_id": author.id, "position": position}
                for position, author in enumerate(article.authors)
            ]
            category_links += [
                {"article_id": article_id, "category_id": c.id} for c in article.categories
            ]
            tag_links += [{"article_id": article_id, "tag_id": t.id} for t in article.tags]
        for table, links in (
            (ArticleAuthor.__table__, author_links),
            (article_categories, category_links),
            (article_tags, tag_links),
        ):
            if links:
                self.session.execute(insert(table), links)
        events.emit_rows(
            self.session,
            [
                (
                    "article.published",
                    article.values["public_id"],
                    services.payload_of(
                        article_id=article.values["id"],
                        slug=article.values["slug"],
                        title=article.values["title"],
                        category_slugs=[c.slug for c in article.categories],
                        tag_slugs=[t.slug for t in article.tags],
                        author_slugs=[a.slug for a in article.authors],
                    ),
                )
                for article in new
            ],
            now=self.now,
            actor_id=self.actor_id,
        )
        return [
            KnownArticle(
                id=article.values["id"],
                source_id=self.source.id,
                guid=article.values["source_guid"],
                url=article.values["canonical_url"],
                content_hash=article.values["content_hash"],
                updated_at=article.values["updated_at"],
                created_at=self.now,
                published_at=article.values["published_at"],
            )
            for article in new
        ]

    def _row(self, item: SourceItem) -> _NewArticle:
        """The row ``create_article`` then ``publish_article`` would store for the item."""
        data = item.data
        assert data is not None
        authors = self.taxonomy.named(Author, data.authors)
        categories = self.taxonomy.named(Category, data.categories)
        tags = self.taxonomy.named(Tag, data.tags)
        values: dict[str, Any] = {
            "public_id": new_public_id(),
            "slug": self.slugs.take(_wanted_slug(item)),
            "title": data.title.strip(),
            "summary": data.summary.strip(),
            "body_format": data.body_format,
            "body_source": data.body,
            "body_html": services.render_body(data.body, data.body_format),
            "canonical_url": services.check_url(data.canonical_url, "canonical_url"),
            "hero_image_url": services.check_url(data.hero_image_url, "hero_image_url"),
            "hero_image_alt": data.hero_image_alt.strip(),
            "status": ArticleStatus.PUBLISHED,
            "published_at": _published_at(item, self.now),
            "created_at": self.now,
            "updated_at": _updated_at(item, self.now),
            "source_id": self.source.id,
            "source_guid": item.guid,
        }
        values["content_hash"] = services.content_digest(
            title=values["title"],
            summary=values["summary"],
            body_html=values["body_html"],
            hero_image_url=values["hero_image_url"],
            hero_image_alt=values["hero_image_alt"],
            canonical_url=values["canonical_url"],
            author_names=[a.name for a in authors],
            category_slugs=[c.slug for c in categories],
            tag_slugs=[t.slug for t in tags],
        )
        return _NewArticle(values, authors, categories, tags)

    def _create_one(self, item: SourceItem) -> None:
        assert item.data is not None
        try:
            with self.session.begin_nested():
                slug = services.unique_slug(self.session, _wanted_slug(item), None)
                article = services.create_article(
                    self.session,
                    replace(item.data, slug=slug),
                    now=self.now,
                    actor_id=self.actor_id,
                    source=self.source,
                    source_guid=item.guid,
                )
                services.publish_article(
                    self.session,
                    article,
                    now=self.now,
                    actor_id=self.actor_id,
                    published_at=_published_at(item, self.now),
                )
                article.updated_at = _updated_at(item, self.now)
                self.session.flush()
        except services.ArticleError as exc:
            self.summary.fail(item.label, str(exc))
        except SQLAlchemyError as exc:
            log.warning("storing %s failed: %s", item.label, exc)
            self.summary.fail(item.label, f"the database refused it ({type(exc).__name__})")
        else:
            self._remember(KnownArticle.of(article))
            self.summary.new += 1
            self.summary.undated += item.placed

    def _remember(self, known: KnownArticle) -> None:
        self.index.remember(known)
        self.index.taken.add(known.id)


def _store_item(
    session: Session,
    item: SourceItem,
    index: ArticleIndex,
    creator: ArticleCreator,
    *,
    source: Source,
    fetcher: Fetcher,
    now: datetime,
    actor_id: int | None,
) -> str | None:
    """Update or leave one article, or queue it for creation.

    Returns "updated" or "unchanged", or None when the creator has taken the item.
    """
    if item.problem:
        raise ItemProblem(item.problem)
    if creator.waiting_for(item):
        creator.flush()
    known = index.find(item.guid, item.url)
    if item.needs_page:
        if (
            known
            and known.id not in index.taken
            and item.modified_at
            and item.modified_at <= known.stored_at
        ):
            index.taken.add(known.id)
            return "unchanged"
        item = item_from_page(item, fetcher)
        if item.problem:
            raise ItemProblem(item.problem)
        if creator.waiting_for(item):
            creator.flush()
        known = known or index.find(item.guid, item.url)
    elif item.page_for_body:
        item = item_from_page(item, fetcher)
    elif known is None and item.placed and item.url:
        item = dated_from_page(item, fetcher)
    assert item.data is not None
    if known is None:
        creator.add(item)
        return None
    if known.id in index.taken:
        # Two items of one source name this article: the first one holds, or every sync
        # would store one over the other.
        if known.content_hash == index.expected_hash(item.data):
            return "unchanged"
        raise ItemProblem(
            "an earlier item of this source has the same guid or link; that one was imported"
        )
    index.taken.add(known.id)
    # An article written here, or one whose guid changed at the source, becomes this item's.
    claim = known.source_id is None or (
        known.source_id == source.id
        and item.guid is not None
        and known.guid != item.guid
        and item.guid not in index.by_guid
    )
    if not claim and known.content_hash == index.expected_hash(item.data):
        return "unchanged"
    with session.begin_nested():
        article = session.get(Article, known.id)
        if article is None:
            raise ItemProblem("its article was deleted during the import")
        changed = services.update_article(
            session, article, replace(item.data, slug=None), now=now, actor_id=actor_id
        )
        if changed and item.updated_at and item.updated_at > known.updated_at:
            # The source's own time of the change, rather than when this sync noticed it.
            article.updated_at = min(item.updated_at, now)
        if claim:
            article.source_id, article.source_guid = source.id, item.guid
        session.flush()
    index.remember(KnownArticle.of(article))
    return "updated" if changed else "unchanged"


def store_items(
    session: Session,
    items: list[SourceItem],
    index: ArticleIndex,
    summary: ImportSummary,
    *,
    source: Source,
    fetcher: Fetcher,
    now: datetime,
    actor_id: int | None,
    progress: Progress | None = None,
) -> None:
    """Store every item, counting each in ``summary``; one bad item never stops the others."""
    creator = ArticleCreator(session, index, summary, source=source, now=now, actor_id=actor_id)
    total = len(items)
    for done, item in enumerate(items, 1):
        try:
            outcome = _store_item(
                session,
                item,
                index,
                creator,
                source=source,
                fetcher=fetcher,
                now=now,
                actor_id=actor_id,
            )
        except (ItemProblem, services.ArticleError) as exc:
            summary.fail(item.label, str(exc))
        except Exception as exc:  # noqa: BLE001 - one item must never stop the others
            log.exception("importing %s from %s failed", item.label, source.url)
            summary.fail(item.label, f"it could not be stored ({type(exc).__name__})")
        else:
            if outcome is not None:
                setattr(summary, outcome, getattr(summary, outcome) + 1)
        if progress is not None:
            progress(done, total)
    creator.flush()
