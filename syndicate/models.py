"""The tables every feature shares: the outbox and the domain events.

``outbox.py`` and ``events.py`` hold what is done with them. Each feature keeps its own
tables in its ``models.py``; ``all_models.py`` imports them all for Alembic and the tests.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from syndicate.db import Base

# The longest outcome note an outbox handler may leave (outbox.py cuts longer ones).
OUTCOME_LIMIT = 200


# --- the outbox: side effects written with the change that caused them ----------------------


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DONE = "done"
    # The last attempt failed; the message is tried again at available_at.
    FAILED = "failed"
    # No attempts left, or a permanent failure: it will never be tried again.
    DEAD = "dead"


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_claim", "kind", "state", "available_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    state: Mapped[OutboxState] = mapped_column(
        Enum(
            OutboxState,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=OutboxState.PENDING,
    )
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=8)
    available_at: Mapped[datetime]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    # What the handler reported on success, e.g. "not sent: no SMTP server configured".
    outcome: Mapped[str | None] = mapped_column(String(OUTCOME_LIMIT))
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]


# --- domain events, read in order by each subscriber -----------------------------------------


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    # The public id of what changed (an article's UUID, for instance).
    subject: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class EventCursor(Base):
    __tablename__ = "event_cursors"

    subscriber: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None]
