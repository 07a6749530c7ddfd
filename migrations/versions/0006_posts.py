"""Scheduled LinkedIn posts, their history, uploaded thumbnails and auto-post rules

Revision ID: 0006_posts
Revises: 0005_linkedin
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicate.db

revision: str = "0006_posts"
down_revision: str | None = "0005_linkedin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = syndicate.db.UTCDateTime(timezone=True)
STATES = (
    "draft",
    "awaiting_approval",
    "scheduled",
    "sending",
    "published",
    "failed",
    "unknown",
    "needs_attention",
    "missed",
    "cancelled",
)


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("is_reshare", sa.Boolean(), nullable=False),
        sa.Column("commentary", sa.Text(), nullable=False),
        sa.Column("link_url", sa.String(length=2000), nullable=False),
        sa.Column("card_title", sa.String(length=400), nullable=False),
        sa.Column("card_description", sa.String(length=2000), nullable=False),
        sa.Column("thumbnail_url", sa.String(length=2000), nullable=True),
        sa.Column(
            "state",
            sa.Enum(*STATES, name="poststate", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("scheduled_at", UTC, nullable=True),
        sa.Column("due_at", UTC, nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", UTC, nullable=True),
        sa.Column("request_started_at", UTC, nullable=True),
        sa.Column("linkedin_urn", sa.String(length=100), nullable=True),
        sa.Column("published_at", UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("dismissed_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            ondelete="CASCADE",
            name=op.f("fk_posts_article_id_articles"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["linkedin_targets.id"],
            ondelete="CASCADE",
            name=op.f("fk_posts_target_id_linkedin_targets"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_posts_created_by_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_posts_approved_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posts")),
    )
    with op.batch_alter_table("posts") as batch_op:
        batch_op.create_index("ix_posts_article_id", ["article_id"])
        batch_op.create_index("ix_posts_target_id", ["target_id"])
        batch_op.create_index("ix_posts_state_due_at", ["state", "due_at"])
        batch_op.create_index(
            "uq_posts_article_target",
            ["article_id", "target_id"],
            unique=True,
            sqlite_where=sa.text("is_reshare = 0 AND state != 'cancelled'"),
            postgresql_where=sa.text("is_reshare = false AND state != 'cancelled'"),
        )
    op.create_table(
        "post_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            ondelete="CASCADE",
            name=op.f("fk_post_history_post_id_posts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_post_history")),
    )
    with op.batch_alter_table("post_history") as batch_op:
        batch_op.create_index("ix_post_history_post_id", ["post_id"])
    op.create_table(
        "linkedin_images",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("owner_urn", sa.String(length=100), nullable=False),
        sa.Column("source_url", sa.String(length=2000), nullable=False),
        sa.Column("image_urn", sa.String(length=100), nullable=False),
        sa.Column("uploaded_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            ondelete="CASCADE",
            name=op.f("fk_linkedin_images_article_id_articles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_linkedin_images")),
        sa.UniqueConstraint(
            "article_id",
            "owner_urn",
            "source_url",
            name=op.f("uq_linkedin_images_article_id_owner_urn_source_url"),
        ),
    )
    op.create_table(
        "auto_post_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category_slugs", sa.JSON(), nullable=False),
        sa.Column("target_ids", sa.JSON(), nullable=False),
        sa.Column("publish_directly", sa.Boolean(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_auto_post_rules_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_post_rules")),
    )


def downgrade() -> None:
    op.drop_table("auto_post_rules")
    op.drop_table("linkedin_images")
    with op.batch_alter_table("post_history") as batch_op:
        batch_op.drop_index("ix_post_history_post_id")
    op.drop_table("post_history")
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_index("uq_posts_article_target")
        batch_op.drop_index("ix_posts_state_due_at")
        batch_op.drop_index("ix_posts_target_id")
        batch_op.drop_index("ix_posts_article_id")
    op.drop_table("posts")
