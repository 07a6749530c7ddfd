"""Fetching a source through the URL guard and recognising what it is.

The first stage of an import (see ``importing``): the body fetched, unpacked when it is a
gzipped file, and told apart as a feed, a sitemap or an article page.
"""

from __future__ import annotations

import re
import zlib

from syndicate.articles.models import SourceKind
from syndicate.errors import DomainError
from syndicate.fetch import FetchedResponse, Fetcher, FetchError

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class SourceError(DomainError):
    """The source itself could not be fetched or read; the message is fit to show."""


def fetch_source(fetcher: Fetcher, url: str) -> FetchedResponse:
    """The source's response, or SourceError saying why it could not be fetched."""
    try:
        return fetcher.get(url)
    except FetchError as exc:
        raise SourceError(str(exc)) from None


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


def maybe_gunzip(body: bytes, limit: int) -> bytes:
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
