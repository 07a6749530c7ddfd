"""Share requests, their audit trail, the permissions granted, tracked links and their visits."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, Date, Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndicate.articles.models import Article
from syndicate.db import Base, new_public_id


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class ShareWhere(enum.StrEnum):
    LINKEDIN_PROFILE = "linkedin_profile"
    LINKEDIN_PAGE = "linkedin_page"
    NEWSLETTER = "newsletter"
    WEBSITE = "website"
    OTHER = "other"

    @property
    def label(self) -> str:
        return WHERE_LABELS[self]


WHERE_LABELS = {
    ShareWhere.LINKEDIN_PROFILE: "LinkedIn profile",
    ShareWhere.LINKEDIN_PAGE: "LinkedIn page",
    ShareWhere.NEWSLETTER: "Newsletter",
    ShareWhere.WEBSITE: "Website",
    ShareWhere.OTHER: "Somewhere else",
}


class ShareKind(enum.StrEnum):
    LINK = "link"
    EXCERPT = "excerpt"
    FULL = "full"
    TRANSLATION = "translation"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    ShareKind.LINK: "Link only",
    ShareKind.EXCERPT: "Excerpt",
    ShareKind.FULL: "Full republication",
    ShareKind.TRANSLATION: "Translation",
}


class RequestState(enum.StrEnum):
    UNVERIFIED = "unverified"
    PENDING = "pending"
    INFO_REQUESTED = "info_requested"
    APPROVED = "approved"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    REVOKED = "revoked"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


# Waiting for the publisher (or for the reader's answer): staff may still decide.
OPEN_STATES = frozenset({RequestState.PENDING, RequestState.INFO_REQUESTED})
# States a staff member sees in the inbox filter (unverified requests never reach it).
INBOX_STATES = tuple(s for s in RequestState if s is not RequestState.UNVERIFIED)


class PermissionState(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ActorKind(enum.StrEnum):
    STAFF = "staff"
    READER = "reader"
    SYSTEM = "system"


class ShareRequest(Base):
    """A reader's request to share one article; the row holds its current state."""

    __tablename__ = "share_requests"
    __table_args__ = (Index("ix_share_requests_state_updated_at", "state", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    requester_name: Mapped[str] = mapped_column(String(200))
    # Lower-cased, so that history, standing permissions and rate limits agree.
    requester_email: Mapped[str] = mapped_column(String(320), index=True)
    verified_at: Mapped[datetime | None]
    where: Mapped[ShareWhere] = mapped_column(_enum(ShareWhere))
    where_url: Mapped[str | None] = mapped_column(String(2000))
    audience_size: Mapped[int | None]
    kind: Mapped[ShareKind] = mapped_column(_enum(ShareKind))
    excerpt_words: Mapped[int | None]
    language: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[RequestState] = mapped_column(
        _enum(RequestState), default=RequestState.UNVERIFIED
    )
    decision_note: Mapped[str] = mapped_column(Text, default="")
    credit_line: Mapped[str | None] = mapped_column(String(500))
    link_required: Mapped[bool] = mapped_column(default=True)
    excerpt_limit: Mapped[int | None]
    expires_at: Mapped[datetime | None]
    # SHA-256 of the reader's private link token; the token itself is only ever emailed.
    private_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # SHA-256 of the nonce inside the emailed verification link; cleared once used.
    verify_nonce_hash: Mapped[str | None] = mapped_column(String(64))
    standing_permission_id: Mapped[int | None] = mapped_column(
        ForeignKey("standing_permissions.id", ondelete="SET NULL")
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    article: Mapped[Article] = relationship(lazy="joined", innerjoin=True)
    events: Mapped[list[ShareRequestEvent]] = relationship(
        back_populates="request",
        order_by="ShareRequestEvent.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    permission: Mapped[Permission | None] = relationship(
        back_populates="request", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class ShareRequestEvent(Base):
    """The audit log: every change of a request, who made it and when."""

    __tablename__ = "share_request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("share_requests.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    actor_kind: Mapped[ActorKind] = mapped_column(_enum(ActorKind))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The staff member's name at the time, kept when the account is deleted.
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    note: Mapped[str] = mapped_column(Text, default="")

    request: Mapped[ShareRequest] = relationship(back_populates="events")

    @property
    def who(self) -> str:
        """How the reader's page names the actor: never a staff member's identity."""
        return {"staff": "The publisher", "reader": "You", "system": "Automatically"}[
            self.actor_kind.value
        ]


class Permission(Base):
    """A granted request as a public, signed record."""

    __tablename__ = "permissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("share_requests.id", ondelete="CASCADE"), unique=True
    )
    article_id: Mapped[int] = mapped_column(
        ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    grantee_name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[dict[str, Any]]
    conditions: Mapped[dict[str, Any]]
    # The canonical JSON that was signed (sorted keys, no whitespace) and its Ed25519 signature.
    document: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(String(200))
    key_id: Mapped[str] = mapped_column(String(32))
    state: Mapped[PermissionState] = mapped_column(
        _enum(PermissionState), default=PermissionState.ACTIVE
    )
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    expiry_warned_at: Mapped[datetime | None]

    request: Mapped[ShareRequest] = relationship(back_populates="permission")
    article: Mapped[Article] = relationship(lazy="joined", innerjoin=True)
    link: Mapped[ShareLink | None] = relationship(
        back_populates="permission", cascade="all, delete-orphan", passive_deletes=True
    )


class ShareLink(Base):
    """A tracked short link (/s/<code>) that redirects to the article and counts visits."""

    __tablename__ = "share_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    permission_id: Mapped[int] = mapped_column(
        ForeignKey("permissions.id", ondelete="CASCADE"), unique=True
    )
    target_url: Mapped[str] = mapped_column(String(3000))
    created_at: Mapped[datetime]

    permission: Mapped[Permission] = relationship(back_populates="link")


class ShareVisitDay(Base):
    """Visits through one link on one past day (UTC), folded from ``share_visitors``."""

    __tablename__ = "share_visits"

    link_id: Mapped[int] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visits: Mapped[int] = mapped_column(default=0)


class ShareVisitor(Base):
    """One visitor seen through one link on one day, as a salted hash; kept only for that day."""

    __tablename__ = "share_visitors"

    link_id: Mapped[int] = mapped_column(
        ForeignKey("share_links.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    visitor_hash: Mapped[str] = mapped_column(String(32), primary_key=True)


class StandingPermission(Base):
    """A trusted sharer (an email address or a whole domain) whose requests are granted at once."""

    __tablename__ = "standing_permissions"
    __table_args__ = (
        CheckConstraint("(email IS NULL) <> (domain IS NULL)", name="email_or_domain"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    # The kinds of sharing it covers, e.g. ["link", "excerpt"].
    kinds: Mapped[list[Any]]
    # None: no limit on how many requests it grants.
    quota: Mapped[int | None]
    used: Mapped[int] = mapped_column(default=0)
    ends_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]

    @property
    def who(self) -> str:
        return self.email or f"anyone @{self.domain}"
