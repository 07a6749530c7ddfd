"""Which articles a feed holds: its subject (site, category, tag or author), the current
window and the RFC 5005 archive pages, their links to each other, and the feed's last change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
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
from syndicate.feeds.context import (
    CONTENT_TYPES,
    EPOCH,
    FORMATS,
    FeedKey,
    FeedNotFound,
    FeedSettings,
    whole_second,
)
from syndicate.feeds.items import clean_text


@dataclass(frozen=True)
class _Subject:
    kind: str
    slug: str | None
    name: str
    condition: ColumnElement[bool] | None


def _subject(session: Session, kind: str, slug: str | None) -> _Subject:
    if kind == "site":
        return _Subject("site", None, "", None)
    if kind == "category":
        found = session.scalar(select(Category).where(Category.slug == slug))
        if found is None:
            raise FeedNotFound(f"There is no category {slug!r}.")
        return _Subject(
            kind,
            slug,
            found.name,
            Article.id.in_(
                select(article_categories.c.article_id).where(
                    article_categories.c.category_id == found.id
                )
            ),
        )
    if kind == "tag":
        found_tag = session.scalar(select(Tag).where(Tag.slug == slug))
        if found_tag is None:
            raise FeedNotFound(f"There is no tag {slug!r}.")
        return _Subject(
            kind,
            slug,
            found_tag.name,
            Article.id.in_(
                select(article_tags.c.article_id).where(article_tags.c.tag_id == found_tag.id)
            ),
        )
    if kind == "author":
        found_author = session.scalar(select(Author).where(Author.slug == slug))
        if found_author is None:
            raise FeedNotFound(f"There is no author {slug!r}.")
        return _Subject(
            kind,
            slug,
            found_author.name,
            Article.id.in_(
                select(ArticleAuthor.article_id).where(ArticleAuthor.author_id == found_author.id)
            ),
        )
    raise FeedNotFound(f"There is no feed kind {kind!r}.")


def _where(subject: _Subject, *conditions: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    return [*conditions, *([subject.condition] if subject.condition is not None else [])]


def _ever_published_count(session: Session, subject: _Subject) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Article)
            .where(*_where(subject, Article.published_at.is_not(None)))
        )
        or 0
    )


def archived_pages(ever_published: int, page_size: int) -> int:
    """How many archive pages there are: the full pages older than the newest ``page_size``,
    once there are at least two of them.

    Positions count every article that was ever published, oldest first (an unpublished one
    keeps its place but is left out), so a page, once there, never changes its articles.
    The current feed holds every later position: the current feed and the archives hold each
    article exactly once (RFC 5005 §4). A lone archive page would link to no other archive
    page, which feed validators report as an incomplete archive; so archiving starts with
    two pages, and until then the current feed holds everything (up to three pages less one).
    """
    pages = max(0, ever_published - page_size) // page_size
    return pages if pages >= 2 else 0


def current_items(session: Session, subject: _Subject, unarchived: int) -> list[Article]:
    """The published articles at the newest ``unarchived`` positions, newest first."""
    window = session.scalars(
        select(Article)
        .where(*_where(subject, Article.published_at.is_not(None)))
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(max(unarchived, 0))
    ).all()
    return [a for a in window if a.status is ArticleStatus.PUBLISHED]


def archive_items(
    session: Session, subject: _Subject, page: int, page_size: int
) -> tuple[list[Article], datetime]:
    """The published articles at the positions of archive page ``page``, newest first, and
    the page's last change (its own articles only, so nothing elsewhere alters its bytes)."""
    window = session.scalars(
        select(Article)
        .where(*_where(subject, Article.published_at.is_not(None)))
        .order_by(Article.published_at.asc(), Article.id.asc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    updated = max((_changed_at(a) for a in window), default=EPOCH)
    return [a for a in reversed(window) if a.status is ArticleStatus.PUBLISHED], whole_second(
        updated
    )


def _changed_at(article: Article) -> datetime:
    """When the article last changed what a feed shows: an edit, or its arrival here.

    An imported article's ``updated_at`` is the source's own time, often before the import;
    the feed still changed when the article was created or published here.
    """
    return max(m for m in (article.updated_at, article.created_at, article.published_at) if m)


def _feed_updated(session: Session, subject: _Subject, items: Sequence[Article]) -> datetime:
    """The feed's last change: its newest item change, or a later unpublishing from it.

    Unpublishing moves the article's ``updated_at``, so Last-Modified never goes backwards
    when an item leaves the feed.
    """
    newest = max((_changed_at(a) for a in items), default=None)
    left = session.scalar(
        select(func.max(Article.updated_at)).where(
            *_where(
                subject,
                Article.status == ArticleStatus.UNPUBLISHED,
                Article.published_at.is_not(None),
            )
        )
    )
    moments = [m for m in (newest, left) if m is not None]
    return whole_second(max(moments)) if moments else EPOCH


@dataclass(frozen=True)
class FeedDocument:
    key: FeedKey
    title: str
    description: str
    items: list[Article]
    updated: datetime
    links: list[tuple[str, str, str | None]]  # (rel, href, type), besides self and alternate
    home_url: str


def feed_document(session: Session, key: FeedKey, settings: FeedSettings) -> FeedDocument:
    subject = _subject(session, key.kind, key.slug)
    size = settings.archive_page_size
    ever_published = _ever_published_count(session, subject)
    full_pages = archived_pages(ever_published, size)
    current_url = settings.site_url + key.current().path()
    mime = CONTENT_TYPES[key.fmt].split(";")[0]
    links: list[tuple[str, str, str | None]] = []
    if key.page is None:
        items = current_items(session, subject, ever_published - full_pages * size)
        updated = _feed_updated(session, subject, items)
        if settings.hub_url:
            links.append(("hub", settings.hub_url, None))
        if full_pages:
            links.append(
                (
                    "prev-archive",
                    settings.site_url + FeedKey(key.kind, key.slug, key.fmt, full_pages).path(),
                    mime,
                )
            )
    else:
        if not 1 <= key.page <= full_pages:
            raise FeedNotFound(f"There is no archive page {key.page} of this feed.")
        items, updated = archive_items(session, subject, key.page, size)
        links.append(("current", current_url, mime))
        if key.page > 1:
            links.append(
                (
                    "prev-archive",
                    settings.site_url + FeedKey(key.kind, key.slug, key.fmt, key.page - 1).path(),
                    mime,
                )
            )
        if key.page < full_pages:
            # The only change a full page ever sees: this forward link, once, when the page
            # after it fills. Its items never change, and readers walk backwards anyway.
            links.append(
                (
                    "next-archive",
                    settings.site_url + FeedKey(key.kind, key.slug, key.fmt, key.page + 1).path(),
                    mime,
                )
            )
    title, description = _titles(subject, settings)
    if key.page is not None:
        title = f"{title} (archive {key.page})"
    return FeedDocument(
        key=key,
        title=title,
        description=description,
        items=items,
        updated=updated,
        links=links,
        home_url=settings.site_url + "/",
    )


def _titles(subject: _Subject, settings: FeedSettings) -> tuple[str, str]:
    site = settings.title
    name = clean_text(subject.name)
    if subject.kind == "site":
        return site, f"The newest articles from {site}."
    if subject.kind == "category":
        return f"{site}: {name}", f"The newest articles in {name} from {site}."
    if subject.kind == "tag":
        return f"{site}: #{name}", f"The newest articles tagged {name} from {site}."
    return f"{site}: {name}", f"The newest articles by {name} from {site}."


def feed_exists(session: Session, key: FeedKey) -> bool:
    """Whether a current feed's subject (site, category, tag or author) exists."""
    try:
        _subject(session, key.kind, key.slug)
    except FeedNotFound:
        return False
    return key.fmt in FORMATS
