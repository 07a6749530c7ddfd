"""A feed's bytes: RSS 2.0 and Atom 1.0 through feedgen with our extensions, JSON Feed 1.1 by
hand, and OPML.

feedgen 1.0.0 has known defects (reference/feeds.md §2); each workaround is marked "feedgen:".
"""

from __future__ import annotations

import json
import threading
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.articles.models import (
    Article,
)
from syndicate.feeds.archives import FeedDocument, feed_document
from syndicate.feeds.conditional import RenderedFeed, rendered
from syndicate.feeds.context import (
    CONTENT_TYPES,
    EPOCH,
    FORMAT_LABELS,
    FORMATS,
    FeedKey,
    FeedNotFound,
    FeedSettings,
    whole_second,
)
from syndicate.feeds.items import (
    XML_INVALID,
    article_url,
    clean_text,
    content_html,
    entry_id,
    entry_updated,
    image_type,
    rfc3339,
    share_request_url,
    summary_text,
)
from syndicate.feeds.listing import all_feeds

ATOM_NS = "http://www.w3.org/2005/Atom"
SY_NS = "http://purl.org/rss/1.0/modules/syndication/"
FH_NS = "http://purl.org/syndication/history/1.0"
# ccREL: "more permissions" points at where to ask for rights beyond what the work grants.
MORE_PERMISSIONS = "http://creativecommons.org/ns#morePermissions"
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
# Readers only see the current feed this often anyway; archive pages never change once full.
ARCHIVE_MAX_AGE = 30 * 24 * 3600


# ---------------------------------------------------------------------------------------------
# feedgen extensions


class _PermissionsLinkEntry(BaseEntryExtension):  # type: ignore[misc]  # feedgen: no types
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


class _RssChannelExtension(BaseExtension):  # type: ignore[misc]  # feedgen: no types
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


class _AtomArchiveExtension(BaseExtension):  # type: ignore[misc]  # feedgen: no types
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


def _xml_feed(doc: FeedDocument, settings: FeedSettings) -> bytes:
    fmt = doc.key.fmt
    self_url = settings.site_url + doc.key.path()
    fg = FeedGenerator()
    fg.id(settings.site_url + doc.key.current().path())
    fg.title(XML_INVALID.sub("", doc.title))
    fg.description(XML_INVALID.sub("", doc.description))
    fg.author({"name": XML_INVALID.sub("", settings.title)})
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
        fe.published(whole_second(article.published_at or article.created_at))
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
            mime = image_type(article.hero_image_url)
            if mime:
                media["type"] = mime
            # feedgen: the default group wraps one item in media:group, which is invalid.
            fe.media.content(media, group=None)
    with _RENDER_LOCK:
        document: bytes = fg.rss_str(pretty=False) if fmt == "rss" else fg.atom_str(pretty=False)
    return document


def _json_feed(doc: FeedDocument, settings: FeedSettings) -> bytes:
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


def render_feed(
    session: Session, key: FeedKey, settings: FeedSettings, *, version: int = 0
) -> RenderedFeed:
    """Build one feed's bytes; raise FeedNotFound for an unknown subject or archive page."""
    if key.fmt not in FORMATS:
        raise FeedNotFound(f"There is no feed format {key.fmt!r}.")
    doc = feed_document(session, key, settings)
    body = _json_feed(doc, settings) if key.fmt == "json" else _xml_feed(doc, settings)
    is_archive = key.page is not None
    return rendered(
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
    return rendered(
        data,
        content_type=CONTENT_TYPES["opml"],
        last_modified=whole_second(newest) if newest else EPOCH,
        max_age=settings.max_age,
        is_archive=False,
        self_url=settings.site_url + "/feeds/opml.xml",
        hub_url=None,
        item_count=len(feeds),
        version=version,
    )
