"""Feed building (feedgen for RSS and Atom, JSON Feed by hand), archives, OPML and the cache.

Nothing here touches ``request``: a feed is a function of the database and ``FeedSettings``.
feedgen 1.0.0 has known defects (reference/feeds.md §2); each workaround is marked "feedgen:".
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, ClassVar, Protocol
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import quoteattr

import lxml.html
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session
from werkzeug.http import http_date

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
from syndicate.articles.services import plain_text, sanitize_html
from syndicate.config import site_name
from syndicate.models import Event

FORMATS = ("rss", "atom", "json")
KINDS = ("category", "tag", "author")
FILENAMES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
BY_FILENAME = {v: k for k, v in FILENAMES.items()}
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json",
    "opml": "text/x-opml; charset=utf-8",
}
FORMAT_LABELS = {"rss": "RSS 2.0", "atom": "Atom 1.0", "json": "JSON Feed 1.1"}
# Every kind of event that changes what a feed shows; articles/services.py emits them in the
# transaction that made the change.
ARTICLE_EVENT_KINDS = (
    "article.published",
    "article.republished",
    "article.updated",
    "article.unpublished",
    "article.moved",
)
ATOM_NS = "http://www.w3.org/2005/Atom"
SY_NS = "http://purl.org/rss/1.0/modules/syndication/"
FH_NS = "http://purl.org/syndication/history/1.0"
# ccREL: "more permissions" points at where to ask for rights beyond what the work grants.
MORE_PERMISSIONS = "http://creativecommons.org/ns#morePermissions"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
# Readers only see the current feed this often anyway; archive pages never change once full.
ARCHIVE_MAX_AGE = 30 * 24 * 3600
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
# XML 1.0 refuses these characters outright; lxml raises on them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_URL_ATTRIBUTES = ("href", "src", "cite")


class FeedNotFound(LookupError):
    """No such feed: an unknown category, tag or author slug, or an archive page out of range."""


@dataclass(frozen=True)
class FeedSettings:
    """What shapes every feed: the public base URL, its size and refresh hints, the hub."""

    site_url: str
    title: str
    items: int = 20
    ttl_minutes: int = 15
    hub_url: str = ""

    # Every setting from_config reads (views rebuild the settings when one of them changes).
    CONFIG_KEYS: ClassVar[tuple[str, ...]] = (
        "SITE_URL",
        "SITE_NAME",
        "WEBSUB_HUB",
        "FEED_TITLE",
        "FEED_ITEMS",
        "FEED_TTL_MINUTES",
    )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FeedSettings:
        site_url = str(config["SITE_URL"]).rstrip("/")
        hub = str(config.get("WEBSUB_HUB") or "") or f"{site_url}/websub"
        return cls(
            site_url=site_url,
            title=str(config.get("FEED_TITLE") or site_name(config)),
            items=max(1, int(config.get("FEED_ITEMS", 20) or 20)),
            ttl_minutes=max(1, int(config.get("FEED_TTL_MINUTES", 15) or 15)),
            hub_url=hub,
        )

    @property
    def max_age(self) -> int:
        """Cache-Control max-age of a current feed, equal to ``<ttl>`` and the sy: hints."""
        return self.ttl_minutes * 60

    @property
    def update_hint(self) -> tuple[str, int]:
        """(sy:updatePeriod, sy:updateFrequency) saying the same as ``ttl``."""
        if self.ttl_minutes <= 60:
            return "hourly", max(1, 60 // self.ttl_minutes)
        return "daily", max(1, 1440 // self.ttl_minutes)

    @property
    def archive_page_size(self) -> int:
        # The current feed always shows at least this many, so it is the same setting.
        return self.items


@dataclass(frozen=True)
class FeedKey:
    """Which feed: site-wide or per category/tag/author, in which format, current or archive."""

    kind: str  # "site", "category", "tag" or "author"
    slug: str | None
    fmt: str
    page: int | None = None

    def path(self) -> str:
        return feed_path(self.kind, self.slug, self.fmt, self.page)

    def current(self) -> FeedKey:
        return FeedKey(self.kind, self.slug, self.fmt)


def feed_path(kind: str, slug: str | None, fmt: str, page: int | None = None) -> str:
    """The URL path of a feed; ``page`` numbers archive pages from the oldest (1)."""
    name = FILENAMES[fmt]
    subject = "" if kind == "site" else f"{kind}/{slug}/"
    if page is None:
        return f"/feeds/{subject}{name}"
    return f"/feeds/archive/{subject}{page}/{name}"


@dataclass(frozen=True)
class RenderedFeed:
    """The bytes of one feed in both encodings, with everything its HTTP headers need."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: datetime
    content_type: str
    max_age: int
    is_archive: bool
    self_url: str
    hub_url: str | None
    item_count: int
    version: int

    @cached_property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'

    @cached_property
    def not_modified_headers(self) -> tuple[tuple[str, str], ...]:
        """What a 304 repeats of a 200 besides ETag: the fields that update caches.

        RFC 9110 (15.4.5) lists Cache-Control, Vary, Expires, Content-Location and Date;
        other metadata should not be sent with a 304.
        """
        cache_control = f"public, max-age={self.max_age}" + (
            ", immutable" if self.is_archive else ""
        )
        return (("Cache-Control", cache_control), ("Vary", "Accept-Encoding"))

    @cached_property
    def headers(self) -> tuple[tuple[str, str], ...]:
        """The headers of a 200 in either encoding (ETag and encoding apart)."""
        headers = [("Last-Modified", http_date(self.last_modified)), *self.not_modified_headers]
        if self.hub_url:
            headers.append(("Link", f'<{self.hub_url}>; rel="hub"'))
        headers.append(("Link", f'<{self.self_url}>; rel="self"'))
        return tuple(headers)


