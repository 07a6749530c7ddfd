from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Enum, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndicate.db import Base, new_public_id


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class ArticleStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"


class BodyFormat(enum.StrEnum):
    HTML = "html"
    MARKDOWN = "markdown"


class SourceKind(enum.StrEnum):
    FEED = "feed"
    SITEMAP = "sitemap"
    PAGE = "page"


article_categories = Table(
    "article_categories",
    Base.metadata,
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

article_tags = Table(
    "article_tags",
    Base.metadata,
    Column("article_id", ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class ArticleAuthor(Base):
    """Authors in byline order."""

    __tablename__ = "article_authors"

    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    author_id: Mapped[int] = mapped_column(
        ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)

    author: Mapped[Author] = relationship(lazy="joined")


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    url: Mapped[str | None] = mapped_column(String(2000))


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(200), unique=True)


class Source(Base):
    """A place on the publisher's site that articles are imported from."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000), unique=True)
    kind: Mapped[SourceKind] = mapped_column(_enum(SourceKind))
    # None: synced only by hand.
    interval_minutes: Mapped[int | None]
    next_sync_at: Mapped[datetime | None] = mapped_column(index=True)
    last_synced_at: Mapped[datetime | None]
    last_result: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("source_id", "source_guid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The identity feeds, posts and permissions refer to: never changes, unlike slug or title.
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    canonical_url: Mapped[str | None] = mapped_column(String(2000), index=True)
    title: Mapped[str] = mapped_column(String(500))
    summary: Mapped[str] = mapped_column(Text, default="")
    body_format: Mapped[BodyFormat] = mapped_column(_enum(BodyFormat), default=BodyFormat.HTML)
    body_source: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    hero_image_url: Mapped[str | None] = mapped_column(String(2000))
    hero_image_alt: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[ArticleStatus] = mapped_column(
        _enum(ArticleStatus), default=ArticleStatus.DRAFT, index=True
    )
    published_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    created_at: Mapped[datetime]
    # SHA-256 over what readers see; an import or save that leaves it unchanged changes nothing.
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    source_guid: Mapped[str | None] = mapped_column(String(2000))

    author_links: Mapped[list[ArticleAuthor]] = relationship(
        order_by=ArticleAuthor.position, cascade="all, delete-orphan", lazy="selectin"
    )
    categories: Mapped[list[Category]] = relationship(
        secondary=article_categories, order_by=Category.name, lazy="selectin"
    )
    tags: Mapped[list[Tag]] = relationship(
        secondary=article_tags, order_by=Tag.name, lazy="selectin"
    )
    source: Mapped[Source | None] = relationship()

    @property
    def authors(self) -> list[Author]:
        return [link.author for link in self.author_links]

    @property
    def is_published(self) -> bool:
        return self.status is ArticleStatus.PUBLISHED


class SlugHistory(Base):
    """Slugs an article used to have, so that old links keep working."""

    __tablename__ = "slug_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
