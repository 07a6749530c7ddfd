"""What every feed module shares: which feed (``FeedKey``) at which path, in which format,
shaped by which ``FeedSettings``; ``FeedNotFound``; and the whole seconds feeds show.

The modules beside it: ``archives`` (which articles a feed holds, RFC 5005 pages),
``items`` (what a feed shows of one article), ``rendering`` (RSS and Atom through feedgen,
JSON Feed, OPML), ``listing`` (every feed: discovery links, the dashboard's counts),
``conditional`` (the bytes in both encodings with their validators), ``cache`` (rendered feeds
checked against the content version), ``freshness`` (learning that version cheaply) and
``websub``. Nothing here touches ``request``: a feed is a function of the database and
``FeedSettings``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from syndicate.config import site_name

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


EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


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


def whole_second(moment: datetime) -> datetime:
    """The moment in UTC without its fraction: feeds and HTTP dates show whole seconds."""
    return moment.astimezone(UTC).replace(microsecond=0)
