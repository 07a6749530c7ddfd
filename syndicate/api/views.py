"""The /api/v1 operations. Each parses nothing itself (the registry's pipeline did), calls one
service and returns a response model; the pipeline commits and answers errors.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from flask import Blueprint, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address

from syndicate.api import schemas
from syndicate.api import services as api
from syndicate.api.errors import ApiError
from syndicate.api.handling import handler
from syndicate.api.pagination import BadCursor, Cursors
from syndicate.api.registry import Registry
from syndicate.articles import services as articles
from syndicate.articles.models import Article
from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.linkedin.models import LinkedInTarget
from syndicate.posts import best_times, editing
from syndicate.posts.models import Post
from syndicate.sharing.context import Sharing
from syndicate.sharing.models import ShareRequest
from syndicate.staff.access import current_user
from syndicate.staff.models import User
from syndicate.web.security import limiter

PREFIX = "/api/v1"
DEFAULT_RATE_LIMIT = "600 per minute"
POST_ID = "<id:post_id>"

bp = Blueprint("api", __name__, url_prefix=PREFIX)
registry = Registry(bp, PREFIX, pipeline=handler)


def rate_limit_key() -> str:
    """Count per API token (its hash), so that many clients behind one address are not lumped
    together; requests without a token count per address."""
    header = request.headers.get("Authorization", "")
    if header:
        return "api-token:" + hashlib.sha256(header.encode("utf-8", "replace")).hexdigest()
    return "api-addr:" + get_remote_address()


def _rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or DEFAULT_RATE_LIMIT


limiter.limit(_rate_limit, key_func=rate_limit_key)(bp)


@bp.get("/openapi.json")
def openapi_document() -> ResponseReturnValue:
    """The OpenAPI 3.1 document, generated from the schemas that validate requests."""
    return jsonify(
        registry.openapi(
            title="syndicate API",
            version="1",
            description="Articles, LinkedIn posts, connections and feeds of a publisher. "
            "Authenticate with `Authorization: Bearer <token>` (dashboard → API tokens).",
        )
    )


def _user() -> User:
    user = current_user()
    assert user is not None  # the pipeline authenticated
    return user


def _site_url() -> str:
    site_url: str = current_app.config["SITE_URL"]
    return site_url


def _cursors(name: str) -> Cursors:
    return Cursors(current_app.config["SECRET_KEY"], name)


def _article(public_id: UUID) -> Article:
    article = articles.find_by_public_id(get_session(), str(public_id))
    if article is None:
        raise ApiError(404, "There is no article with this public_id.", "not_found")
    return article


def _present(article: Article) -> schemas.ArticleOut:
    """The article as stored, with categories and tags in the database's order."""
    get_session().refresh(article)
    return api.article_out(article, _site_url())


def _post(post_id: int) -> Post:
    post = get_session().get(Post, post_id)
    if post is None:
        raise ApiError(404, "There is no post with this id.", "not_found")
    return post


def _bad_cursor(exc: BadCursor) -> ApiError:
    return ApiError(400, str(exc), "bad_cursor", [
        {"field": "cursor", "message": str(exc), "type": "bad_cursor"}
    ])


# --- articles --------------------------------------------------------------------------


@registry.route(
    "GET", "/articles", summary="List articles, newest first", tag="articles",
    query=schemas.ArticleListQuery, response=schemas.ArticleList,
)
def list_articles(query: schemas.ArticleListQuery) -> schemas.ArticleList:
    try:
        page = api.list_articles(
            get_session(), status=query.status, cursor=query.cursor, limit=query.limit,
            cursors=_cursors("articles"),
        )
    except BadCursor as exc:
        raise _bad_cursor(exc) from None
    return api.article_list(page, _site_url())


@registry.route(
    "GET", "/articles/<uuid:public_id>", summary="Get an article", tag="articles",
    response=schemas.ArticleOut,
)
def get_article(public_id: UUID) -> schemas.ArticleOut:
    return api.article_out(_article(public_id), _site_url())


@registry.route(
    "POST", "/articles", summary="Create a draft article", tag="articles",
    body=schemas.ArticleCreate, response=schemas.ArticleOut, status=201,
)
def create_article(body: schemas.ArticleCreate) -> schemas.ArticleOut:
    article = articles.create_article(
        get_session(), api.article_input(body), now=app_now(), actor_id=_user().id
    )
    return _present(article)


