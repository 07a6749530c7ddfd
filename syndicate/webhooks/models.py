from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndicate.db import Base

# What staff may subscribe to; the events consumer hands on only these kinds.
EVENT_KINDS = (
    "post.published",
    "post.failed",
    "share_request.created",
    "share_request.decided",
    "article.published",
)
TEST_KIND = "webhook.test"
OUTBOX_KIND = "webhook.deliver"


class WebhookEndpoint(Base):
    """A URL that receives signed POSTs for the event kinds it chose."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_kinds: Mapped[list[Any]] = mapped_column(default=list)
    # Fernet ciphertext (TokenVault); the plaintext is shown once, when the endpoint is made.
    secret_encrypted: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Why it stopped, when the receiver stopped it (HTTP 410) rather than a person.
    deactivated_reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event for one endpoint; sent by the outbox, retried until done or dead."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent as Syndicate-Delivery; receivers use it to drop repeats (delivery is at least once).
    public_id: Mapped[str] = mapped_column(String(36), unique=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[int | None]
    event_kind: Mapped[str] = mapped_column(String(64))
    # The exact bytes that are signed and sent, so every attempt sends the same body.
    body: Mapped[str] = mapped_column(Text)
    outbox_message_id: Mapped[int | None]
    # pending, delivered, failed (will retry), dead, skipped (endpoint inactive), gone (410)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()
    attempt_log: Mapped[list[WebhookAttempt]] = relationship(
        back_populates="delivery", order_by="WebhookAttempt.id", cascade="all, delete-orphan"
    )


class WebhookAttempt(Base):
    """One try at one delivery: what the receiver answered, or why it could not be reached."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int]
    at: Mapped[datetime]
    status_code: Mapped[int | None]
    response_snippet: Mapped[str] = mapped_column(String(500), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[int] = mapped_column(default=0)

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="attempt_log")
