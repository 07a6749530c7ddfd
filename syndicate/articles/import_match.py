"""Which stored article an item is, and where new items without a date go.

An item matches an existing article by the source's guid, else by canonical URL; the
columns needed for that and for the unchanged check are loaded in few queries, and
``expected_hash`` tells an unchanged item without touching the database.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.articles import services
from syndicate.articles.import_parse import SourceItem, cached_slugify
from syndicate.articles.models import Article, Author, Source


@dataclass
class KnownArticle:
    """The columns of an existing article that matching and the unchanged check need."""

    id: int
    source_id: int | None
    guid: str | None
    url: str | None
    content_hash: str
    updated_at: datetime
    created_at: datetime
    published_at: datetime | None

    @classmethod
    def of(cls, article: Article) -> KnownArticle:
        return cls(
            article.id,
            article.source_id,
            article.source_guid,
            article.canonical_url,
            article.content_hash,
            article.updated_at,
            article.created_at,
            article.published_at,
        )

    @property
    def stored_at(self) -> datetime:
        """When this import last stored the article (its updated_at may be the source's)."""
        return max(self.created_at, self.updated_at)


_KNOWN_COLUMNS = (
    Article.id,
    Article.source_id,
    Article.source_guid,
    Article.canonical_url,
    Article.content_hash,
    Article.updated_at,
    Article.created_at,
    Article.published_at,
)


class ArticleIndex:
    """Existing articles by guid (this source) and canonical URL, loaded in few queries."""

    def __init__(self, session: Session, source: Source) -> None:
        self.session = session
        self.source_id = source.id
        self.by_guid: dict[str, KnownArticle] = {}
        self.by_url: dict[str, KnownArticle] = {}
        self.looked_up: set[str] = set()
        # Author slug -> stored name, for the unchanged check.
        self.author_names: dict[str, str] = {}
        self.authors_looked_up: set[str] = set()
        # Articles an earlier item of this import matched or created: one item each.
        self.taken: set[int] = set()
        rows = session.execute(select(*_KNOWN_COLUMNS).where(Article.source_id == source.id))
        for row in rows:
            self.remember(KnownArticle(*row))

    def remember(self, known: KnownArticle) -> None:
        if known.source_id == self.source_id and known.guid:
            self.by_guid[known.guid] = known
        if known.url:
            current = self.by_url.get(known.url)
            if current is None or (
                known.source_id == self.source_id and current.source_id != self.source_id
            ):
                self.by_url[known.url] = known
            self.looked_up.add(known.url)

    def prefetch(self, urls: Iterable[str | None]) -> None:
        """Look up, in chunks, the canonical URLs this source has no article for."""
        wanted = sorted({u for u in urls if u and u not in self.looked_up})
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.session.execute(
                select(*_KNOWN_COLUMNS).where(Article.canonical_url.in_(chunk)).order_by(Article.id)
            )
            for row in rows:
                self.remember(KnownArticle(*row))
            self.looked_up.update(chunk)

    def prefetch_authors(self, names: Iterable[str]) -> None:
        """Look up, in chunks, the stored names of these authors (by slug)."""
        wanted = sorted({slug for _, slug in _normalised(names)} - self.authors_looked_up)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self.session.execute(
                select(Author.slug, Author.name).where(Author.slug.in_(chunk))
            )
            self.author_names.update({slug: name for slug, name in rows})
        self.authors_looked_up.update(wanted)

    def expected_hash(self, data: services.ArticleInput) -> str:
        """``expected_hash`` with the authors' stored names."""
        self.prefetch_authors(data.authors)
        return expected_hash(data, self.author_names)

    def find(self, guid: str | None, url: str | None) -> KnownArticle | None:
        if guid and guid in self.by_guid:
            return self.by_guid[guid]
        if url:
            self.prefetch([url])
            return self.by_url.get(url)
        return None


def _normalised(names: Iterable[str]) -> list[tuple[str, str]]:
    """(name, slug) pairs as ``services.get_or_create`` stores them, first of each slug."""
    found: dict[str, str] = {}
    for raw in names:
        name = re.sub(r"\s+", " ", raw).strip()[:200]
        if name:
            found.setdefault(cached_slugify(name), name)
    return [(name, slug) for slug, name in found.items()]


def expected_hash(data: services.ArticleInput, stored_names: Mapping[str, str]) -> str:
    """The content hash an article would get from ``data``, without touching the database.

    ``stored_names`` maps author slugs to the names stored for them: an author is found by
    slug and keeps the name it was stored with, whatever spelling the item uses.
    """
    return services.content_digest(
        title=data.title.strip(),
        summary=data.summary.strip(),
        body_html=services.render_body(data.body, data.body_format),
        canonical_url=(data.canonical_url or "").strip() or None,
        hero_image_url=(data.hero_image_url or "").strip() or None,
        hero_image_alt=data.hero_image_alt.strip(),
        author_names=[stored_names.get(slug, name) for name, slug in _normalised(data.authors)],
        category_slugs=[slug for _, slug in _normalised(data.categories)],
        tag_slugs=[slug for _, slug in _normalised(data.tags)],
    )


def without_repeated_guids(items: list[SourceItem]) -> list[SourceItem]:
    """Items whose guid another item of the source repeats, matched by their link instead.

    A guid that two items share identifies neither: matched by it, each would overwrite the
    other's article on every sync.
    """
    counts = Counter(item.guid for item in items if item.guid)
    return [
        replace(item, guid=None) if item.url and item.guid and counts[item.guid] > 1 else item
        for item in items
    ]


def place_undated(
    items: list[SourceItem], index: ArticleIndex, *, now: datetime, floor: Callable[[], datetime]
) -> None:
    """Date the new items that have none by their order in the source, never on top.

    A run of undated items is spread between the dated items around it, or placed a second
    apart below the last one; the run before the first dated item goes just below it. With
    no date in the source at all, they go below the oldest article (``floor``).
    """
    dates: list[datetime | None] = []
    placing: list[bool] = []
    for item in items:
        known = None if item.problem else index.find(item.guid, item.url)
        own = item.published_at or (known.published_at if known else None)
        dates.append(min(own, now) if own else None)
        placing.append(own is None and known is None and not item.problem)
    if not any(placing):
        return
    first = next((i for i, date in enumerate(dates) if date is not None), None)
    upper: datetime | None
    if first is None:
        order, upper = list(range(len(items))), floor()
    else:
        order, upper = [first, *range(first), *range(first + 1, len(items))], dates[first]
    run: list[int] = []

    def settle(lower: datetime | None) -> None:
        assert upper is not None
        gap = (upper - lower) / (len(run) + 1) if lower and lower < upper else None
        for k, i in enumerate(run, 1):
            items[i].published_at = upper - (gap * k if gap else timedelta(seconds=k))
            items[i].placed = True
        run.clear()

    for i in order:
        if dates[i] is not None:
            settle(dates[i])
            upper = dates[i]
        elif placing[i]:
            run.append(i)
    settle(None)


def oldest_publication(session: Session, now: datetime) -> datetime:
    """Where undated items go when their source has no date at all: below every article."""
    oldest = session.scalar(select(func.min(Article.published_at)))
    return min(oldest, now) if oldest else now
