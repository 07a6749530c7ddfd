"""Import articles from the publisher's site: RSS/Atom feeds, sitemaps and article pages.

One import is: fetch the source through the URL guard, recognise what it is, turn it into
items, then store them so that a malformed one is reported and skipped without leaving
anything half-stored (savepoints). An item matches an existing article by the source's guid,
else by canonical URL. An item whose rendered content hashes to what is stored costs no write
at all, and new articles are created in batches, which keeps an import within a small factor
of parsing the feed.
"""

from __future__ import annotations

import calendar
import functools
import html
import io
import json
import logging
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import click
import defusedxml.ElementTree as safe_xml
import feedparser
import lxml.html
from flask import Flask
from lxml import etree
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate import events, wording
from syndicate.articles import services
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
from syndicate.db import Page, get_database, paginate
from syndicate.fetch import FetchedResponse, Fetcher, FetchError

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

MAX_CHILD_SITEMAPS = 50
# New articles created per flush; larger batches gain little and fall back in bigger pieces.
BATCH_SIZE = 200
MAX_SITEMAP_URLS = 5_000
MAX_NAMES = 50
MAX_SUMMARY = 500
MAX_GUID = 2000
MAX_STORED_FAILURES = 20
MIN_INTERVAL_MINUTES = 5
SYNC_LEASE = timedelta(hours=1)
MAX_INTERVAL_MINUTES = 7 * 24 * 60
ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "blogposting",
        "reportagenewsarticle",
        "analysisnewsarticle",
        "opinionnewsarticle",
        "backgroundnewsarticle",
        "reviewnewsarticle",
        "techarticle",
        "liveblogposting",
        "report",
    }
)
FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Parts of a page that are never the article's text.
NOT_BODY = (
    "nav",
    "aside",
    "footer",
    "header",
    "script",
    "style",
    "form",
    "noscript",
    "iframe",
    "template",
    "button",
    "svg",
    "input",
    "select",
    "textarea",
    "dialog",
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LOOSE_SLUG_WORDS = frozenset({"index", "article", "articles", "post", "posts", "amp", "feed"})


class SourceError(Exception):
    """The source itself could not be fetched or read; the message is fit to show."""


class ItemProblem(Exception):
    """One item cannot be imported; the message says why and is fit to show."""


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


# --- items --------------------------------------------------------------------------------


@dataclass
class SourceItem:
    """One article as the source describes it, before it is stored."""

    label: str
    guid: str | None
    url: str | None
    data: services.ArticleInput | None = None
    published_at: datetime | None = None
    # When the source says it last changed the item (Atom updated, dateModified).
    updated_at: datetime | None = None
    # published_at was not given but placed by the item's order in the source.
    placed: bool = False
    # A sitemap's lastmod: an article stored after it needs no fetch.
    modified_at: datetime | None = None
    # Sitemap entries: the page must be fetched to know the article.
    needs_page: bool = False
    # Feed items without full content, when page fetching is on.
    page_for_body: bool = False
    problem: str | None = None


def _clean(text: str | None) -> str:
    """Text without control characters (PostgreSQL refuses NUL), whitespace at the ends cut."""
    return _CONTROL.sub("", text or "").strip()


def _fold(text: str | None) -> str:
    return re.sub(r"\s+", " ", _clean(text))


def _http_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL of at most 2000 characters, or None."""
    url = _clean(url)
    if not url:
        return None
    if base:
        try:
            url = urljoin(base, url)
        except ValueError:
            return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or len(url) > 2000:
        return None
    return url


@functools.lru_cache(maxsize=4096)
def _slugify(name: str) -> str:
    """services.slugify, remembered: the same few names recur on every item."""
    return services.slugify(name)


def _names(values: Iterable[str]) -> list[str]:
    """Distinct display names (by slug), at most MAX_NAMES, each with a letter or digit."""
    seen: set[str] = set()
    names: list[str] = []
    for value in values:
        name = _fold(value)[:200]
        if not name or not re.search(r"\w", name):
            continue
        slug = _slugify(name)
        if slug not in seen:
            seen.add(slug)
            names.append(name)
    return names[:MAX_NAMES]


def _split_keywords(value: Any) -> list[str]:
    if isinstance(value, list):
        return [part for v in value for part in _split_keywords(v)]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


def _summary_from(text_or_html: str) -> str:
    """A plain-text summary, cut at a word boundary."""
    text = _clean(services.plain_text(text_or_html))
    if len(text) <= MAX_SUMMARY:
        return text
    cut = text[:MAX_SUMMARY].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.—–-") + "…"


def _text_to_html(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)


def _parse_date(value: Any, what: str) -> datetime | None:
    """An ISO 8601 date or datetime as aware UTC; a date alone means midnight UTC."""
    if value in (None, ""):
        return None
    text = _clean(str(value))
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            moment = datetime.fromisoformat(text + "T00:00:00+00:00")
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ItemProblem(f"its {what} {text[:60]!r} is not a date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _slug_from_url(url: str | None) -> str | None:
    """The last path segment as a slug, when it reads like one (not 'index', not a number)."""
    if not url:
        return None
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if not segments:
        return None
    last = re.sub(r"\.(html?|php|aspx?|jsp)$", "", unquote(segments[-1]), flags=re.I)
    slug = services.slugify(last)
    if len(slug) < 3 or not re.search(r"[a-z]", slug) or slug in _LOOSE_SLUG_WORDS:
        return None
    return slug


# --- recognising and parsing sources ------------------------------------------------------


def _root_tag(body: bytes) -> str:
    """The local name of the document's first element, lower-case ("" if none found)."""
    head = body[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", "replace")
    else:
        text = head.decode("utf-8", "replace")
    text = re.sub(r"<!--.*?(-->|$)", "", text, flags=re.S)
    if re.search(r"<!doctype\s+html", text, flags=re.I):
        return "html"
    match = re.search(r"<(?![?!/])([A-Za-z_][\w.:-]*)", text)
    return match.group(1).rsplit(":", 1)[-1].lower() if match else ""


def detect_kind(response: FetchedResponse) -> SourceKind:
    """Feed, sitemap or page, from the root element first and the content type second."""
    root = _root_tag(response.body)
    if root in ("rss", "feed", "rdf"):
        return SourceKind.FEED
    if root in ("urlset", "sitemapindex"):
        return SourceKind.SITEMAP
    if root == "html" or response.content_type in HTML_TYPES:
        return SourceKind.PAGE
    if response.content_type in FEED_TYPES:
        return SourceKind.FEED
    shown = response.content_type or "no content type"
    raise SourceError(
        f"{response.url} is not an RSS or Atom feed, a sitemap or an HTML page ({shown})"
    )


def _maybe_gunzip(body: bytes, limit: int) -> bytes:
    """Unpack a gzipped document (sitemap.xml.gz is a file, not a Content-Encoding)."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    try:
        inflated = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, limit + 1)
    except zlib.error:
        raise SourceError("the gzipped document is corrupt") from None
    if len(inflated) > limit:
        raise SourceError(f"the gzipped document is larger than {limit} bytes unpacked")
    return inflated


def _first_text(detail_list: Any) -> tuple[str, str, str]:
    """(value, media type, base URL) of the best entry content: HTML before plain text."""
    best = ("", "", "")
    for content in detail_list or []:
        value, kind = content.get("value") or "", (content.get("type") or "").lower()
        if value and "html" in kind:
            return value, kind, content.get("base") or ""
        if value and not best[0]:
            best = (value, kind, content.get("base") or "")
    return best


_URL_ATTRIBUTE = re.compile(
    r"""(\s(href|src|cite|poster|srcset)\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.I
)
_HAS_SCHEME = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|#)", re.I)


def _absolute_url(url: str, base: str) -> str:
    if not url.strip() or _HAS_SCHEME.match(url):
        return url
    try:
        return urljoin(base, url.strip())
    except ValueError:
        return url


def _absolute_links(markup: str, base: str) -> str:
    """Relative href, src, cite, poster and srcset URLs in an HTML fragment made absolute.

    An attribute value is HTML: its character references are decoded first, so that
    ``http&#58;//host/x`` stays that absolute URL and ``&#106;avascript:`` keeps the scheme
    the sanitiser refuses, instead of both being resolved as paths under ``base``.
    """

    def resolve(match: re.Match[str]) -> str:
        raw = match.group(3) if match.group(3) is not None else match.group(4)
        value = html.unescape(raw)
        if match.group(2).lower() == "srcset":
            candidates = []
            for candidate in value.split(","):
                url, _, descriptor = candidate.strip().partition(" ")
                candidates.append(f"{_absolute_url(url, base)} {descriptor}".strip())
            value = ", ".join(candidates)
        else:
            value = _absolute_url(value, base)
        return f'{match.group(1)}"{html.escape(value)}"'

    return _URL_ATTRIBUTE.sub(resolve, markup)


def _feed_authors(entry: Any, fallback: list[str]) -> list[str]:
    names = []
    for author in entry.get("authors") or []:
        name = _fold(author.get("name"))
        # RSS <author> is "email (Name)"; a bare address is not a byline.
        match = re.fullmatch(r"\S+@\S+\s*\((.+)\)", name)
        if match:
            name = match.group(1)
        elif re.fullmatch(r"\S+@\S+", name):
            continue
        names.append(name)
    return _names(names) or fallback


def _feed_image(entry: Any, base: str) -> str | None:
    """The item's image: media:content, media:thumbnail or an image enclosure."""
    candidates = [
        media.get("url")
        for media in entry.get("media_content") or []
        if media.get("medium") == "image" or (media.get("type") or "").startswith("image/")
    ]
    candidates += [thumb.get("url") for thumb in entry.get("media_thumbnail") or []]
    candidates += [
        link.get("href")
        for link in entry.get("links") or []
        if link.get("rel") == "enclosure" and (link.get("type") or "").startswith("image/")
    ]
    for candidate in candidates:
        if url := _http_url(candidate, base):
            return url
    return None


def _feed_date(entry: Any) -> datetime | None:
    for key in ("published", "updated", "created"):
        if entry.get(key):
            problem = ItemProblem(f"its date {_fold(entry.get(key))[:60]!r} is not a date")
            parsed = entry.get(f"{key}_parsed")
            if parsed is None:
                raise problem
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError):
                raise problem from None
    return None


def _feed_modified(entry: Any) -> datetime | None:
    """The entry's own last change (Atom <updated>), if it gives one that can be read."""
    # dict.get: feedparser's own get() answers the published date for a missing updated.
    parsed = dict.get(entry, "updated_parsed")
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None
    except (OverflowError, ValueError, OSError):
        return None


def parse_feed(
    body: bytes, *, url: str, content_type: str = "", fetch_pages: bool = False
) -> list[SourceItem]:
    """Items of an RSS or Atom feed; feedparser gets a stream so it never opens a file or URL."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    # nh3 sanitises later, and _absolute_links does feedparser's link resolution in a
    # fraction of its time (it re-parses every HTML fragment); both would only cost time.
    parsed = feedparser.parse(
        io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        detail = f": {problem}" if problem else ""
        raise SourceError(f"{url} is not an RSS or Atom feed{detail}")
    fallback_authors: list[str] = []
    if str(parsed.get("version", "")).startswith("atom"):
        # Atom entries inherit the feed's authors.
        fallback_authors = _feed_authors(parsed.feed, [])
    return [
        _feed_item(entry, position, fallback_authors, fetch_pages, url)
        for position, entry in enumerate(parsed.entries, 1)
    ]


def _feed_item(
    entry: Any, position: int, fallback_authors: list[str], fetch_pages: bool, feed_url: str
) -> SourceItem:
    guid = _clean(entry.get("id")) or None
    link = _http_url(entry.get("link"))
    title_detail = entry.get("title_detail") or {}
    title = entry.get("title") or ""
    if "html" in (title_detail.get("type") or ""):
        title = services.plain_text(title)
    title = _fold(title)
    label = guid or link or (f"“{title[:80]}”" if title else f"item {position}")
    item = SourceItem(label=label, guid=guid, url=link)
    try:
        if not title and not link:
            raise ItemProblem("it has neither a title nor a link")
        if guid and len(guid) > MAX_GUID:
            raise ItemProblem(f"its guid is longer than {MAX_GUID} characters")
        content, content_type, base = _first_text(entry.get("content"))
        summary_html = entry.get("summary") or ""
        if not content:
            detail = entry.get("summary_detail") or {}
            content, content_type = summary_html, detail.get("type") or "text/html"
            base = detail.get("base") or ""
            summary_html = ""
            item.page_for_body = fetch_pages and link is not None
        if not title and not item.page_for_body:
            raise ItemProblem("it has no title")
        base = base or feed_url
        body = _absolute_links(content, base) if "html" in content_type else _text_to_html(content)
        hero = _feed_image(entry, base)
        categories, tags = [], []
        keywords = set(_split_keywords(entry.get("media_keywords", "")))
        for tag in entry.get("tags") or []:
            term, scheme = tag.get("term") or "", (tag.get("scheme") or "").lower()
            if term in keywords or "tag" in scheme or "keyword" in scheme:
                tags.append(term)
            else:
                categories.append(term)
        item.published_at = _feed_date(entry)
        item.updated_at = _feed_modified(entry)
        item.data = services.ArticleInput(
            title=title,
            body=_clean(body),
            summary=_summary_from(summary_html or body),
            canonical_url=link,
            hero_image_url=hero,
            # Feeds carry no alt text; the title stands in, as services require one.
            hero_image_alt=title if hero else "",
            authors=_feed_authors(entry, fallback_authors),
            categories=_names(categories),
            tags=_names(tags),
        )
    except ItemProblem as exc:
        item.problem = str(exc)
    return item


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(element: Any, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return _clean(child.text)
    return ""


def _read_sitemap(body: bytes, url: str, limit: int) -> Any:
    try:
        return safe_xml.fromstring(_maybe_gunzip(body, limit))
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - ParseError and defusedxml's refusals alike
        raise SourceError(f"{url} is not a well-formed sitemap: {exc}") from None


def parse_sitemap(
    response: FetchedResponse, *, fetcher: Fetcher, summary: ImportSummary
) -> list[SourceItem]:
    """Entries of a sitemap or sitemap index (child sitemaps fetched, both capped)."""
    limit = fetcher.max_bytes
    root = _read_sitemap(response.body, response.url, limit)
    if _local(root.tag) == "sitemapindex":
        children = [_child_text(s, "loc") for s in root if _local(s.tag) == "sitemap"]
        children = [c for c in children if c]
        if len(children) > MAX_CHILD_SITEMAPS:
            summary.fail(
                response.url,
                f"the index lists {len(children)} sitemaps; only the "
                f"first {MAX_CHILD_SITEMAPS} were read",
            )
            children = children[:MAX_CHILD_SITEMAPS]
        roots = []
        for child in children:
            child_url = _http_url(child, response.url)
            if child_url is None:
                summary.fail(child[:300], "it is not an http(s) URL")
                continue
            try:
                fetched = fetcher.get(child_url)
                child_root = _read_sitemap(fetched.body, fetched.url, limit)
            except (FetchError, SourceError) as exc:
                summary.fail(child_url, str(exc))
                continue
            roots.append((child_root, fetched.url))
    elif _local(root.tag) == "urlset":
        roots = [(root, response.url)]
    else:
        raise SourceError(f"{response.url} is not a sitemap (its root is <{_local(root.tag)}>)")
    items: list[SourceItem] = []
    seen: set[str] = set()
    for sitemap_root, base in roots:
        for entry in sitemap_root:
            if _local(entry.tag) != "url":
                continue
            loc = _child_text(entry, "loc")
            page_url = _http_url(loc, base)
            item = SourceItem(
                label=page_url or loc[:300] or "an entry without <loc>",
                guid=page_url,
                url=page_url,
                needs_page=True,
            )
            if page_url is None:
                item.problem = "its <loc> is not an http(s) URL"
            elif page_url in seen:
                continue
            else:
                seen.add(page_url)
                try:
                    item.modified_at = _parse_date(_child_text(entry, "lastmod"), "lastmod")
                except ItemProblem:
                    item.modified_at = None  # a bad lastmod only costs a fetch
            items.append(item)
    if len(items) > MAX_SITEMAP_URLS:
        summary.fail(
            response.url,
            f"the sitemap lists {len(items)} URLs; only the first {MAX_SITEMAP_URLS} were read",
        )
        items = items[:MAX_SITEMAP_URLS]
    return items


def _decode_html(body: bytes, charset: str | None) -> str:
    """The page as text: HTTP charset, else <meta charset>, else UTF-8, else Windows-1252."""
    candidates = [charset] if charset else []
    head = body[:4096].decode("ascii", "replace")
    meta = re.search(r"<meta[^>]+charset\s*=\s*[\"']?([\w.:-]+)", head, flags=re.I)
    if meta:
        candidates.append(meta.group(1))
    for candidate in candidates:
        try:
            return body.decode(candidate, "replace")
        except LookupError:
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", "replace")


def _ld_nodes(data: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 6:
        return
    if isinstance(data, list):
        for value in data:
            yield from _ld_nodes(value, depth + 1)
    elif isinstance(data, dict):
        yield data
        if "@graph" in data:
            yield from _ld_nodes(data["@graph"], depth + 1)


def _ld_article(doc: Any) -> dict[str, Any]:
    for script in doc.xpath("//script[@type='application/ld+json']"):
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        for node in _ld_nodes(data):
            kinds = node.get("@type")
            kinds = kinds if isinstance(kinds, list) else [kinds]
            if any(isinstance(k, str) and k.lower() in ARTICLE_TYPES for k in kinds):
                return node
    return {}


def _ld_text(value: Any) -> str:
    if isinstance(value, list):
        return _ld_text(value[0]) if value else ""
    if isinstance(value, dict):
        return _ld_text(value.get("name") or value.get("@value") or value.get("@id") or "")
    return value if isinstance(value, str) else ""


def _ld_names(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [_ld_text(v) for v in values if _ld_text(v)]


def _ld_image(value: Any) -> tuple[str, str]:
    if isinstance(value, list):
        return _ld_image(value[0]) if value else ("", "")
    if isinstance(value, dict):
        return _ld_text(value.get("url") or value.get("contentUrl")), _ld_text(
            value.get("caption") or value.get("description")
        )
    return (value, "") if isinstance(value, str) else ("", "")


def _meta(doc: Any) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for element in doc.xpath("//meta[@content]"):
        key = (element.get("property") or element.get("name") or "").strip().lower()
        if key:
            found.setdefault(key, []).append(element.get("content") or "")
    return found


def _readable_body(doc: Any, title: str) -> str:
    """The article's markup: articleBody, else <article>, else <main>, else <body>; chrome cut."""
    for path in ("//*[@itemprop='articleBody']", "//article", "//main", "//body"):
        found = doc.xpath(path)
        if found:
            container = found[0]
            break
    else:
        return ""
    for element in container.xpath(" | ".join(f".//{tag}" for tag in NOT_BODY)):
        element.drop_tree()
    for heading in container.xpath(".//h1"):
        if _fold(heading.text_content()) == title:
            heading.drop_tree()
    parts = [html.escape(container.text or "", quote=False)]
    parts += [lxml.html.tostring(child, encoding="unicode") for child in container]
    return "".join(parts).strip()


def parse_page(
    body: bytes, *, url: str, charset: str | None = None, guid: str | None = None
) -> SourceItem:
    """One article page: JSON-LD Article, OpenGraph and <meta>, plus the readable body."""
    item = SourceItem(label=guid or url, guid=guid, url=url)
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", _decode_html(body, charset))
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        item.problem = "the page is empty or not HTML"
        return item
    doc.make_links_absolute(url, resolve_base_href=True, handle_failures="discard")
    ld, meta = _ld_article(doc), _meta(doc)

    def first(*keys: str) -> str:
        for key in keys:
            for value in meta.get(key, []):
                if _fold(value):
                    return _fold(value)
        return ""

    page_title = _fold(doc.findtext(".//title") or "")
    title = _fold(_ld_text(ld.get("headline") or ld.get("name"))) or first("og:title") or page_title
    canonical_links = doc.xpath("//link[@rel='canonical']/@href")
    canonical = (
        _http_url(canonical_links[0] if canonical_links else None, url)
        or _http_url(first("og:url"), url)
        or _http_url(_ld_text(ld.get("mainEntityOfPage") or ld.get("url")), url)
        or url
    )
    item.url = canonical
    item.label = guid or canonical
    image, image_alt = _ld_image(ld.get("image"))
    hero = _http_url(first("og:image", "og:image:url", "twitter:image"), url) or _http_url(
        image, url
    )
    alt = first("og:image:alt", "twitter:image:alt") or _fold(image_alt)
    authors = (
        _ld_names(ld.get("author"))
        or meta.get("author", [])
        or [a for a in meta.get("article:author", []) if not _http_url(a)]
    )
    categories = _ld_names(ld.get("articleSection")) or meta.get("article:section", [])
    tags = (
        _split_keywords(ld.get("keywords"))
        or meta.get("article:tag", [])
        or _split_keywords(first("keywords"))
    )
    try:
        if not title:
            raise ItemProblem("the page has no title")
        published = _parse_date(
            ld.get("datePublished")
            or first("article:published_time")
            or ld.get("dateModified")
            or first("article:modified_time"),
            "publication date",
        )
        # lxml resolved the other links already; it leaves srcset alone.
        body_html = _absolute_links(_readable_body(doc, title), url)
        if not services.plain_text(body_html) and isinstance(ld.get("articleBody"), str):
            body_html = _text_to_html(ld["articleBody"])
        description = _fold(_ld_text(ld.get("description"))) or first(
            "og:description", "description"
        )
        item.published_at = published
        try:
            item.updated_at = _parse_date(
                ld.get("dateModified") or first("article:modified_time"), "modification date"
            )
        except ItemProblem:
            item.updated_at = None  # an unreadable modification date only costs precision
        item.data = services.ArticleInput(
            title=title,
            body=_clean(body_html),
            summary=_summary_from(description or body_html),
            canonical_url=canonical,
            hero_image_url=hero,
            hero_image_alt=alt or (title if hero else ""),
            authors=_names(authors),
            categories=_names(categories),
            tags=_names(tags),
        )
    except ItemProblem as exc:
        item.problem = str(exc)
    return item


# --- storing ------------------------------------------------------------------------------


@dataclass
class _Known:
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
    def of(cls, article: Article) -> _Known:
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


class _Index:
    """Existing articles by guid (this source) and canonical URL, loaded in few queries."""

    def __init__(self, session: Session, source: Source) -> None:
        self.session = session
        self.source_id = source.id
        self.by_guid: dict[str, _Known] = {}
        self.by_url: dict[str, _Known] = {}
        self.looked_up: set[str] = set()
        # Articles an earlier item of this import matched or created: one item each.
        self.taken: set[int] = set()
        rows = session.execute(select(*_KNOWN_COLUMNS).where(Article.source_id == source.id))
        for row in rows:
            self.remember(_Known(*row))

    def remember(self, known: _Known) -> None:
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
                self.remember(_Known(*row))
            self.looked_up.update(chunk)

    def find(self, guid: str | None, url: str | None) -> _Known | None:
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
            found.setdefault(_slugify(name), name)
    return [(name, slug) for slug, name in found.items()]


def expected_hash(data: services.ArticleInput) -> str:
    """The content hash an article would get from ``data``, without touching the database.

    ``services.content_hash`` stays the one definition: it is given a plain stand-in with the
    attributes it reads (no ORM objects, which would cost more than the hash). A name stored
    with other spelling only makes the check miss and take the full update path.
    """
    preview = SimpleNamespace(
        title=data.title.strip(),
        summary=data.summary.strip(),
        body_html=services.render_body(data.body, data.body_format),
        canonical_url=(data.canonical_url or "").strip() or None,
        hero_image_url=(data.hero_image_url or "").strip() or None,
        hero_image_alt=data.hero_image_alt.strip(),
        authors=[SimpleNamespace(name=name) for name, _ in _normalised(data.authors)],
        categories=[SimpleNamespace(slug=slug) for _, slug in _normalised(data.categories)],
        tags=[SimpleNamespace(slug=slug) for _, slug in _normalised(data.tags)],
    )
    return services.content_hash(preview)  # type: ignore[arg-type]


def _fetch_page(item: SourceItem, fetcher: Fetcher) -> SourceItem:
    assert item.url is not None
    try:
        response = fetcher.get(item.url)
    except FetchError as exc:
        raise ItemProblem(str(exc)) from None
    return parse_page(response.body, url=response.url, charset=response.charset, guid=item.guid)


def _dated_by(item: SourceItem, page: SourceItem) -> SourceItem:
    """The item with its page's dates when the source gave none and the page has them."""
    if not item.placed or page.published_at is None:
        return item
    return replace(
        item,
        published_at=page.published_at,
        updated_at=item.updated_at or page.updated_at,
        placed=False,
    )


def _page_item(item: SourceItem, fetcher: Fetcher) -> SourceItem:
    """Fetch the page behind a sitemap entry or a summary-only feed item."""
    page = _fetch_page(item, fetcher)
    if not item.page_for_body:
        if page.published_at is not None or page.problem:
            return page
        return replace(page, published_at=item.published_at, placed=item.placed)
    if page.problem or page.data is None or item.data is None:
        raise ItemProblem(page.problem or "its page has no article")
    # The feed knows the item best; the page only supplies the full text (and a date the
    # feed lacks).
    data = replace(item.data, body=page.data.body, title=item.data.title or page.data.title)
    return _dated_by(replace(item, data=data, page_for_body=False), page)


def _page_dated(item: SourceItem, fetcher: Fetcher) -> SourceItem:
    """A new item without a date takes its page's, when the page can be read and has one."""
    try:
        return _dated_by(item, _fetch_page(item, fetcher))
    except ItemProblem:
        return item


def _without_repeated_guids(items: list[SourceItem]) -> list[SourceItem]:
    """Items whose guid another item of the source repeats, matched by their link instead.

    A guid that two items share identifies neither: matched by it, each would overwrite the
    other's article on every sync.
    """
    counts = Counter(item.guid for item in items if item.guid)
    return [
        replace(item, guid=None) if item.url and counts[item.guid] > 1 else item for item in items
    ]


def _place_undated(
    items: list[SourceItem], index: _Index, *, now: datetime, floor: Callable[[], datetime]
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
        return name, _slugify(name)

    def prepare(self, model: type, names: Iterable[str]) -> None:
        wanted: dict[str, str] = {}
        for raw in names:
            name, slug = self._key(raw)
            if name and (model, slug) not in self.known:
                wanted.setdefault(slug, name)
        slugs = sorted(wanted)
        for start in range(0, len(slugs), 500):
            for found in self.session.scalars(
                select(model).where(model.slug.in_(slugs[start : start + 500]))  # type: ignore[attr-defined]
            ):
                self.known[(model, found.slug)] = found
        missing = [
            model(name=wanted[slug], slug=slug) for slug in slugs if (model, slug) not in self.known
        ]
        if missing:
            self.session.add_all(missing)
            self.session.flush()
            self.known.update({(model, found.slug): found for found in missing})

    def named(self, model: type, names: Iterable[str]) -> list[Any]:
        found: list[Any] = []
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
    return _slug_from_url(item.url) or services.slugify(item.data.title)


class _Creator:
    """Creates and publishes new articles in batches: one flush per batch, not three per item.

    Each article gets exactly what ``services.create_article`` and ``publish_article`` would
    give it (their validation, rendering, hash and event payload are called, not copied). A
    batch the database refuses is rolled back and its items go through those services one by
    one, each in its own savepoint, so a bad item still fails alone.
    """

    def __init__(
        self,
        session: Session,
        index: _Index,
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
                for model, attribute in (
                    (Author, "authors"),
                    (Category, "categories"),
                    (Tag, "tags"),
                ):
                    self.taxonomy.prepare(
                        model, (name for item in batch for name in getattr(item.data, attribute))
                    )
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
        self.index.remember(_Known.of(article))
        self.index.taken.add(article.id)


def _store(
    session: Session,
    item: SourceItem,
    index: _Index,
    creator: _Creator,
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
        item = _page_item(item, fetcher)
        if item.problem:
            raise ItemProblem(item.problem)
        if creator.waiting_for(item):
            creator.flush()
        known = known or index.find(item.guid, item.url)
    elif item.page_for_body:
        item = _page_item(item, fetcher)
    elif known is None and item.placed and item.url:
        item = _page_dated(item, fetcher)
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
    index.remember(_Known.of(article))
    return "updated" if changed else "unchanged"


def _oldest_publication(session: Session, now: datetime) -> datetime:
    oldest = session.scalar(select(func.min(Article.published_at)))
    return min(oldest, now) if oldest else now


def _fetch(fetcher: Fetcher, url: str) -> FetchedResponse:
    try:
        return fetcher.get(url)
    except FetchError as exc:
        raise SourceError(str(exc)) from None


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
    response = _fetch(fetcher, url)
    response = replace(response, body=_maybe_gunzip(response.body, fetcher.max_bytes))
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
        items = parse_sitemap(response, fetcher=fetcher, summary=summary)
    else:
        items = [parse_page(response.body, url=response.url, charset=response.charset, guid=url)]
    if source is None:
        source = session.scalar(select(Source).where(Source.url == url))
    if source is None:
        source = Source(url=url, kind=resolved, created_at=now)
        session.add(source)
        session.flush()
    summary.source_id = source.id
    items = _without_repeated_guids(items)
    index = _Index(session, source)
    index.prefetch(item.url for item in items)
    _place_undated(items, index, now=now, floor=lambda: _oldest_publication(session, now))
    creator = _Creator(session, index, summary, source=source, now=now, actor_id=actor_id)
    total = len(items)
    for done, item in enumerate(items, 1):
        try:
            outcome = _store(
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
            log.exception("importing %s from %s failed", item.label, url)
            summary.fail(item.label, f"it could not be stored ({type(exc).__name__})")
        else:
            if outcome is not None:
                setattr(summary, outcome, getattr(summary, outcome) + 1)
        if progress is not None:
            progress(done, total)
    creator.flush()
    return summary


# --- sources ------------------------------------------------------------------------------


def check_source_url(url: str) -> str:
    """An absolute http(s) URL of at most 2000 characters, or SourceError saying why not."""
    checked = _http_url(url)
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