# ---------------------------------------------------------------------------------------------
# Which articles a feed holds


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
    return [a for a in reversed(window) if a.status is ArticleStatus.PUBLISHED], _second(updated)


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
    return _second(max(moments)) if moments else EPOCH


# ---------------------------------------------------------------------------------------------
# Item content


def share_request_url(article: Article, site_url: str) -> str:
    """The article's share-request form (sharing.request_form), for each item's pointer."""
    return f"{site_url}/articles/{article.slug}/share"


def article_url(article: Article, site_url: str) -> str:
    """Where the article lives: its canonical URL if it has one, else its page here."""
    return article.canonical_url or f"{site_url}/articles/{article.slug}"


def entry_id(article: Article) -> str:
    """The id readers key on: the article's public UUID, untouched by title or slug edits."""
    return f"urn:uuid:{article.public_id}"


def clean_text(text: str) -> str:
    """Plain text fit for a title or name: tags and XML-illegal characters removed."""
    return _XML_INVALID.sub("", plain_text(text or ""))


def _absolute_srcset(value: str, base: str) -> str:
    candidates = []
    for candidate in value.split(","):
        parts = candidate.strip().split(None, 1)
        if not parts:
            continue
        url = urljoin(base, parts[0])
        candidates.append(" ".join([url, *parts[1:]]))
    return ", ".join(candidates)


def content_html(article: Article, site_url: str) -> str:
    """The article body sanitised, with the hero image first and every URL absolute."""
    base = article_url(article, site_url)
    body = sanitize_html(_XML_INVALID.sub("", article.body_html or ""))
    if article.hero_image_url:
        hero = (
            f"<figure><img src={quoteattr(article.hero_image_url)} "
            f"alt={quoteattr(article.hero_image_alt or '')}></figure>"
        )
        body = hero + body
    if not body.strip():
        return ""
    root = lxml.html.fragment_fromstring(body, create_parent="div")
    for element in root.iter(etree.Element):
        for name in _URL_ATTRIBUTES:
            value = element.get(name)
            if value is not None:
                element.set(name, urljoin(base, value.strip()))
        srcset = element.get("srcset")
        if srcset is not None:
            element.set("srcset", _absolute_srcset(srcset, base))
    html = etree.tostring(root, encoding="unicode", method="html")
    # Resolving can only produce http(s) URLs from http(s) and relative ones; sanitising again
    # drops anything else the rewriting could have let through.
    return sanitize_html(html.removeprefix("<div>").removesuffix("</div>"))


def summary_text(article: Article) -> str:
    """The summary, or the first 50 words of the body when the editor wrote none."""
    summary = clean_text(article.summary)
    if summary:
        return summary
    words = clean_text(article.body_html).split()
    return " ".join(words[:50]) + (" …" if len(words) > 50 else "")


