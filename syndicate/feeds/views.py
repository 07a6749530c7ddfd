"""Feed URLs with conditional GET and gzip, the WebSub hub endpoint and the Feeds dashboard."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, current_app, render_template, request, session
from werkzeug.wrappers import Response

from syndicate.articles.models import Article
from syndicate.clock import app_now
from syndicate.config import derived
from syndicate.db import get_database, get_session
from syndicate.feeds import freshness, listing, websub
from syndicate.feeds.cache import FeedCache
from syndicate.feeds.conditional import RenderedFeed
from syndicate.feeds.context import BY_FILENAME, FORMAT_LABELS, FeedKey, FeedNotFound, FeedSettings
from syndicate.staff.access import login_required
from syndicate.web.actions import run
from syndicate.web.security import limiter

bp = Blueprint("feeds", __name__)
dashboard = Blueprint("feeds_dashboard", __name__, url_prefix="/dashboard")

_FILES = "any('rss.xml', 'atom.xml', 'feed.json')"
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_MAX_PAGE = 10_000_000


def _settings() -> FeedSettings:
    return derived(current_app, "feed_settings", FeedSettings.CONFIG_KEYS,
                   FeedSettings.from_config)


def _cache() -> FeedCache:
    cache: FeedCache | None = current_app.extensions.get("feed_cache")
    if cache is None:
        # Made on first use, when the app's session factory is bound for good.
        made: FeedCache = current_app.extensions.setdefault(
            "feed_cache", FeedCache(freshness.version_source(get_database()))
        )
        return made
    return cache


def _serve(key: FeedKey | str) -> Response:
    if isinstance(key, FeedKey) and key.slug is not None and (
            len(key.slug) > 200 or not _SLUG.fullmatch(key.slug)):
        abort(404, "There is no feed at this address.")
    if isinstance(key, FeedKey) and key.page is not None and not 1 <= key.page <= _MAX_PAGE:
        abort(404, "There is no such archive page.")
    try:
        # get_session itself: a cache hit usually needs no session at all.
        feed = _cache().get(get_session, key, _settings())
    except FeedNotFound as exc:
        abort(404, str(exc))
    return feed_response(feed)


def feed_response(feed: RenderedFeed) -> Response:
    """Bytes or 304, with validators, gzip when asked and the WebSub discovery headers."""
    # Parsing Accept-Encoding is most of a cache hit's own cost: skip it when gzip is absent.
    gzipped = "gzip" in request.environ.get("HTTP_ACCEPT_ENCODING", "") and (
        request.accept_encodings["gzip"] > 0)
    # A feed is the same for everyone: the sign-in loader only looked at the cookie, and a
    # "Vary: Cookie" would make shared caches keep one copy per reader.
    session.accessed = False
    etag = ("ETag", feed.gzip_etag if gzipped else feed.etag)
    if _not_modified(feed):
        return Response(status=304, headers=[etag, *feed.not_modified_headers])
    headers = [("Content-Type", feed.content_type), etag, *feed.headers]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return Response(feed.gzipped if gzipped else feed.body, status=200, headers=headers)


def _not_modified(feed: RenderedFeed) -> bool:
    sent = request.environ.get("HTTP_IF_NONE_MATCH")
    if sent is not None:
        if sent == feed.etag or sent == feed.gzip_etag:
            return True  # what nearly every reader sends: our tag, verbatim
        # One resource in two encodings: either tag names the same content (weak comparison).
        tags = request.if_none_match
        bare = feed.etag.strip('"')
        return tags.star_tag or tags.contains_weak(bare) or tags.contains_weak(bare + "-gzip")
    since = request.if_modified_since
    return since is not None and feed.last_modified <= since


@bp.get(f"/feeds/<{_FILES}:filename>")
def site_feed(filename: str) -> Response:
    return _serve(FeedKey("site", None, BY_FILENAME[filename]))


@bp.get(f"/feeds/<any(category, tag, author):kind>/<slug>/<{_FILES}:filename>")
def subject_feed(kind: str, slug: str, filename: str) -> Response:
    return _serve(FeedKey(kind, slug, BY_FILENAME[filename]))


@bp.get(f"/feeds/archive/<page:page>/<{_FILES}:filename>")
def site_archive(page: int, filename: str) -> Response:
    return _serve(FeedKey("site", None, BY_FILENAME[filename], page))


@bp.get(f"/feeds/archive/<any(category, tag, author):kind>/<slug>/<page:page>/<{_FILES}:filename>")
def subject_archive(kind: str, slug: str, page: int, filename: str) -> Response:
    return _serve(FeedKey(kind, slug, BY_FILENAME[filename], page))


@bp.get("/feeds/opml.xml")
def opml() -> Response:
    return _serve("opml")


@limiter.request_filter
def _feed_reads_are_not_limited() -> bool:
    """Feed GETs skip the per-address limits.

    Aggregators (Feedly, Inoreader, NewsBlur) fetch thousands of feeds from a handful of
    addresses, so a per-address limit would cut off real readers; a read is a cached lookup,
    and the proxy cache of docs/deploy.md takes the load before it reaches a worker.
    """
    return request.blueprint == "feeds" and request.method in ("GET", "HEAD")


# A subscriber asks once per lease (days); more than this from one address is a mistake or
# an attempt to make the hub send verification requests to third parties.
WEBSUB_REQUEST_LIMIT = "30 per minute;300 per day"


@bp.post("/websub")
@limiter.limit(WEBSUB_REQUEST_LIMIT)
def hub() -> tuple[str, int, dict[str, str]]:
    """A subscriber's (un)subscription request: 202 now, intent verified by the scheduler."""
    try:
        run(lambda db: websub.request_subscription(db, request.form, _settings(), now=app_now()))
    except websub.WebSubError as exc:
        return exc.message + "\n", exc.status, {"Content-Type": "text/plain; charset=utf-8"}
    return ("Accepted; the hub will verify your intent at hub.callback.\n", 202,
            {"Content-Type": "text/plain; charset=utf-8"})


@bp.app_context_processor
def _discovery() -> dict[str, Any]:
    def feed_discovery_links(article: Article | None = None) -> list[listing.DiscoveryLink]:
        return listing.discovery_links(_settings(), article)

    return {"feed_discovery_links": feed_discovery_links}


@dashboard.get("/feeds")
@login_required
def feeds_page() -> str:
    number = request.args.get("page", 1, type=int)
    if number is None or not 1 <= number <= 100_000:
        abort(400, "page must be a whole number from 1.")
    db = get_session()
    settings = _settings()
    listings = listing.all_feeds(db, settings)
    size = current_app.config["PAGE_SIZE"]
    pages = max(1, -(-len(listings) // size))
    shown = listings[(number - 1) * size: number * size]
    return render_template(
        "feeds/dashboard.html", stats=listing.feed_stats(db, shown),
        topics=websub.topic_states(db), number=number, pages=pages, settings=settings,
        labels=FORMAT_LABELS,
    )
