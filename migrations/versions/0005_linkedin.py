"""LinkedIn connections and posting targets; staff alerts

Revision ID: 0005_linkedin
Revises: 0004_outbox_mail
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicate.db

revision: str = "0005_linkedin"
down_revision: str | None = "0004_outbox_mail"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "linkedin_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_urn", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("access_token_encrypted", sa.Text(), nullable=True),
        sa.Column("refresh_token_encrypted", sa.Text(), nullable=True),
        sa.Column("expires_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refresh_expires_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "active",
                "reconnect_needed",
                "revoked",
                name="connectionstate",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("state_reason", sa.String(length=500), nullable=False),
        sa.Column("connected_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_refreshed_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expiry_warned_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connected_by_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_linkedin_connections_connected_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkedin_connections")),
        sa.UniqueConstraint("member_urn", name=op.f("uq_linkedin_connections_member_urn")),
    )
    op.create_table(
        "linkedin_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("urn", sa.String(length=100), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("member", "organization", name="targetkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=50), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("queue_slots", sa.JSON(), nullable=False),
        sa.Column("daily_cap", sa.Integer(), nullable=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["linkedin_connections.id"],
            ondelete="CASCADE",
            name=op.f("fk_linkedin_targets_connection_id_linkedin_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkedin_targets")),
        sa.UniqueConstraint("urn", name=op.f("uq_linkedin_targets_urn")),
    )
    with op.batch_alter_table("linkedin_targets") as batch_op:
        batch_op.create_index(batch_op.f("ix_linkedin_targets_connection_id"), ["connection_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", syndicate.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], ondelete="CASCADE", name=op.f("fk_alerts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("key", name=op.f("uq_alerts_key")),
    )
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_user_id"), ["user_id"])


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_user_id"))
    op.drop_table("alerts")
    with op.batch_alter_table("linkedin_targets") as batch_op:
        batch_op.drop_index(batch_op.f("ix_linkedin_targets_connection_id"))
    op.drop_table("linkedin_targets")
    op.drop_table("linkedin_connections")