def entry_updated(items: Sequence[Article]) -> dict[int, datetime]:
    """Each item's updated time as one feed shows it: never the same twice in that feed.

    Feeds show whole seconds, and readers (and the W3C validator: "Two entries with the
    same value for atom:updated") take two entries updated in the same second for one
    change. Entries that share a second get a fraction of it from their id, so each still
    shows the second it changed in, and the same value in every feed and every render
    (stable bytes and ETags). No other entry shows a fraction.
    """
    per_second = Counter(_second(a.updated_at) for a in items)
    shown: dict[int, datetime] = {}
    taken: set[datetime] = set()
    for article in sorted(items, key=lambda a: a.id):
        moment = _second(article.updated_at)
        if per_second[moment] > 1:
            moment += timedelta(microseconds=article.id % 1_000_000)
            while moment in taken:
                moment += timedelta(microseconds=1)
        taken.add(moment)
        shown[article.id] = moment
    return shown


def _second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def rfc3339(moment: datetime) -> str:
    return _second(moment).isoformat()


def _image_type(url: str) -> str | None:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else None


# ---------------------------------------------------------------------------------------------
# feedgen extensions


class _PermissionsLinkEntry(BaseEntryExtension):
    """Each item's ccREL "more permissions" link: where to ask to share it.

    feedgen drops rel from entry links, so this writes the element itself (atom:link in RSS).
    """

    def __init__(self) -> None:
        self.href: str | None = None

    def _add(self, parent: Any, tag: str) -> Any:
        if self.href:
            xml_elem(tag, parent, rel=MORE_PERMISSIONS, href=self.href, type="text/html")
        return parent

    def extend_rss(self, item: Any) -> Any:
        return self._add(item, f"{{{ATOM_NS}}}link")

    def extend_atom(self, entry: Any) -> Any:
        # feedgen writes Atom elements unqualified under the root's default namespace.
        return self._add(entry, "link")


