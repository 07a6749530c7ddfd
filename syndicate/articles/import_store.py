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
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate import events, wording
from syndicate.articles import services
from syndicate.articles.import_match import ArticleIndex, KnownArticle, expected_hash
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
)
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


class _Taxonomy:
    """Authors, categories and tags by slug, found or created in bulk once per batch.

    Names are normalised exactly as ``services.get_or_create`` does, so both paths agree.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.known: dict[tuple[type, str], Any] = {}

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
        slugs = sorted(wanted)
        for start in range(0, len(slugs), 500):
            for found in self.session.scalars(
                select(model).where(model.slug.in_(slugs[start : start + 500]))
            ):
                self.known[(model, found.slug)] = found
        missing = [
            model(name=wanted[slug], slug=slug) for slug in slugs if (model, slug) not in self.known
        ]
        if missing:
            self.session.add_all(missing)
            self.session.flush()
            self.known.update({(model, found.slug): found for found in missing})

    def named(self, model: type[Taxon], names: Iterable[str]) -> list[Taxon]:
        found: list[Taxon] = []
        for raw in names:
            name, slug = self._key(raw)
            if name and self.known[(model, slug)] not in found:
                found.append(self.known[(model, slug)])
        return found


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


class ArticleCreator:
    """Creates and publishes new articles in batches: one flush per batch, not three per item.

    Each article gets exactly what ``services.create_article`` and ``publish_article`` would
    give it (their validation, rendering, hash and event payload are called, not copied). A
    batch the database refuses is rolled back and its items go through those services one by
    one, each in its own savepoint, so a bad item still fails alone.
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
                # add() refuses items without data
                inputs = [item.data for item in batch if item.data is not None]
                self.taxonomy.prepare(Author, (n for data in inputs for n in data.authors))
                self.taxonomy.prepare(Category, (n for data in inputs for n in data.categories))
                self.taxonomy.prepare(Tag, (n for data in inputs for n in data.tags))
                self.slugs.prepare(_wanted_slug(item) for item in batch)
                articles = [self._build(item) for item in batch]
                self.session.add_all(articles)
                self.session.flush()
                events.emit_many(
                    self.session,
                    [
                        ("article.published", article.public_id, services.event_payload(article))
                        for article in articles
                    ],
                    now=self.now,
                    actor_id=self.actor_id,
                )
        except (SQLAlchemyError, services.ArticleError):
            log.info("a batch of %d new articles was refused; storing them one by one", len(batch))
            # Rows made in the rolled-back savepoint are gone; look names up afresh.
            self.taxonomy.known.clear()
            for item in batch:
                self._create_one(item)
            return
        for article in articles:
            self._remember(article)
        self.summary.new += len(articles)
        self.summary.undated += sum(item.placed for item in batch)

    def _build(self, item: SourceItem) -> Article:
        data = item.data
        assert data is not None
        article = Article(
            slug=self.slugs.take(_wanted_slug(item)),
            title=data.title.strip(),
            summary=data.summary.strip(),
            body_format=data.body_format,
            body_source=data.body,
            body_html=services.render_body(data.body, data.body_format),
            canonical_url=services.check_url(data.canonical_url, "canonical_url"),
            hero_image_url=services.check_url(data.hero_image_url, "hero_image_url"),
            hero_image_alt=data.hero_image_alt.strip(),
            status=ArticleStatus.PUBLISHED,
            published_at=_published_at(item, self.now),
            created_at=self.now,
            updated_at=_updated_at(item, self.now),
            source=self.source,
            source_guid=item.guid,
        )
        article.author_links = [
            ArticleAuthor(author=author, position=position)
            for position, author in enumerate(self.taxonomy.named(Author, data.authors))
        ]
        article.categories = self.taxonomy.named(Category, data.categories)
        article.tags = self.taxonomy.named(Tag, data.tags)
        article.content_hash = services.content_hash(article)
        return article

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
            self._remember(article)
            self.summary.new += 1
            self.summary.undated += item.placed

    def _remember(self, article: Article) -> None:
        self.index.remember(KnownArticle.of(article))
        self.index.taken.add(article.id)


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
        if known.content_hash == expected_hash(item.data):
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
    if not claim and known.content_hash == expected_hash(item.data):
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
