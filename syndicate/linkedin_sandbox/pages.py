"""The sandbox's page for people: every live post as a LinkedIn reader would see it, the
switches at a glance, uploaded images and members' pictures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import escape

from syndicate.linkedin.feed import FeedPost, feed_post
from syndicate.linkedin_sandbox.context import current_state, json_response
from syndicate.linkedin_sandbox.controls import describe
from syndicate.linkedin_sandbox.state import Post, SandboxState

POSTS_PER_PAGE = 20

bp = Blueprint("sandbox_page", __name__)


@dataclass(frozen=True)
class PostCard:
    """A post as a reader of the feed would see it."""

    urn: str
    author_name: str
    author_urn: str
    text: str
    sent: str
    cut_at: int | None
    cut_char: str | None
    created_at: datetime
    article: dict[str, Any] | None
    image_url: str | None
    image_alt: str
    # The same card the product's compose preview draws (linkedin/feed.py).
    feed: FeedPost


def _image_url(state: SandboxState, urn: str | None) -> str | None:
    """Where the sandbox serves an uploaded image, for the page."""
    if not urn:
        return None
    return f"{state.base_url}/sandbox/images/{urn.removeprefix('urn:li:image:')}"


def post_card(state: SandboxState, post: Post) -> PostCard:
    """What the feed shows for a stored post."""
    content = post.content or {}
    article = content.get("article")
    media = content.get("media") or {}
    if article is not None:
        article = {**article, "thumbnail_url": _image_url(state, article.get("thumbnail"))}
    author_name = state.author_name(post.author)
    image_url = _image_url(state, media.get("id"))
    if article is not None:
        feed = feed_post(
            author_name=author_name,
            text=post.text.rendered,
            link=str(article.get("source") or ""),
            title=str(article.get("title") or ""),
            image_url=article["thumbnail_url"],
        )
    else:
        feed = feed_post(
            author_name=author_name,
            text=post.text.rendered,
            media_url=image_url,
            image_alt=media.get("altText", ""),
        )
    return PostCard(
        urn=post.urn,
        author_name=author_name,
        author_urn=post.author,
        text=post.text.rendered,
        sent=post.commentary,
        cut_at=post.text.cut_at,
        cut_char=post.text.cut_char,
        created_at=post.created_at,
        article=article,
        image_url=image_url,
        image_alt=media.get("altText", ""),
        feed=feed,
    )


@bp.get("/")
def home() -> ResponseReturnValue:
    """The sandbox's page lives under /sandbox/."""
    return redirect(url_for("sandbox_page.index"), 302)


@bp.get("/sandbox/")
def index() -> str:
    """Every live post, newest first, and the switches."""
    state = current_state()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    live = state.post_list(include_deleted=False)
    shown = live[(page - 1) * POSTS_PER_PAGE : page * POSTS_PER_PAGE]
    return render_template(
        "linkedin_sandbox/index.html",
        cards=[post_card(state, p) for p in shown],
        page=page,
        has_next=len(live) > page * POSTS_PER_PAGE,
        deleted=len(state.post_list()) - len(live),
        status=describe(state),
    )


@bp.get("/sandbox/images/<image_id>")
def image_bytes(image_id: str) -> Response:
    """An uploaded image, for the page's cards."""
    state = current_state()
    with state.lock:
        image = state.images.get(image_id)
    if image is None or image.data is None:
        return json_response({"status": 404, "message": "No such image"}, 404)
    return Response(image.data, mimetype=image.media_type)


@bp.get("/sandbox/avatar/<sub>.svg")
def avatar(sub: str) -> Response:
    """A member's picture: initials on a square."""
    state = current_state()
    with state.lock:
        member = state.members.get(sub)
    if member is None:
        return json_response({"status": 404, "message": "No such member"}, 404)
    initials = escape(member.given_name[:1] + member.family_name[:1])
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        '<rect width="96" height="96" fill="#0a66c2"/><text x="48" y="60" font-size="36" '
        f'text-anchor="middle" fill="#fff" font-family="sans-serif">{initials}</text></svg>'
    )
    return Response(svg, mimetype="image/svg+xml")
