"""Articles: writing, publishing, slugs, taxonomy. Functions take a session and never commit."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import markdown as markdown_lib
import nh3
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate import events
from syndicate.articles.models import (
    Article,
    ArticleAuthor,
    ArticleStatus,
    Author,
    BodyFormat,
    Category,
    SlugHistory,
    Source,
    Tag,
)
from syndicate.db import Page, paginate
from syndicate.errors import DomainError

MAX_SLUG = 200
MAX_TITLE = 500
MAX_BODY = 1_000_000

# What survives in an article body: structure, emphasis, links, images, tables, code.
ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "dd",
    "del",
    "details",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "picture",
    "pre",
    "q",
    "s",
    "small",
    "source",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "u",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "abbr": {"title"},
    "img": {"src", "srcset", "sizes", "alt", "title", "width", "height", "loading"},
    "source": {"srcset", "sizes", "media", "type"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "time": {"datetime"},
    "q": {"cite"},
    "blockquote": {"cite"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}


class ArticleError(DomainError):
    """Bad input for an article; the message names the field and is fit to show."""


class SlugTaken(ArticleError):
    status = 409
    code = "slug_taken"


_CONTROL_OR_SPACE = re.compile(r"[\x00-\x20]")
_SRCSET_DESCRIPTOR = re.compile(r"[0-9]+(?:\.[0-9]+)?[wxh]")


def _safe_url(value: str) -> bool:
    scheme = urlsplit(_CONTROL_OR_SPACE.sub("", value)).scheme.lower()
    return scheme in {"", "http", "https"}


def _check_urls(_element: str, attribute: str, value: str) -> str | None:
    """nh3 checks the scheme of href and src only; cite and srcset get the same rule."""
    if attribute == "cite":
        return value if _safe_url(value) else None
    if attribute == "srcset":
        candidates = [c.split() for c in value.split(",") if c.strip()]
        # "url [descriptor]" only: anything else could be read another way by some client
        # ("java\tscript:..." is the URL "java" to a browser, a script URL to a sloppy one).
        return value if all(
            len(c) <= 2 and _safe_url(c[0]) and (len(c) == 1 or _SRCSET_DESCRIPTOR.fullmatch(c[1]))
            for c in candidates
        ) else None
    return value


def sanitize_html(html: str) -> str:
    """Keep safe markup only: no scripts, frames, styles, event handlers or javascript: links."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        attribute_filter=_check_urls,
    )


def plain_text(html: str) -> str:
    """Text of an HTML fragment, whitespace folded (for summaries and titles from imports)."""
    text = nh3.clean(html, tags=set(), attributes={})
    # nh3 escapes the text it keeps; undo the escapes it introduced.
    text = (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&#39;", "'")
        .replace("&amp;", "&")
    )
    return re.sub(r"\s+", " ", text).strip()


def render_body(source: str, body_format: BodyFormat) -> str:
    if body_format is BodyFormat.MARKDOWN:
        html = markdown_lib.markdown(
            source, extensions=["extra", "sane_lists"], output_format="html"
        )
    else:
        html = source
    return sanitize_html(html)


# Latin letters that Unicode does not decompose into a plain letter and an accent, spelled
# as their languages write them without the letter; and apostrophes, which join a word
# ("don't" is "dont", not "don-t").
_SPELLED_OUT = str.maketrans({
    "ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o", "Ø": "o",
    "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "ł": "l", "Ł": "l", "þ": "th", "Þ": "th",
    "ı": "i", "ħ": "h", "Ħ": "h",
    "'": "", "’": "", "ʼ": "",
})


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by single hyphens: "Café “Zoë”—opening" is
    "cafe-zoe-opening". Accents are dropped; every other character that is not a letter or
    digit in ASCII (punctuation, dashes, quotes, other scripts) separates words."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPELLED_OUT))
    unaccented = "".join(char for char in decomposed if not unicodedata.combining(char))
    slug = re.sub(r"[^a-z0-9]+", "-", unaccented.lower()).strip("-")
    return slug[:MAX_SLUG].strip("-") or "article"


def check_slug(slug: str) -> str:
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug) or len(slug) > MAX_SLUG:
        raise ArticleError(
            "A slug holds lower-case letters, digits and single hyphens (at most 200).", "slug"
        )
    return slug


def check_url(url: str | None, field_name: str) -> str | None:
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. "http://[": an unclosed IPv6 address
        parts = urlsplit("")
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(url) > 2000:
        raise ArticleError("Give an absolute http(s) URL of at most 2000 characters.", field_name)
    return url


def content_hash(article: Article) -> str:
    """A digest of everything a reader sees; equal hashes mean nothing worth telling changed."""
    return content_digest(
        title=article.title,
        summary=article.summary,
        body_html=article.body_html,
        hero_image_url=article.hero_image_url,
        hero_image_alt=article.hero_image_alt,
        canonical_url=article.canonical_url,
        author_names=[a.name for a in article.authors],
        category_slugs=[c.slug for c in article.categories],
        tag_slugs=[t.slug for t in article.tags],
    )