class _RssChannelExtension(BaseExtension):
    """feedgen: RSS keeps only ``rel=self`` links and misspells sy:; this writes the rest."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str, str | None]] = []
        self.update_hint: tuple[str, int] | None = None
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"sy": SY_NS, "fh": FH_NS}

    def extend_rss(self, rss_feed: Any) -> Any:
        channel = rss_feed[0]
        for rel, href, mime in self.links:
            link = xml_elem(f"{{{ATOM_NS}}}link", channel, rel=rel, href=href)
            if mime:
                link.set("type", mime)
        if self.update_hint:
            period, frequency = self.update_hint
            xml_elem(f"{{{SY_NS}}}updatePeriod", channel).text = period
            xml_elem(f"{{{SY_NS}}}updateFrequency", channel).text = str(frequency)
        if self.archive:
            xml_elem(f"{{{FH_NS}}}archive", channel)
        return rss_feed


class _AtomArchiveExtension(BaseExtension):
    """Marks an Atom archive page with ``<fh:archive/>`` (RFC 5005)."""

    def __init__(self) -> None:
        self.archive = False

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS} if self.archive else {}

    def extend_atom(self, atom_feed: Any) -> Any:
        if self.archive:
            xml_elem(f"{{{FH_NS}}}archive", atom_feed)
        return atom_feed


# feedgen: formatRFC2822() flips the process-wide locale for every date, which is not
# thread-safe, so only one thread renders with feedgen at a time. Renders are cached, so
# this lock is taken once per change, not per request.
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class _FeedDocument:
    key: FeedKey
    title: str
    description: str
    items: list[Article]
    updated: datetime
    links: list[tuple[str, str, str | None]]  # (rel, href, type), besides self and alternate
    home_url: str


def _xml_feed(doc: _FeedDocument, settings: FeedSettings) -> bytes:
    fmt = doc.key.fmt
    self_url = settings.site_url + doc.key.path()
    fg = FeedGenerator()
    fg.id(settings.site_url + doc.key.current().path())
    fg.title(_XML_INVALID.sub("", doc.title))
    fg.description(_XML_INVALID.sub("", doc.description))
    fg.author({"name": _XML_INVALID.sub("", settings.title)})
    fg.generator("syndicate")
    # feedgen: an unset updated() means "now", which changes the bytes on every request.
    fg.updated(doc.updated)
    is_archive = doc.key.page is not None
    if fmt == "rss":
        fg.ttl(settings.ttl_minutes)
        fg.register_extension(
            "syndicate_rss", _RssChannelExtension, _PermissionsLinkEntry, atom=False, rss=True
        )
        channel_ext = fg.syndicate_rss
        channel_ext.links = list(doc.links)
        channel_ext.update_hint = None if is_archive else settings.update_hint
        channel_ext.archive = is_archive
        fg.load_extension("dc", atom=False, rss=True)
    else:
        fg.register_extension(
            "syndicate_atom", _AtomArchiveExtension, _PermissionsLinkEntry, atom=True, rss=False
        )
        fg.syndicate_atom.archive = is_archive
        for rel, href, mime in doc.links:
            fg.link({"href": href, "rel": rel, **({"type": mime} if mime else {})})
    fg.load_extension("media")
    fg.link(href=self_url, rel="self", type=CONTENT_TYPES[fmt].split(";")[0])
    # feedgen: RSS <link> is whichever link came last, so the alternate goes last.
    fg.link(href=doc.home_url, rel="alternate", type="text/html")

    updated = entry_updated(doc.items)
    for article in doc.items:
        # feedgen: add_entry() prepends unless told otherwise, reversing the order.
        fe = fg.add_entry(order="append")
        fe.id(entry_id(article))  # also the RSS guid, isPermaLink="false"
        fe.title(clean_text(article.title) or "Untitled")
        # feedgen: entry links lose rel/type; one bare link is the alternate in both formats.
        fe.link(href=article_url(article, settings.site_url))
        (fe.syndicate_rss if fmt == "rss" else fe.syndicate_atom).href = share_request_url(
            article, settings.site_url
        )
        fe.published(_second(article.published_at or article.created_at))
        fe.updated(updated[article.id])
        # feedgen: without isSummary the description would replace the Atom content.
        summary = summary_text(article)
        if summary:
            fe.description(summary, isSummary=True)
        html = content_html(article, settings.site_url)
        if html:
            # feedgen: type="CDATA" would be written into Atom as a MIME type; "html" escapes.
            fe.content(html, type="html")
        for author in article.authors:
            name = clean_text(author.name)
            if not name:
                continue
            if fmt == "rss":
                # RSS <author> must be an email address; dc:creator takes a name.
                fe.dc.dc_creator(name)
            else:
                fe.author({"name": name, **({"uri": author.url} if author.url else {})})
        categories = [
            {
                "term": c.slug,
                "label": clean_text(c.name) or c.slug,
                "scheme": f"{settings.site_url}/feeds/category/",
            }
            for c in article.categories
        ] + [
            {
                "term": t.slug,
                "label": clean_text(t.name) or t.slug,
                "scheme": f"{settings.site_url}/feeds/tag/",
            }
            for t in article.tags
        ]
        if categories:
            fe.category(categories)
        if article.hero_image_url:
            media = {"url": article.hero_image_url, "medium": "image"}
            mime = _image_type(article.hero_image_url)
            if mime:
                media["type"] = mime
            # feedgen: the default group wraps one item in media:group, which is invalid.
            fe.media.content(media, group=None)
    with _RENDER_LOCK:
        if fmt == "rss":
            return fg.rss_str(pretty=False)
        return fg.atom_str(pretty=False)


def _json_feed(doc: _FeedDocument, settings: FeedSettings) -> bytes:
    feed: dict[str, Any] = {
        "version": JSONFEED_VERSION,
        "title": doc.title,
        "home_page_url": doc.home_url,
        "feed_url": settings.site_url + doc.key.path(),
        "description": doc.description,
        "authors": [{"name": settings.title}],
    }
    older = next((href for rel, href, _ in doc.links if rel == "prev-archive"), None)
    if older:
        # JSON Feed's own paging: next_url leads to older items, like prev-archive.
        feed["next_url"] = older
    if doc.key.page is None and settings.hub_url:
        feed["hubs"] = [{"type": "WebSub", "url": settings.hub_url}]
    items = []
    updated = entry_updated(doc.items)
    for article in doc.items:
        item: dict[str, Any] = {
            "id": entry_id(article),
            "url": article_url(article, settings.site_url),
            "title": clean_text(article.title) or "Untitled",
            "content_html": content_html(article, settings.site_url),
        }
        summary = summary_text(article)
        if summary:
            item["summary"] = summary
        # JSON Feed extensions: an object under a key starting with "_", with an "about" URL.
        item["_syndicate"] = {
            "about": MORE_PERMISSIONS,
            "more_permissions": share_request_url(article, settings.site_url),
        }
        if article.hero_image_url:
            item["image"] = article.hero_image_url
        item["date_published"] = rfc3339(article.published_at or article.created_at)
        item["date_modified"] = updated[article.id].isoformat()
        authors = []
        for author in article.authors:
            name = clean_text(author.name)
            if name:
                authors.append({"name": name, **({"url": author.url} if author.url else {})})
        if authors:
            item["authors"] = authors
        tags = [clean_text(c.name) for c in article.categories] + [
            clean_text(t.name) for t in article.tags
        ]
        if any(tags):
            item["tags"] = [t for t in tags if t]
        items.append(item)
    feed["items"] = items
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode()


def _document(session: Session, key: FeedKey, settings: FeedSettings) -> _FeedDocument:
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
    return _FeedDocument(
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


def render_feed(
    session: Session, key: FeedKey, settings: FeedSettings, *, version: int = 0
) -> RenderedFeed:
    """Build one feed's bytes; raise FeedNotFound for an unknown subject or archive page."""
    if key.fmt not in FORMATS:
        raise FeedNotFound(f"There is no feed format {key.fmt!r}.")
    doc = _document(session, key, settings)
    body = _json_feed(doc, settings) if key.fmt == "json" else _xml_feed(doc, settings)
    is_archive = key.page is not None
    return _rendered(
        body,
        content_type=CONTENT_TYPES[key.fmt],
        last_modified=doc.updated,
        max_age=ARCHIVE_MAX_AGE if is_archive else settings.max_age,
        is_archive=is_archive,
        self_url=settings.site_url + key.path(),
        hub_url=None if is_archive else (settings.hub_url or None),
        item_count=len(doc.items),
        version=version,
    )