@registry.route(
    "PATCH", "/articles/<uuid:public_id>", summary="Change an article", tag="articles",
    body=schemas.ArticleUpdate, response=schemas.ArticleOut,
)
def update_article(public_id: UUID, body: schemas.ArticleUpdate) -> schemas.ArticleOut:
    article = _article(public_id)
    articles.update_article(
        get_session(), article, api.merged_input(article, body), now=app_now(), actor_id=_user().id
    )
    return _present(article)


@registry.route(
    "POST", "/articles/<uuid:public_id>/publish", summary="Publish an article", tag="articles",
    response=schemas.ArticleOut,
)
def publish_article(public_id: UUID, body: schemas.EmptyBody) -> schemas.ArticleOut:
    article = _article(public_id)
    articles.publish_article(get_session(), article, now=app_now(), actor_id=_user().id)
    return api.article_out(article, _site_url())


@registry.route(
    "POST", "/articles/<uuid:public_id>/unpublish", summary="Unpublish an article",
    tag="articles",
    response=schemas.ArticleOut,
)
def unpublish_article(public_id: UUID, body: schemas.EmptyBody) -> schemas.ArticleOut:
    article = _article(public_id)
    articles.unpublish_article(get_session(), article, now=app_now(), actor_id=_user().id)
    return api.article_out(article, _site_url())


# --- posts -----------------------------------------------------------------------------


@registry.route(
    "GET", "/posts", summary="List posts, newest first", tag="posts",
    query=schemas.PostListQuery, response=schemas.PostList,
)
def list_posts(query: schemas.PostListQuery) -> schemas.PostList:
    try:
        page = api.list_posts(
            get_session(), state=query.state, cursor=query.cursor, limit=query.limit,
            cursors=_cursors("posts"),
        )
    except BadCursor as exc:
        raise _bad_cursor(exc) from None
    return schemas.PostList(
        items=[api.post_out(p) for p in page.items], next_cursor=page.next_cursor
    )


@registry.route(
    "GET", f"/posts/{POST_ID}", summary="Get a post with its history", tag="posts",
    response=schemas.PostOut,
)
def get_post(post_id: int) -> schemas.PostOut:
    return api.post_out(_post(post_id), with_history=True)


@registry.route(
    "POST", "/posts", summary="Schedule a post of an article", tag="posts",
    body=schemas.PostCreate, response=schemas.PostOut, status=201, errors=(403,),
)
def create_post(body: schemas.PostCreate) -> schemas.PostOut:
    """Schedule at a time, into the target's next free queue slot, or keep as a draft.
    409 when the article already has a post for the target (unless `reshare`)."""
    post, note = api.schedule_post(
        get_session(),
        body,
        user=_user(),
        now=app_now(),
        site_url=_site_url(),
        campaign=current_app.config["UTM_CAMPAIGN"],
    )
    return api.post_out(post, note=note)


@registry.route(
    "POST", f"/posts/{POST_ID}/reschedule", summary="Move a post to another time",
    tag="posts", body=schemas.RescheduleIn, response=schemas.PostOut,
)
def reschedule_post(post_id: int, body: schemas.RescheduleIn) -> schemas.PostOut:
    """409 once the post has been claimed for sending or has finished."""
    post = _post(post_id)
    note = api.reschedule_post(get_session(), post, body, user=_user(), now=app_now())
    return api.post_out(post, note=note)


@registry.route(
    "POST", f"/posts/{POST_ID}/cancel", summary="Cancel a post", tag="posts",
    response=schemas.PostOut,
)
def cancel_post(post_id: int, body: schemas.EmptyBody) -> schemas.PostOut:
    """409 once the post has been claimed for sending or has finished."""
    post = _post(post_id)
    editing.cancel_post(get_session(), post, user=_user(), now=app_now())
    return api.post_out(post)


@registry.route(
    "GET", f"/posts/{POST_ID}/history", summary="A post's state changes and attempts",
    tag="posts", response=schemas.HistoryList,
)
def post_history(post_id: int) -> schemas.HistoryList:
    return schemas.HistoryList(items=api.history_out(_post(post_id)))


