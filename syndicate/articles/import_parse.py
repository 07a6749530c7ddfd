"""Turning a fetched feed or sitemap into items, and the text, URL and date helpers they share.

The second stage of an import (see ``importing``): each item says what the source says of
one article, or why it cannot be imported (``SourceItem.problem``); nothing is stored yet.
Article pages are read in ``import_page``.
"""

from __future__ import annotations

import calendar
import functools
import html
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import defusedxml.ElementTree as safe_xml
import feedparser

from syndicate.articles import services
from syndicate.articles.import_fetch import SourceError, maybe_gunzip
from syndicate.fetch import FetchedResponse, Fetcher, FetchError

MAX_CHILD_SITEMAPS = 50
MAX_SITEMAP_URLS = 5_000
MAX_NAMES = 50
MAX_SUMMARY = 500
MAX_GUID = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LOOSE_SLUG_WORDS = frozenset({"index", "article", "articles", "post", "posts", "amp", "feed"})


class ItemProblem(Exception):
    """One item cannot be imported; the message says why and is fit to show."""


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


def clean_text(text: str | None) -> str:
    """Text without control characters (PostgreSQL refuses NUL), whitespace at the ends cut."""
    return _CONTROL.sub("", text or "").strip()


def fold_spaces(text: str | None) -> str:
    return re.sub(r"\s+", " ", clean_text(text))


def http_url(url: str | None, base: str | None = None) -> str | None:
    """An absolute http(s) URL of at most 2000 characters, or None."""
    url = clean_text(url)
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
def cached_slugify(name: str) -> str:
    """services.slugify, remembered: the same few names recur on every item."""
    return services.slugify(name)


def display_names(values: Iterable[str]) -> list[str]:
    """Distinct display names (by slug), at most MAX_NAMES, each with a letter or digit."""
    seen: set[str] = set()
    names: list[str] = []
    for value in values:
        name = fold_spaces(value)[:200]
        if not name or not re.search(r"\w", name):
            continue
        slug = cached_slugify(name)
        if slug not in seen:
            seen.add(slug)
            names.append(name)
    return names[:MAX_NAMES]


def split_keywords(value: Any) -> list[str]:
    if isinstance(value, list):
        return [part for v in value for part in split_keywords(v)]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


def summary_from(text_or_html: str) -> str:
    """A plain-text summary, cut at a word boundary."""
    text = clean_text(services.plain_text(text_or_html))
    if len(text) <= MAX_SUMMARY:
        return text
    cut = text[:MAX_SUMMARY].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.—–-") + "…"


def text_to_html(text: str) -> str:
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)


def parse_date(value: Any, what: str) -> datetime | None:
    """An ISO 8601 date or datetime as aware UTC; a date alone means midnight UTC."""
    if value in (None, ""):
        return None
    text = clean_text(str(value))
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


def slug_from_url(url: str | None) -> str | None:
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


def absolute_links(markup: str, base: str) -> str:
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
        name = fold_spaces(author.get("name"))
        # RSS <author> is "email (Name)"; a bare address is not a byline.
        match = re.fullmatch(r"\S+@\S+\s*\((.+)\)", name)
        if match:
            name = match.group(1)
        elif re.fullmatch(r"\S+@\S+", name):
            continue
        names.append(name)
    return display_names(names) or fallback


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
        if url := http_url(candidate, base):
            return url
    return None


def _feed_date(entry: Any) -> datetime | None:
    for key in ("published", "updated", "created"):
        if entry.get(key):
            problem = ItemProblem(f"its date {fold_spaces(entry.get(key))[:60]!r} is not a date")
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
    # nh3 sanitises later, and absolute_links does feedparser's link resolution in a
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
    guid = clean_text(entry.get("id")) or None
    link = http_url(entry.get("link"))
    title_detail = entry.get("title_detail") or {}
    title = entry.get("title") or ""
    if "html" in (title_detail.get("type") or ""):
        title = services.plain_text(title)
    title = fold_spaces(title)
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
        body = absolute_links(content, base) if "html" in content_type else text_to_html(content)
        hero = _feed_image(entry, base)
        categories, tags = [], []
        keywords = set(split_keywords(entry.get("media_keywords", "")))
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
            body=clean_text(body),
            summary=summary_from(summary_html or body),
            canonical_url=link,
            hero_image_url=hero,
            # Feeds carry no alt text; the title stands in, as services require one.
            hero_image_alt=title if hero else "",
            authors=_feed_authors(entry, fallback_authors),
            categories=display_names(categories),
            tags=display_names(tags),
        )
    except ItemProblem as exc:
        item.problem = str(exc)
    return item


# --- sitemaps -----------------------------------------------------------------------------


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _child_text(element: Any, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return clean_text(child.text)
    return ""


def _read_sitemap(body: bytes, url: str, limit: int) -> Any:
    try:
        return safe_xml.fromstring(maybe_gunzip(body, limit))
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - ParseError and defusedxml's refusals alike
        raise SourceError(f"{url} is not a well-formed sitemap: {exc}") from None


def parse_sitemap(
    response: FetchedResponse, *, fetcher: Fetcher, fail: Callable[[str, str], None]
) -> list[SourceItem]:
    """Entries of a sitemap or sitemap index (child sitemaps fetched, both capped).

    ``fail(what, why)`` is told of a child sitemap that cannot be read and of a cap reached.
    """
    limit = fetcher.max_bytes
    root = _read_sitemap(response.body, response.url, limit)
    if _local(root.tag) == "sitemapindex":
        children = [_child_text(s, "loc") for s in root if _local(s.tag) == "sitemap"]
        children = [c for c in children if c]
        if len(children) > MAX_CHILD_SITEMAPS:
            fail(
                response.url,
                f"the index lists {len(children)} sitemaps; only the "
                f"first {MAX_CHILD_SITEMAPS} were read",
            )
            children = children[:MAX_CHILD_SITEMAPS]
        roots = []
        for child in children:
            child_url = http_url(child, response.url)
            if child_url is None:
                fail(child[:300], "it is not an http(s) URL")
                continue
            try:
                fetched = fetcher.get(child_url)
                child_root = _read_sitemap(fetched.body, fetched.url, limit)
            except (FetchError, SourceError) as exc:
                fail(child_url, str(exc))
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
            page_url = http_url(loc, base)
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
                    item.modified_at = parse_date(_child_text(entry, "lastmod"), "lastmod")
                except ItemProblem:
                    item.modified_at = None  # a bad lastmod only costs a fetch
            items.append(item)
    if len(items) > MAX_SITEMAP_URLS:
        fail(
            response.url,
            f"the sitemap lists {len(items)} URLs; only the first {MAX_SITEMAP_URLS} were read",
        )
        items = items[:MAX_SITEMAP_URLS]
    return items
