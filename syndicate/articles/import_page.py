"""Article pages: reading one, and completing a feed or sitemap item from its page.

An item of a sitemap is only a URL, and a feed item may carry a summary alone or no date:
the page behind it supplies what is missing (see ``import_store``).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import lxml.html
from lxml import etree

from syndicate.articles import services
from syndicate.articles.import_parse import (
    ItemProblem,
    SourceItem,
    absolute_links,
    clean_text,
    display_names,
    fold_spaces,
    http_url,
    parse_date,
    split_keywords,
    summary_from,
    text_to_html,
)
from syndicate.fetch import Fetcher, FetchError

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
        if fold_spaces(heading.text_content()) == title:
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
                if fold_spaces(value):
                    return fold_spaces(value)
        return ""

    page_title = fold_spaces(doc.findtext(".//title") or "")
    title = (
        fold_spaces(_ld_text(ld.get("headline") or ld.get("name")))
        or first("og:title")
        or page_title
    )
    canonical_links = doc.xpath("//link[@rel='canonical']/@href")
    canonical = (
        http_url(canonical_links[0] if canonical_links else None, url)
        or http_url(first("og:url"), url)
        or http_url(_ld_text(ld.get("mainEntityOfPage") or ld.get("url")), url)
        or url
    )
    item.url = canonical
    item.label = guid or canonical
    image, image_alt = _ld_image(ld.get("image"))
    hero = http_url(first("og:image", "og:image:url", "twitter:image"), url) or http_url(image, url)
    alt = first("og:image:alt", "twitter:image:alt") or fold_spaces(image_alt)
    authors = (
        _ld_names(ld.get("author"))
        or meta.get("author", [])
        or [a for a in meta.get("article:author", []) if not http_url(a)]
    )
    categories = _ld_names(ld.get("articleSection")) or meta.get("article:section", [])
    tags = (
        split_keywords(ld.get("keywords"))
        or meta.get("article:tag", [])
        or split_keywords(first("keywords"))
    )
    try:
        if not title:
            raise ItemProblem("the page has no title")
        published = parse_date(
            ld.get("datePublished")
            or first("article:published_time")
            or ld.get("dateModified")
            or first("article:modified_time"),
            "publication date",
        )
        # lxml resolved the other links already; it leaves srcset alone.
        body_html = absolute_links(_readable_body(doc, title), url)
        if not services.plain_text(body_html) and isinstance(ld.get("articleBody"), str):
            body_html = text_to_html(ld["articleBody"])
        description = fold_spaces(_ld_text(ld.get("description"))) or first(
            "og:description", "description"
        )
        item.published_at = published
        try:
            item.updated_at = parse_date(
                ld.get("dateModified") or first("article:modified_time"), "modification date"
            )
        except ItemProblem:
            item.updated_at = None  # an unreadable modification date only costs precision
        item.data = services.ArticleInput(
            title=title,
            body=clean_text(body_html),
            summary=summary_from(description or body_html),
            canonical_url=canonical,
            hero_image_url=hero,
            hero_image_alt=alt or (title if hero else ""),
            authors=display_names(authors),
            categories=display_names(categories),
            tags=display_names(tags),
        )
    except ItemProblem as exc:
        item.problem = str(exc)
    return item


# --- completing items from their pages ----------------------------------------------------


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


def item_from_page(item: SourceItem, fetcher: Fetcher) -> SourceItem:
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


def dated_from_page(item: SourceItem, fetcher: Fetcher) -> SourceItem:
    """A new item without a date takes its page's, when the page can be read and has one."""
    try:
        return _dated_by(item, _fetch_page(item, fetcher))
    except ItemProblem:
        return item