@registry.route(
    "GET", f"/posts/{POST_ID}/stats", summary="How a post did on LinkedIn: latest and series",
    tag="posts", response=schemas.PostStatsOut,
)
def post_stats(post_id: int) -> schemas.PostStatsOut:
    """LinkedIn's figures for a published post, fetched on a schedule (hourly for two days,
    daily to 30 days, weekly to 90 by default); `latest` is null until the first fetch."""
    return api.post_stats_out(get_session(), _post(post_id))


@registry.route(
    "GET",
    "/targets/<id:target_id>/best-times",
    summary="A target's best weekly slots from its own figures",
    tag="connections",
    response=schemas.BestTimesOut,
)
def target_best_times(target_id: int) -> schemas.BestTimesOut:
    """Weekday × hour slots in the target's zone, ranked by a smoothed engagement rate over
    its posts of the last 90 days; a slot needs 3 posts (docs/linkedin.md)."""
    target = get_session().get(LinkedInTarget, target_id)
    if target is None:
        raise ApiError(404, "There is no target with this id.", "not_found")
    found = best_times.best_times(get_session(), target, now=app_now())
    return schemas.BestTimesOut(
        target_id=target.id,
        time_zone=found.zone,
        days=found.days,
        min_posts=found.min_posts,
        posts=found.posts,
        suggestions=[
            schemas.BestTimeOut(
                weekday=s.weekday,
                time=s.time,
                engagement_rate=s.rate or 0.0,
                score=s.score,
                posts=s.posts,
                impressions=s.impressions,
                engagements=s.engagements,
            )
            for s in found.suggestions
        ],
        message=found.shortage,
    )


# --- connections and feeds -------------------------------------------------------------


@registry.route(
    "GET", "/connections", summary="LinkedIn connections, their state, expiry and targets",
    tag="connections", response=schemas.ConnectionList,
)
def list_connections() -> schemas.ConnectionList:
    now = app_now()
    return schemas.ConnectionList(
        items=[api.connection_out(c, now=now) for c in api.list_connections(get_session())]
    )


@registry.route(
    "GET", "/feeds", summary="Every feed URL with its format and kind", tag="feeds",
    response=schemas.FeedList,
)
def list_feeds() -> schemas.FeedList:
    return api.feed_list(get_session(), current_app.config)


# --- share requests --------------------------------------------------------------------


def _share_request(public_id: UUID) -> ShareRequest:
    found = api.find_share_request(get_session(), str(public_id))
    if found is None:
        raise ApiError(404, "There is no share request with this public_id.", "not_found")
    return found


@registry.route(
    "GET", "/share-requests", summary="Readers' share requests, newest first",
    tag="share requests", query=schemas.ShareRequestListQuery, response=schemas.ShareRequestList,
)
def list_share_requests(query: schemas.ShareRequestListQuery) -> schemas.ShareRequestList:
    try:
        page = api.list_share_requests(
            get_session(), state=query.state, kind=query.kind, cursor=query.cursor,
            limit=query.limit, cursors=_cursors("share-requests"),
        )
    except BadCursor as exc:
        raise _bad_cursor(exc) from None
    ctx = Sharing.for_app()
    return schemas.ShareRequestList(
        items=[api.share_request_out(r, ctx) for r in page.items], next_cursor=page.next_cursor
    )


@registry.route(
    "GET", "/share-requests/<uuid:public_id>", summary="A share request with its audit trail",
    tag="share requests", response=schemas.ShareRequestOut,
)
def get_share_request(public_id: UUID) -> schemas.ShareRequestOut:
    return api.share_request_out(_share_request(public_id), Sharing.for_app(), with_history=True)


@registry.route(
    "POST", "/share-requests/<uuid:public_id>/decide", summary="Grant, deny or ask the reader",
    tag="share requests", body=schemas.DecisionIn, response=schemas.ShareRequestOut,
)
def decide_share_request(public_id: UUID, body: schemas.DecisionIn) -> schemas.ShareRequestOut:
    """The reader is emailed as from the dashboard. 409 once the request is decided."""
    share_request = _share_request(public_id)
    ctx = Sharing.for_app()
    api.decide(get_session(), share_request, body, user=_user(), now=app_now(), ctx=ctx)
    get_session().refresh(share_request)
    return api.share_request_out(share_request, ctx, with_history=True)


def operations() -> list[Any]:
    """The registered operations (tests and docs walk them)."""
    return list(registry.operations)
