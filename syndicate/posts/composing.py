"""Composing a post: the target's template filled from the article, the link with UTM
parameters, the preview of what LinkedIn will receive, and creating the post."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate.articles.models import Article
from syndicate.errors import Checks
from syndicate.linkedin.feed import FeedPost, feed_post
from syndicate.linkedin.models import LinkedInTarget
from syndicate.linkedin.text import MAX_COMMENTARY, escape_little_text, linkedin_length
from syndicate.posts.context import PostError, PostExists, record
from syndicate.posts.models import (
    Post,
    PostState,
)
from syndicate.posts.scheduling import next_free_slot
from syndicate.staff.models import User

# The link is not in the text: the article card under it carries the tracked link, and
# LinkedIn shows a link in the commentary as well as the card. {link} still works in a
# target's own template (and the sandbox and LinkedIn link it in the text).
DEFAULT_TEMPLATE = "{title}\n\n{summary}\n\n{hashtags}"
PLACEHOLDERS = ("title", "summary", "link", "hashtags", "authors")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def article_url(article: Article, site_url: str) -> str:
    return article.canonical_url or f"{site_url}/articles/{article.slug}"


def with_utm(url: str, *, campaign: str, content: str | None = None) -> str:
    """The URL with LinkedIn UTM parameters added (existing ones for other keys kept)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    query += [("utm_source", "linkedin"), ("utm_medium", "social"), ("utm_campaign", campaign)]
    if content:
        query.append(("utm_content", content))
    return urlunsplit(parts._replace(query=urlencode(query)))


def hashtag(name: str) -> str:
    words = re.findall(r"\w+", name)
    return "#" + "".join(w[:1].upper() + w[1:] for w in words) if words else ""


def render_template(template: str, article: Article, *, link: str) -> str:
    """Fill a target's template; unknown placeholders are an error, not silent text."""
    template = template or DEFAULT_TEMPLATE
    unknown = sorted({m for m in _PLACEHOLDER.findall(template) if m not in PLACEHOLDERS})
    if unknown:
        raise PostError(
            "Unknown placeholder(s) in the template: "
            + ", ".join("{" + u + "}" for u in unknown)
            + ". Use "
            + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            + ".",
            "template",
        )
    values = {
        "title": article.title,
        "summary": article.summary,
        "link": link,
        "hashtags": " ".join(h for h in (hashtag(t.name) for t in article.tags) if h),
        "authors": ", ".join(a.name for a in article.authors),
    }
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@dataclass(frozen=True)
class Preview:
    """What LinkedIn will receive and how long it is by LinkedIn's count."""

    commentary: str
    sent: str
    length: int
    too_long: bool


def preview(commentary: str) -> Preview:
    sent = escape_little_text(commentary)
    length = linkedin_length(sent)
    return Preview(commentary, sent, length, length > MAX_COMMENTARY)


def typed_preview(commentary: str) -> Preview:
    """The preview of text as a form sent it (CRLF line ends, stray spaces), as it will be saved."""
    return preview(commentary.replace("\r\n", "\n").strip())


def check_commentary(commentary: str) -> str:
    commentary = commentary.replace("\r\n", "\n").strip()
    if not commentary:
        raise PostError("Write the text of the post.", "commentary")
    shown = preview(commentary)
    if shown.too_long:
        raise PostError(
            f"LinkedIn allows {MAX_COMMENTARY} characters; this is {shown.length} "
            "once escaped. Shorten it.",
            "commentary",
        )
    return commentary


@dataclass
class PostInput:
    commentary: str
    card_title: str
    card_description: str = ""
    when: datetime | None = None  # None: the next free queue slot
    as_draft: bool = False


def tracked_link(article: Article, *, site_url: str, campaign: str) -> str:
    """The article's URL with the LinkedIn UTM parameters: what the post's card links to."""
    return with_utm(article_url(article, site_url), campaign=campaign)


def feed_preview(
    target: LinkedInTarget,
    commentary: str,
    *,
    card_title: str,
    link: str,
    thumbnail: str | None,
) -> FeedPost:
    """The post as LinkedIn's feed will show it to readers (typed text, as it will be saved)."""
    return feed_post(
        author_name=target.display_name,
        text=typed_preview(commentary).commentary,
        link=link,
        title=card_title,
        image_url=thumbnail,
    )


def compose_defaults(
    article: Article, target: LinkedInTarget, *, site_url: str, campaign: str
) -> PostInput:
    link = tracked_link(article, site_url=site_url, campaign=campaign)
    return PostInput(
        commentary=render_template(target.template, article, link=link),
        card_title=article.title,
        card_description=article.summary,
    )


def create_post(
    session: Session,
    article: Article,
    target: LinkedInTarget,
    data: PostInput,
    *,
    user: User | None,
    now: datetime,
    site_url: str,
    campaign: str,
    reshare: bool = False,
    source: str = "manual",
) -> Post:
    """Schedule (or draft) a post; raises PostExists when the pair has one already."""
    if not article.is_published:
        raise PostError("Only published articles can be posted.", "article")
    if not target.is_active:
        raise PostError(
            f"{target.display_name} cannot be posted to right now "
            "(its connection is gone or lost the page role).",
            "target",
        )
    checks = Checks()  # the text and the time are both reported when both are wrong
    commentary = checks.run(lambda: check_commentary(data.commentary)) or ""
    card_title = data.card_title.strip()[:400] or article.title[:400]
    due: datetime | None = None
    state = PostState.DRAFT
    if not data.as_draft:
        due = checks.run(lambda: data.when or next_free_slot(session, target, after=now))
        if due is not None and due <= now - timedelta(minutes=1):
            checks.add(PostError("That time is in the past.", "scheduled_at"))
        needs_ok = target.needs_approval and (user is None or not user.is_admin)
        state = PostState.AWAITING_APPROVAL if needs_ok else PostState.SCHEDULED
    checks.done()
    post = Post(
        article=article,
        target=target,
        is_reshare=reshare,
        commentary=commentary,
        link_url=tracked_link(article, site_url=site_url, campaign=campaign),
        card_title=card_title,
        card_description=data.card_description.strip()[:2000],
        thumbnail_url=article.hero_image_url,
        state=PostState.DRAFT,
        scheduled_at=due,
        due_at=due,
        source=source,
        created_by_id=user.id if user else None,
        created_at=now,
        updated_at=now,
    )
    if state is PostState.SCHEDULED and user is not None:
        post.approved_by_id = user.id
    try:
        with session.begin_nested():
            session.add(post)
            session.flush()
    except IntegrityError:
        existing = session.scalar(
            select(Post).where(
                Post.article_id == article.id,
                Post.target_id == target.id,
                Post.is_reshare.is_(False),
                Post.state != PostState.CANCELLED,
            )
        )
        raise PostExists(existing) from None
    actor = user.email if user else source
    record(
        session,
        post,
        state,
        now=now,
        actor=actor,
        detail=f"for {due.isoformat()}" if due else "draft",
    )
    session.flush()
    return post


def example_article(session: Session) -> Article:
    """The newest published article, or an unsaved sample, to try templates on."""
    from syndicate.articles.models import ArticleStatus

    newest = session.scalar(
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(1)
    )
    return newest or Article(
        title="An example title (with parentheses)",
        summary="An example summary of the article.",
        slug="example",
    )
