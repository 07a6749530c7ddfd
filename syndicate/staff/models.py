from __future__ import annotations

import enum
from datetime import datetime

from flask import current_app, has_app_context
from sqlalchemy import Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndicate.config import time_zone_names
from syndicate.db import Base


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    # Read through ``time_zone``: a zone this host does not know (saved before zones were
    # checked, or dropped from tzdata) must not break every page its owner opens.
    saved_time_zone: Mapped[str] = mapped_column("time_zone", String(64), default="UTC")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]

    api_tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    sessions: Mapped[list[StaffSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def time_zone(self) -> str:
        """The zone this user's times are shown in: theirs, or the site's if theirs is unknown."""
        if self.saved_time_zone in time_zone_names():
            return self.saved_time_zone
        return current_app.config["TIME_ZONE"] if has_app_context() else "UTC"

    @time_zone.setter
    def time_zone(self, name: str) -> None:
        self.saved_time_zone = name

    @property
    def unknown_time_zone(self) -> str | None:
        """The saved zone when it is not one this host knows (the page says so)."""
        return None if self.saved_time_zone in time_zone_names() else self.saved_time_zone

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def label(self) -> str:
        return self.name or self.email


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # SHA-256 of the secret: tokens are long random strings, so a slow hash adds nothing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="api_tokens")


class StaffSession(Base):
    """One signed-in browser. Its cookie carries a random secret; only the secret's SHA-256 is
    kept, so the table signs nobody in, and deleting a row ends that browser's session even
    for copies of its cookie."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="sessions")