def content_digest(
    *,
    title: str,
    summary: str,
    body_html: str,
    hero_image_url: str | None,
    hero_image_alt: str,
    canonical_url: str | None,
    author_names: Sequence[str],
    category_slugs: Iterable[str],
    tag_slugs: Iterable[str],
) -> str:
    """``content_hash`` of an article with these values, for callers that hold no Article
    (imports hash what they are about to store, or what an item would store)."""
    material = {
        "title": title,
        "summary": summary,
        "body": body_html,
        "hero": [hero_image_url, hero_image_alt],
        "canonical": canonical_url,
        "authors": list(author_names),
        "categories": sorted(category_slugs),
        "tags": sorted(tag_slugs),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


_Named = TypeVar("_Named", Author, Category, Tag)


def get_or_create(session: Session, model: type[_Named], name: str) -> _Named:
    name = re.sub(r"\s+", " ", name).strip()[:200]
    slug = slugify(name)
    found = session.scalar(select(model).where(model.slug == slug))
    if found is None:
        found = model(name=name, slug=slug)
        session.add(found)
        session.flush()
    return found


def authors_named(session: Session, names: Sequence[str]) -> list[Author]:
    return _unique([get_or_create(session, Author, n) for n in names if n.strip()])


def categories_named(session: Session, names: Sequence[str]) -> list[Category]:
    return _unique([get_or_create(session, Category, n) for n in names if n.strip()])


def tags_named(session: Session, names: Sequence[str]) -> list[Tag]:
    return _unique([get_or_create(session, Tag, n) for n in names if n.strip()])


def _unique(items: list[_Named]) -> list[_Named]:
    """The items in order, each id once."""
    seen: set[int] = set()
    unique = []
    for item in items:
        if item.id not in seen:
            seen.add(item.id)
            unique.append(item)
    return unique


@dataclass
class ArticleInput:
    """What an editor, an import or the API may set on an article."""

    title: str
    body: str = ""
    body_format: BodyFormat = BodyFormat.HTML
    summary: str = ""
    slug: str | None = None
    canonical_url: str | None = None
    hero_image_url: str | None = None
    hero_image_alt: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


def validate_input(data: ArticleInput) -> None:
    title = data.title.strip()
    if not title:
        raise ArticleError("An article needs a title.", "title")
    if len(title) > MAX_TITLE:
        raise ArticleError(f"A title has at most {MAX_TITLE} characters.", "title")
    if len(data.body) > MAX_BODY:
        raise ArticleError("The body is larger than 1 MB.", "body")
    if len(data.summary) > 5000:
        raise ArticleError("A summary has at most 5000 characters.", "summary")
    if len(data.hero_image_alt) > 500:
        raise ArticleError("Alt text has at most 500 characters.", "hero_image_alt")
    if data.hero_image_url and not data.hero_image_alt.strip():
        raise ArticleError("Describe the hero image in its alt text.", "hero_image_alt")


def unique_slug(session: Session, wanted: str, article_id: int | None) -> str:
    slug, n = wanted, 2
    while slug_owner(session, slug) not in (None, article_id):
        suffix = f"-{n}"
        slug = wanted[: MAX_SLUG - len(suffix)] + suffix
        n += 1
    return slug


def slug_owner(session: Session, slug: str) -> int | None:
    owner = session.scalar(select(Article.id).where(Article.slug == slug))
    if owner is None:
        owner = session.scalar(select(SlugHistory.article_id).where(SlugHistory.slug == slug))
    return owner


def _apply(session: Session, article: Article, data: ArticleInput, *, now: datetime) -> None:
    validate_input(data)
    if data.slug:
        slug = check_slug(data.slug.strip())
        owner = slug_owner(session, slug)
        if owner not in (None, article.id):
            raise SlugTaken(f"The slug {slug!r} belongs to another article.", "slug")
    elif article.slug:
        slug = article.slug
    else:
        slug = unique_slug(session, slugify(data.title), article.id)
    if article.slug and slug != article.slug:
        _remember_slug(session, article, article.slug, now=now)
    article.slug = slug
    article.title = data.title.strip()
    article.summary = data.summary.strip()
    article.body_format = data.body_format
    article.body_source = data.body
    article.body_html = render_body(data.body, data.body_format)
    article.canonical_url = check_url(data.canonical_url, "canonical_url")
    article.hero_image_url = check_url(data.hero_image_url, "hero_image_url")
    article.hero_image_alt = data.hero_image_alt.strip()
    article.author_links = [
        ArticleAuthor(author=a, position=i)
        for i, a in enumerate(authors_named(session, data.authors))
    ]
    article.categories = categories_named(session, data.categories)
    article.tags = tags_named(session, data.tags)


def _remember_slug(session: Session, article: Article, old_slug: str, *, now: datetime) -> None:
    # A slug the article takes back must not also redirect to itself.
    session.query(SlugHistory).filter(SlugHistory.slug == article.slug).delete()
    if session.scalar(select(SlugHistory).where(SlugHistory.slug == old_slug)) is None:
        session.add(SlugHistory(article_id=article.id, slug=old_slug, created_at=now))


def create_article(
    session: Session,
    data: ArticleInput,
    *,
    now: datetime,
    actor_id: int | None = None,
    source: Source | None = None,
    source_guid: str | None = None,
) -> Article:
    article = Article(created_at=now, updated_at=now, status=ArticleStatus.DRAFT)
    with session.no_autoflush:
        _apply(session, article, data, now=now)
    session.add(article)
    article.source = source
    article.source_guid = source_guid
    session.flush()
    article.content_hash = content_hash(article)
    session.flush()
    return article


def update_article(
    session: Session,
    article: Article,
    data: ArticleInput,
    *,
    now: datetime,
    actor_id: int | None = None,
) -> bool:
    """Apply the edit; True when readers would see a difference (then ``updated_at`` moves)."""
    old_slug = article.slug
    with session.no_autoflush:
        _apply(session, article, data, now=now)
    session.flush()
    new_hash = content_hash(article)
    changed = new_hash != article.content_hash
    if changed:
        article.content_hash = new_hash
        article.updated_at = now
        if article.is_published:
            events.emit(
                session,
                "article.updated",
                article.public_id,
                event_payload(article, old_slug=old_slug),
                now=now,
                actor_id=actor_id,
            )
    elif old_slug != article.slug and article.is_published:
        events.emit(
            session,
            "article.moved",
            article.public_id,
            event_payload(article, old_slug=old_slug),
            now=now,
            actor_id=actor_id,
        )
    session.flush()
    return changed


def publish_article(
    session: Session,
    article: Article,
    *,
    now: datetime,
    actor_id: int | None = None,
    published_at: datetime | None = None,
) -> None:
    if article.is_published:
        return
    first_time = article.published_at is None
    article.status = ArticleStatus.PUBLISHED
    if first_time:
        article.published_at = published_at or now
    if not first_time:
        article.updated_at = now
    kind = "article.published" if first_time else "article.republished"
    events.emit(
        session, kind, article.public_id, event_payload(article), now=now, actor_id=actor_id
    )
    session.flush()


def unpublish_article(
    session: Session, article: Article, *, now: datetime, actor_id: int | None = None
) -> None:
    if not article.is_published:
        return
    article.status = ArticleStatus.UNPUBLISHED
    article.updated_at = now
    events.emit(
        session,
        "article.unpublished",
        article.public_id,
        event_payload(article),
        now=now,
        actor_id=actor_id,
    )
    session.flush()


def event_payload(article: Article, old_slug: str | None = None) -> dict[str, Any]:
    return payload_of(
        article_id=article.id,
        slug=article.slug,
        title=article.title,
        category_slugs=[c.slug for c in article.categories],
        tag_slugs=[t.slug for t in article.tags],
        author_slugs=[a.slug for a in article.authors],
        old_slug=old_slug,
    )


def payload_of(
    *,
    article_id: int,
    slug: str,
    title: str,
    category_slugs: list[str],
    tag_slugs: list[str],
    author_slugs: list[str],
    old_slug: str | None = None,
) -> dict[str, Any]:
    """``event_payload`` of an article with these values (imports create rows, not Articles)."""
    payload: dict[str, Any] = {
        "article_id": article_id,
        "slug": slug,
        "title": title,
        "categories": category_slugs,
        "tags": tag_slugs,
        "authors": author_slugs,
    }
    if old_slug and old_slug != slug:
        payload["old_slug"] = old_slug
    return payload


def published_page(session: Session, number: int, size: int) -> Page[Article]:
    return paginate(
        session,
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.published_at.desc(), Article.id.desc()),
        number=number,
        size=size,
    )


