"""Feed URLs with conditional GET and gzip, the WebSub hub endpoint and the Feeds dashboard."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, abort, current_app, render_template, request, session
from werkzeug.http import parse_accept_header, parse_date, parse_etags
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
from syndicate.web.fastpath import Answer, FastRoute, no_session
from syndicate.web.security import limiter

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

bp = Blueprint("feeds", __name__)
dashboard = Blueprint("feeds_dashboard", __name__, url_prefix="/dashboard")

_FILES = "any('rss.xml', 'atom.xml', 'feed.json')"
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_MAX_PAGE = 10_000_000


def _settings(app: Flask | None = None) -> FeedSettings:
    return derived(app or current_app, "feed_settings", FeedSettings.CONFIG_KEYS,
                   FeedSettings.from_config)


def _cache(app: Flask | None = None) -> FeedCache:
    app = app or current_app
    cache: FeedCache | None = app.extensions.get("feed_cache")
    if cache is None:
        # Made on first use, when the app's session factory is bound for good.
        made: FeedCache = app.extensions.setdefault(
            "feed_cache", FeedCache(freshness.shared_version_source(app, get_database(app)))
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
    # A feed is the same for everyone: the sign-in loader only looked at the cookie, and a
    # "Vary: Cookie" would make shared caches keep one copy per reader.
    session.accessed = False
    status, headers, body = feed_answer(feed, request.environ)
    return Response(body, status=status, headers=headers)


def feed_answer(
    feed: RenderedFeed, environ: WSGIEnvironment
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Bytes or 304, with validators, gzip when asked and the WebSub discovery headers."""
    # Parsing Accept-Encoding is most of a cache hit's own cost: skip it when gzip is absent.
    accept = environ.get("HTTP_ACCEPT_ENCODING", "")
    gzipped = "gzip" in accept and parse_accept_header(accept)["gzip"] > 0
    etag = ("ETag", feed.gzip_etag if gzipped else feed.etag)
    if _not_modified(feed, environ):
        return 304, [etag, *feed.not_modified_headers], b""
    headers = [("Content-Type", feed.content_type), etag, *feed.headers]
    if gzipped:
        headers.append(("Content-Encoding", "gzip"))
    return 200, headers, feed.gzipped if gzipped else feed.body


def _not_modified(feed: RenderedFeed, environ: WSGIEnvironment) -> bool:
    sent = environ.get("HTTP_IF_NONE_MATCH")
    if sent is not None:
        if sent == feed.etag or sent == feed.gzip_etag:
            return True  # what nearly every reader sends: our tag, verbatim
        # One resource in two encodings: either tag names the same content (weak comparison).
        tags = parse_etags(sent)
        bare = feed.etag.strip('"')
        return tags.star_tag or tags.contains_weak(bare) or tags.contains_weak(bare + "-gzip")
    since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    return since is not None and feed.last_modified <= since


# The feeds readers poll, answered from the cache before Flask (web/fastpath.py); archives,
# a cache miss and anything unusual go through the views below.
_FAST_SITE_FEEDS = {
    f"/feeds/{name}": FeedKey("site", None, fmt) for name, fmt in BY_FILENAME.items()
}
_FAST_SUBJECT_FEED = re.compile(
    r"/feeds/(category|tag|author)/([a-z0-9]+(?:-[a-z0-9]+)*)/(rss\.xml|atom\.xml|feed\.json)"
)


def fast_feed(app: Flask) -> FastRoute:
    """The fast route of /feeds/: a current cached feed, else Flask's views."""

    def answer(environ: WSGIEnvironment) -> Answer | None:
        path: str = environ.get("PATH_INFO", "")
        key = _FAST_SITE_FEEDS.get(path)
        endpoint = "feeds.site_feed"
        if key is None:
            subject = _FAST_SUBJECT_FEED.fullmatch(path)
            if subject is None or len(subject[2]) > 200:
                return None
            key = FeedKey(subject[1], subject[2], BY_FILENAME[subject[3]])
            endpoint = "feeds.subject_feed"
        try:
            feed = _cache(app).get(no_session, key, _settings(app))
        except FeedNotFound:
            return None
        status, headers, body = feed_answer(feed, environ)
        return Answer(endpoint, status, headers, body)

    return answer


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
