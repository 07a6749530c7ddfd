from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndicate.articles.models import Article
from syndicate.db import Base
from syndicate.linkedin.models import LinkedInTarget


class PostState(enum.StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PUBLISHED = "published"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NEEDS_ATTENTION = "needs_attention"
    MISSED = "missed"
    CANCELLED = "cancelled"


# States a staff member may still change (edit, reschedule, cancel): nothing has been sent.
EDITABLE_STATES = frozenset({PostState.DRAFT, PostState.AWAITING_APPROVAL, PostState.SCHEDULED})
# States the staff must hear about until they dismiss them.
TROUBLE_STATES = frozenset(
    {PostState.FAILED, PostState.UNKNOWN, PostState.NEEDS_ATTENTION, PostState.MISSED}
)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class Post(Base):
    """One post of one article to one target; the row is the truth about its delivery."""

    __tablename__ = "posts"
    __table_args__ = (
        # One post per article and target, unless someone deliberately re-shares; a
        # cancelled post frees the pair. Enforced by the database so that two concurrent
        # requests cannot both create one.
        Index(
            "uq_posts_article_target",
            "article_id",
            "target_id",
            unique=True,
            sqlite_where=text("is_reshare = 0 AND state != 'cancelled'"),
            postgresql_where=text("is_reshare = false AND state != 'cancelled'"),
        ),
        Index("ix_posts_state_due_at", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    target_id: Mapped[int] = mapped_column(
        ForeignKey("linkedin_targets.id", ondelete="CASCADE"), index=True
    )
    is_reshare: Mapped[bool] = mapped_column(default=False)
    # As the staff member wrote it; escaped for little text only when sent.
    commentary: Mapped[str] = mapped_column(Text)
    link_url: Mapped[str] = mapped_column(String(2000))
    card_title: Mapped[str] = mapped_column(String(400))
    card_description: Mapped[str] = mapped_column(String(2000), default="")
    thumbnail_url: Mapped[str | None] = mapped_column(String(2000))
    state: Mapped[PostState] = mapped_column(_enum(PostState), default=PostState.DRAFT)
    # When the staff member wants it out; due_at moves with retries and daily caps.
    scheduled_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    # Claims so far; only ever grows, which is what makes it usable as a fencing token.
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    # Failed tries that count towards the limit (throttling, server errors, unknowns).
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    # Set, fenced and committed just before the request to LinkedIn leaves: a worker lost
    # after this may have published, one lost before it cannot have.
    request_started_at: Mapped[datetime | None]
    linkedin_urn: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    # When whoever scheduled the post was emailed that its outcome is unknown: once, and only
    # when a check after SYNDICATE_DISPATCH_RECONCILE_AFTER could not settle it either; the
    # outcome is then worth a word even when it is "published".
    unknown_notified_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(24), default="manual")  # manual|queue|auto
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    dismissed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    # Loaded on demand: the dispatcher never needs the article's body or taxonomy, and lists
    # ask for it with selectinload.
    article: Mapped[Article] = relationship()
    target: Mapped[LinkedInTarget] = relationship(lazy="joined")
    history: Mapped[list[PostHistory]] = relationship(
        back_populates="post",
        order_by="PostHistory.id",
        cascade="all, delete-orphan",
    )

    @property
    def live_url(self) -> str | None:
        if not self.linkedin_urn:
            return None
        return f"https://www.linkedin.com/feed/update/{self.linkedin_urn}/"


class PostHistory(Base):
    """Every state change and every attempt, with who or which worker and what LinkedIn said."""

    __tablename__ = "post_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    actor: Mapped[str] = mapped_column(String(200), default="")
    http_status: Mapped[int | None]
    detail: Mapped[str] = mapped_column(Text, default="")

    post: Mapped[Post] = relationship(back_populates="history")


class LinkedInImage(Base):
    """A thumbnail uploaded once per article and owner, reused by every post that needs it."""

    __tablename__ = "linkedin_images"
    __table_args__ = (UniqueConstraint("article_id", "owner_urn", "source_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    owner_urn: Mapped[str] = mapped_column(String(100))
    source_url: Mapped[str] = mapped_column(String(2000))
    image_urn: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime]


class AutoPostRule(Base):
    """New published articles in these categories go to these targets by themselves."""

    __tablename__ = "auto_post_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Category slugs; empty means every category.
    category_slugs: Mapped[list[Any]] = mapped_column(default=list)
    target_ids: Mapped[list[Any]] = mapped_column(default=list)
    # True: publish at the next free slot; False: hold a draft for approval.
    publish_directly: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