def dashboard_page(
    session: Session,
    number: int,
    size: int,
    status: ArticleStatus | None = None,
    query: str = "",
) -> Page[Article]:
    conditions = []
    if status is not None:
        conditions.append(Article.status == status)
    if query:
        conditions.append(func.lower(Article.title).contains(query.lower(), autoescape=True))
    return paginate(
        session,
        select(Article).where(*conditions).order_by(Article.updated_at.desc(), Article.id.desc()),
        number=number,
        size=size,
    )


@dataclass(frozen=True)
class SlugLookup:
    article: Article | None
    redirect_to: str | None = None


def find_public_by_slug(session: Session, slug: str) -> SlugLookup:
    """The published article at this slug, or the slug it moved to."""
    article = session.scalar(select(Article).where(Article.slug == slug))
    if article is None:
        moved = session.scalar(select(SlugHistory).where(SlugHistory.slug == slug))
        if moved is not None:
            target = session.get(Article, moved.article_id)
            if target is not None and target.is_published:
                return SlugLookup(None, target.slug)
        return SlugLookup(None)
    if not article.is_published:
        return SlugLookup(None)
    return SlugLookup(article)


def find_by_public_id(session: Session, public_id: str) -> Article | None:
    return session.scalar(select(Article).where(Article.public_id == public_id))