def _rendered(body: bytes, **fields: Any) -> RenderedFeed:
    digest = hashlib.sha256(body).hexdigest()[:32]
    # mtime=0 keeps the compressed bytes identical across renders and processes.
    return RenderedFeed(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"{digest}"',
        **fields,
    )


# ---------------------------------------------------------------------------------------------
# OPML, discovery, dashboard


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


def render_opml(session: Session, settings: FeedSettings, *, version: int = 0) -> RenderedFeed:
    """An OPML 2.0 list of every feed, grouped by format so a reader can import one format."""
    feeds = all_feeds(session, settings)
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = f"{settings.title} feeds"
    body = etree.SubElement(root, "body")
    kind_labels = {"site": "", "category": "Category: ", "tag": "Tag: ", "author": "Author: "}
    for fmt in FORMATS:
        group = etree.SubElement(body, "outline", text=FORMAT_LABELS[fmt])
        for feed in feeds:
            text = f"{settings.title}: {kind_labels[feed.kind]}{feed.name}"
            etree.SubElement(
                group,
                "outline",
                type="rss",
                text=text,
                title=text,
                xmlUrl=feed.urls[fmt],
                htmlUrl=settings.site_url + "/",
            )
    data = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    newest = session.scalar(
        select(func.max(Article.updated_at)).where(Article.published_at.is_not(None))
    )
    return _rendered(
        data,
        content_type=CONTENT_TYPES["opml"],
        last_modified=_second(newest) if newest else EPOCH,
        max_age=settings.max_age,
        is_archive=False,
        self_url=settings.site_url + "/feeds/opml.xml",
        hub_url=None,
        item_count=len(feeds),
        version=version,
    )


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
        if listing.kind == "site":
            count, last = site[0] or 0, site[1]
        else:
            count, last = grouped.get(listing.kind, {}).get(listing.slug or "", (0, None))
        stats.append(FeedStats(listing, count, last))
    return stats


# ---------------------------------------------------------------------------------------------
# The cache


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
