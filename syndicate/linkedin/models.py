from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndicate.db import Base


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=24, values_callable=lambda e: [m.value for m in e])


class ConnectionState(enum.StrEnum):
    ACTIVE = "active"
    RECONNECT_NEEDED = "reconnect_needed"
    REVOKED = "revoked"


class TargetKind(enum.StrEnum):
    MEMBER = "member"
    ORGANIZATION = "organization"


class LinkedInConnection(Base):
    """One LinkedIn member who authorised us; reconnecting updates this same row."""

    __tablename__ = "linkedin_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_urn: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(320))
    # Fernet ciphertexts (syndicate.crypto.TokenVault); never plaintext.
    access_token_encrypted: Mapped[str | None] = mapped_column(Text)
    refresh_token_encrypted: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    refresh_expires_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[ConnectionState] = mapped_column(
        _enum(ConnectionState), default=ConnectionState.ACTIVE
    )
    state_reason: Mapped[str] = mapped_column(String(500), default="")
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_refreshed_at: Mapped[datetime | None]
    # The smallest "days left" threshold (14, 7, 1) already warned about for this token.
    expiry_warned_days: Mapped[int | None]

    targets: Mapped[list[LinkedInTarget]] = relationship(
        back_populates="connection", order_by="LinkedInTarget.id"
    )

    @property
    def scope_set(self) -> set[str]:
        return set(self.scopes.split())

    @property
    def is_usable(self) -> bool:
        return self.state is ConnectionState.ACTIVE and self.access_token_encrypted is not None


class LinkedInTarget(Base):
    """Somewhere posts go: the member's own profile or an organization page they manage."""

    __tablename__ = "linkedin_targets"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(
        ForeignKey("linkedin_connections.id", ondelete="CASCADE"), index=True
    )
    urn: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[TargetKind] = mapped_column(_enum(TargetKind))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(50))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Weekly queue slots in the target's zone: [{"weekday": 0..6, "time": "HH:MM"}, ...]
    queue_slots: Mapped[list[Any]] = mapped_column(default=list)
    daily_cap: Mapped[int | None]
    template: Mapped[str] = mapped_column(Text, default="")
    needs_approval: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    connection: Mapped[LinkedInConnection] = relationship(back_populates="targets")


# --- post statistics ---------------------------------------------------------------------


class StatSource(enum.StrEnum):
    """Which LinkedIn API a sample came from (each gives a different set of figures)."""

    ORGANIZATION = "organization"  # organizationalEntityShareStatistics: all five figures
    MEMBER_ANALYTICS = "member_analytics"  # memberCreatorPostAnalytics: no clicks
    SOCIAL_ACTIONS = "social_actions"  # socialActions: reactions and comments only


class StatRefresh(enum.StrEnum):
    WAITING = "waiting"  # due at next_at
    FETCHING = "fetching"  # claimed by a worker until lease_expires_at
    DONE = "done"  # old enough: no more fetches
    GONE = "gone"  # LinkedIn no longer has the post


class PostStatSample(Base):
    """A post's lifetime figures as LinkedIn gave them at one moment: one point of its series.

    A figure LinkedIn's API did not give (clicks from socialActions, say) is NULL, not 0.
    """

    __tablename__ = "post_stat_samples"
    __table_args__ = (Index("ix_post_stat_samples_post_id_taken_at", "post_id", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    taken_at: Mapped[datetime]
    source: Mapped[StatSource] = mapped_column(_enum(StatSource))
    impressions: Mapped[int | None]
    clicks: Mapped[int | None]
    reactions: Mapped[int | None]
    comments: Mapped[int | None]
    reposts: Mapped[int | None]


class PostStatState(Base):
    """When a published post's figures are fetched next, who is fetching them, what went
    wrong last, and the latest figures (so that lists need no search for the newest sample).

    Claimed like other due rows (``syndicate/claims.py``): ``waiting`` and due, or
    ``fetching`` with its lease over.
    """

    __tablename__ = "post_stat_states"
    __table_args__ = (Index("ix_post_stat_states_state_next_at", "state", "next_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(
        ForeignKey("posts.id", ondelete="CASCADE"), unique=True
    )
    state: Mapped[StatRefresh] = mapped_column(_enum(StatRefresh), default=StatRefresh.WAITING)
    next_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    # Claims so far (the fencing token); failures in a row (the backoff's exponent).
    claims: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None]
    last_error_at: Mapped[datetime | None]
    # The newest sample's figures, copied here when it is stored.
    taken_at: Mapped[datetime | None]
    source: Mapped[StatSource | None] = mapped_column(_enum(StatSource))
    impressions: Mapped[int | None]
    clicks: Mapped[int | None]
    reactions: Mapped[int | None]
    comments: Mapped[int | None]
    reposts: Mapped[int | None]
