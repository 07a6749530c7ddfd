"""LinkedIn post statistics: samples over time and each post's refresh state

Revision ID: 0012_post_statistics
Revises: 0011_staff_sessions
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicate.db

revision: str = "0012_post_statistics"
down_revision: str | None = "0011_staff_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = syndicate.db.UTCDateTime(timezone=True)
SOURCES = ("organization", "member_analytics", "social_actions")
REFRESH_STATES = ("waiting", "fetching", "done", "gone")


def _source(nullable: bool) -> sa.Column[str]:
    return sa.Column(
        "source",
        sa.Enum(*SOURCES, name="statsource", native_enum=False, length=24),
        nullable=nullable,
    )


def _figures() -> list[sa.Column[int]]:
    return [
        sa.Column(name, sa.Integer(), nullable=True)
        for name in ("impressions", "clicks", "reactions", "comments", "reposts")
    ]


def upgrade() -> None:
    op.create_table(
        "post_stat_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("taken_at", UTC, nullable=False),
        _source(nullable=False),
        *_figures(),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            ondelete="CASCADE",
            name=op.f("fk_post_stat_samples_post_id_posts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_stat_samples")),
    )
    op.create_index(
        "ix_post_stat_samples_post_id_taken_at", "post_stat_samples", ["post_id", "taken_at"]
    )
    op.create_table(
        "post_stat_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(*REFRESH_STATES, name="statrefresh", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("next_at", UTC, nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", UTC, nullable=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error_at", UTC, nullable=True),
        sa.Column("taken_at", UTC, nullable=True),
        _source(nullable=True),
        *_figures(),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            ondelete="CASCADE",
            name=op.f("fk_post_stat_states_post_id_posts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_stat_states")),
        sa.UniqueConstraint("post_id", name=op.f("uq_post_stat_states_post_id")),
    )
    op.create_index(
        "ix_post_stat_states_state_next_at", "post_stat_states", ["state", "next_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_post_stat_states_state_next_at", table_name="post_stat_states")
    op.drop_table("post_stat_states")
    op.drop_index("ix_post_stat_samples_post_id_taken_at", table_name="post_stat_samples")
    op.drop_table("post_stat_samples")
