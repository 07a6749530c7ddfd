"""Every feed there is: the list behind OPML and the API, the pages' discovery links, and the
Feeds dashboard's counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.articles.models import (
    Article,
    ArticleAuthor,
    ArticleStatus,
    Author,
    Category,
    Tag,
    article_categories,
    article_tags,
)
from syndicate.feeds.context import CONTENT_TYPES, FORMAT_LABELS, FORMATS, FeedSettings, feed_path
from syndicate.feeds.items import clean_text


@dataclass(frozen=True)
class FeedListing:
    """One feed subject (site, a category, tag or author) and its URLs in each format."""

    kind: str
    slug: str | None
    name: str
    urls: dict[str, str]


def all_feeds(session: Session, settings: FeedSettings) -> list[FeedListing]:
    """Every feed subject: site-wide, then each category, tag and author by name."""

    def listing(kind: str, slug: str | None, name: str) -> FeedListing:
        return FeedListing(
            kind,
            slug,
            name,
            {fmt: settings.site_url + feed_path(kind, slug, fmt) for fmt in FORMATS},
        )

    feeds = [listing("site", None, "All articles")]
    for kind, model in (("category", Category), ("tag", Tag), ("author", Author)):
        for slug, name in session.execute(select(model.slug, model.name).order_by(model.name)):
            feeds.append(listing(kind, slug, clean_text(name) or slug))
    return feeds


@dataclass(frozen=True)
class DiscoveryLink:
    href: str
    type: str
    title: str


def discovery_links(settings: FeedSettings, article: Article | None = None) -> list[DiscoveryLink]:
    """``<link rel="alternate">`` targets: the site's feeds, then the article's categories'."""
    subjects: list[tuple[str, str | None, str]] = [("site", None, settings.title)]
    if article is not None:
        subjects += [
            ("category", c.slug, f"{settings.title}: {clean_text(c.name)}")
            for c in article.categories
        ]
    return [
        DiscoveryLink(
            settings.site_url + feed_path(kind, slug, fmt),
            CONTENT_TYPES[fmt].split(";")[0],
            f"{title} ({FORMAT_LABELS[fmt]})",
        )
        for kind, slug, title in subjects
        for fmt in FORMATS
    ]


@dataclass(frozen=True)
class FeedStats:
    listing: FeedListing
    item_count: int
    last_change: datetime | None


def feed_stats(session: Session, listings: Sequence[FeedListing]) -> list[FeedStats]:
    """Published item count and last change of each listed feed (a few grouped queries)."""
    published = Article.status == ArticleStatus.PUBLISHED
    site = session.execute(
        select(func.count(), func.max(Article.updated_at)).where(published)
    ).one()
    grouped: dict[str, dict[str, tuple[int, datetime | None]]] = {}
    for kind, column, table, key in (
        ("category", article_categories.c.category_id, article_categories, Category),
        ("tag", article_tags.c.tag_id, article_tags, Tag),
        ("author", ArticleAuthor.author_id, ArticleAuthor.__table__, Author),
    ):
        slugs = [f.slug for f in listings if f.kind == kind]
        if not slugs:
            continue
        rows = session.execute(
            select(key.slug, func.count(Article.id), func.max(Article.updated_at))
            .select_from(key)
            .join(table, column == key.id)
            .join(Article, (Article.id == table.c.article_id) & published)
            .where(key.slug.in_(slugs))
            .group_by(key.slug)
        ).all()
        grouped[kind] = {slug: (count, last) for slug, count, last in rows}
    stats = []
    for listing in listings:
        last: datetime | None
        if listing.kind == "site":
            count, last = site[0] or 0, site[1]
        else:
            count, last = grouped.get(listing.kind, {}).get(listing.slug or "", (0, None))
        stats.append(FeedStats(listing, count, last))
    return stats
