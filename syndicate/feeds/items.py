"""What a feed shows of one article, the same in every format: its id, links, text, content
with absolute URLs, and the updated time no other item of the feed shares.
"""

from __future__ import annotations

import mimetypes
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import urljoin, urlsplit
from xml.sax.saxutils import quoteattr

import lxml.html
from lxml import etree

from syndicate.articles.models import (
    Article,
)
from syndicate.articles.services import plain_text, sanitize_html
from syndicate.feeds.context import whole_second

# XML 1.0 refuses these characters outright; lxml raises on them.
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_URL_ATTRIBUTES = ("href", "src", "cite")


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
    return XML_INVALID.sub("", plain_text(text or ""))


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
    body = sanitize_html(XML_INVALID.sub("", article.body_html or ""))
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
    per_second = Counter(whole_second(a.updated_at) for a in items)
    shown: dict[int, datetime] = {}
    taken: set[datetime] = set()
    for article in sorted(items, key=lambda a: a.id):
        moment = whole_second(article.updated_at)
        if per_second[moment] > 1:
            moment += timedelta(microseconds=article.id % 1_000_000)
            while moment in taken:
                moment += timedelta(microseconds=1)
        taken.add(moment)
        shown[article.id] = moment
    return shown


def rfc3339(moment: datetime) -> str:
    return whole_second(moment).isoformat()


def image_type(url: str) -> str | None:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else None
