"""WebSub subscriptions and their deliveries; the index that makes the feed cache check cheap."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from syndicate.db import Base
from syndicate.models import Event

# The feed cache asks for the newest event id of each article kind on every request; with this
# index each answer is one index probe, however many events and articles there are.
EVENTS_KIND_ID_INDEX = Index("ix_events_kind_id", Event.kind, Event.id)


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class SubscriptionState(enum.StrEnum):
    PENDING = "pending"  # asked for, intent not verified yet
    ACTIVE = "active"
    REFUSED = "refused"  # the subscriber did not confirm its intent
    UNSUBSCRIBED = "unsubscribed"
    EXPIRED = "expired"
    GONE = "gone"  # the callback answered 410


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after the last retry
    DROPPED = "dropped"  # the subscription ended before it could be sent


class WebSubSubscription(Base):
    """One callback subscribed to one topic (a feed URL in one format) on our own hub."""

    __tablename__ = "websub_subscriptions"
    __table_args__ = (UniqueConstraint("topic", "callback"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(2000), index=True)
    callback: Mapped[str] = mapped_column(String(2000))
    state: Mapped[SubscriptionState] = mapped_column(_enum(SubscriptionState), index=True)
    secret: Mapped[str | None] = mapped_column(String(200))
    lease_seconds: Mapped[int]
    lease_expires_at: Mapped[datetime | None]
    # A request waiting for intent verification: "subscribe" or "unsubscribe", and its values.
    pending_mode: Mapped[str | None] = mapped_column(String(16), index=True)
    pending_secret: Mapped[str | None] = mapped_column(String(200))
    pending_lease_seconds: Mapped[int | None]
    pending_since: Mapped[datetime | None]
    # ETag of the topic body last queued for this subscriber: a new ETag means a new delivery.
    last_etag: Mapped[str | None] = mapped_column(String(80))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]

    deliveries: Mapped[list[WebSubDelivery]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", passive_deletes=True,
        order_by="WebSubDelivery.id",
    )


class WebSubDelivery(Base):
    """One content distribution to one subscriber, retried with backoff until it lands."""

    __tablename__ = "websub_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("websub_subscriptions.id", ondelete="CASCADE"), index=True
    )
    etag: Mapped[str] = mapped_column(String(80))
    state: Mapped[DeliveryState] = mapped_column(_enum(DeliveryState), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    lease_expires_at: Mapped[datetime | None]
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    subscription: Mapped[WebSubSubscription] = relationship(back_populates="deliveries")
