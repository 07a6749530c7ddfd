from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from syndicate.db import Base


class SiteSetting(Base):
    """A setting an administrator changes in the dashboard (the publication's name)."""

    __tablename__ = "site_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class ChecklistState(Base):
    """One staff member's first-run checklist: dismissed, and the steps with no other trace."""

    __tablename__ = "checklist_states"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    dismissed_at: Mapped[datetime | None]
    feeds_seen_at: Mapped[datetime | None]
