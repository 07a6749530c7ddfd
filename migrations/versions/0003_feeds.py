"""feeds: WebSub subscriptions and deliveries, events(kind, id) index

Revision ID: 0003_feeds
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicate.db

revision: str = "0003_feeds"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_kind_id", ["kind", "id"], unique=False)

    op.create_table(
        "websub_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=2000), nullable=False),
        sa.Column("callback", sa.String(length=2000), nullable=False),
        sa.Column("state", sa.Enum("pending", "active", "refused", "unsubscribed", "expired",
                                   "gone", name="subscriptionstate", native_enum=False,
                                   length=16), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=True),
        sa.Column("lease_seconds", sa.Integer(), nullable=False),
        sa.Column("lease_expires_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pending_mode", sa.String(length=16), nullable=True),
        sa.Column("pending_secret", sa.String(length=200), nullable=True),
        sa.Column("pending_lease_seconds", sa.Integer(), nullable=True),
        sa.Column("pending_since", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_etag", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_subscriptions")),
        sa.UniqueConstraint("topic", "callback",
                            name=op.f("uq_websub_subscriptions_topic_callback")),
    )
    with op.batch_alter_table("websub_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_websub_subscriptions_topic"), ["topic"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_websub_subscriptions_state"), ["state"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_websub_subscriptions_pending_mode"),
                              ["pending_mode"], unique=False)

    op.create_table(
        "websub_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("etag", sa.String(length=80), nullable=False),
        sa.Column("state", sa.Enum("pending", "sending", "delivered", "failed", "dropped",
                                   name="deliverystate", native_enum=False, length=16),
                  nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["websub_subscriptions.id"],
                                name=op.f("fk_websub_deliveries_subscription_id_websub_subscriptions"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_websub_deliveries")),
    )
    with op.batch_alter_table("websub_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_websub_deliveries_subscription_id"),
                              ["subscription_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_websub_deliveries_state"), ["state"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_websub_deliveries_next_attempt_at"),
                              ["next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("websub_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_websub_deliveries_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_websub_deliveries_state"))
        batch_op.drop_index(batch_op.f("ix_websub_deliveries_subscription_id"))
    op.drop_table("websub_deliveries")
    with op.batch_alter_table("websub_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_websub_subscriptions_pending_mode"))
        batch_op.drop_index(batch_op.f("ix_websub_subscriptions_state"))
        batch_op.drop_index(batch_op.f("ix_websub_subscriptions_topic"))
    op.drop_table("websub_subscriptions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_kind_id")
