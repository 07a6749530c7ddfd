"""Share requests, their audit log, signed permissions, tracked links, visits, standing permissions

Revision ID: 0007_sharing
Revises: 0006_posts
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicate.db

revision: str = "0007_sharing"
down_revision: str | None = "0006_posts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = syndicate.db.UTCDateTime(timezone=True)
WHERE = ("linkedin_profile", "linkedin_page", "newsletter", "website", "other")
KINDS = ("link", "excerpt", "full", "translation")
STATES = (
    "unverified",
    "pending",
    "info_requested",
    "approved",
    "denied",
    "withdrawn",
    "revoked",
    "expired",
)


def _enum(name: str, values: Sequence[str]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


def upgrade() -> None:
    op.create_table(
        "standing_permissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=True),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("ends_at", UTC, nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint(
            "(email IS NULL) <> (domain IS NULL)",
            name=op.f("ck_standing_permissions_email_or_domain"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_standing_permissions_created_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standing_permissions")),
    )
    with op.batch_alter_table("standing_permissions") as batch_op:
        batch_op.create_index("ix_standing_permissions_email", ["email"])
        batch_op.create_index("ix_standing_permissions_domain", ["domain"])

    op.create_table(
        "share_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("requester_email", sa.String(length=320), nullable=False),
        sa.Column("verified_at", UTC, nullable=True),
        sa.Column("where", _enum("sharewhere", WHERE), nullable=False),
        sa.Column("where_url", sa.String(length=2000), nullable=True),
        sa.Column("audience_size", sa.Integer(), nullable=True),
        sa.Column("kind", _enum("sharekind", KINDS), nullable=False),
        sa.Column("excerpt_words", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("state", _enum("requeststate", STATES), nullable=False),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("credit_line", sa.String(length=500), nullable=True),
        sa.Column("link_required", sa.Boolean(), nullable=False),
        sa.Column("excerpt_limit", sa.Integer(), nullable=True),
        sa.Column("expires_at", UTC, nullable=True),
        sa.Column("private_token_hash", sa.String(length=64), nullable=True),
        sa.Column("verify_nonce_hash", sa.String(length=64), nullable=True),
        sa.Column("standing_permission_id", sa.Integer(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            ondelete="CASCADE",
            name=op.f("fk_share_requests_article_id_articles"),
        ),
        sa.ForeignKeyConstraint(
            ["standing_permission_id"],
            ["standing_permissions.id"],
            ondelete="SET NULL",
            name=op.f("fk_share_requests_standing_permission_id_standing_permissions"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_share_requests_decided_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_requests")),
        sa.UniqueConstraint("public_id", name=op.f("uq_share_requests_public_id")),
        sa.UniqueConstraint(
            "private_token_hash", name=op.f("uq_share_requests_private_token_hash")
        ),
    )
    with op.batch_alter_table("share_requests") as batch_op:
        batch_op.create_index("ix_share_requests_article_id", ["article_id"])
        batch_op.create_index("ix_share_requests_requester_email", ["requester_email"])
        batch_op.create_index("ix_share_requests_state_updated_at", ["state", "updated_at"])

    op.create_table(
        "share_request_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_kind", _enum("actorkind", ("staff", "reader", "system")), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=200), nullable=False),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["share_requests.id"],
            ondelete="CASCADE",
            name=op.f("fk_share_request_events_request_id_share_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["actor_user_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_share_request_events_actor_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_request_events")),
    )
    with op.batch_alter_table("share_request_events") as batch_op:
        batch_op.create_index("ix_share_request_events_request_id", ["request_id"])

    op.create_table(
        "permissions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("grantee_name", sa.String(length=200), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column(
            "state", _enum("permissionstate", ("active", "revoked", "expired")), nullable=False
        ),
        sa.Column("granted_at", UTC, nullable=False),
        sa.Column("expires_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.Column("expired_at", UTC, nullable=True),
        sa.Column("expiry_warned_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["share_requests.id"],
            ondelete="CASCADE",
            name=op.f("fk_permissions_request_id_share_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            ondelete="CASCADE",
            name=op.f("fk_permissions_article_id_articles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_permissions")),
        sa.UniqueConstraint("public_id", name=op.f("uq_permissions_public_id")),
        sa.UniqueConstraint("request_id", name=op.f("uq_permissions_request_id")),
    )
    with op.batch_alter_table("permissions") as batch_op:
        batch_op.create_index("ix_permissions_article_id", ["article_id"])
        batch_op.create_index("ix_permissions_expires_at", ["expires_at"])

    op.create_table(
        "share_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("permission_id", sa.Integer(), nullable=False),
        sa.Column("target_url", sa.String(length=3000), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["permission_id"],
            ["permissions.id"],
            ondelete="CASCADE",
            name=op.f("fk_share_links_permission_id_permissions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_links")),
        sa.UniqueConstraint("code", name=op.f("uq_share_links_code")),
        sa.UniqueConstraint("permission_id", name=op.f("uq_share_links_permission_id")),
    )

    op.create_table(
        "share_visits",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            ondelete="CASCADE",
            name=op.f("fk_share_visits_link_id_share_links"),
        ),
        sa.PrimaryKeyConstraint("link_id", "day", name=op.f("pk_share_visits")),
    )
    op.create_table(
        "share_visitors",
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("visitor_hash", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["link_id"],
            ["share_links.id"],
            ondelete="CASCADE",
            name=op.f("fk_share_visitors_link_id_share_links"),
        ),
        sa.PrimaryKeyConstraint(
            "link_id", "day", "visitor_hash", name=op.f("pk_share_visitors")
        ),
    )


def downgrade() -> None:
    op.drop_table("share_visitors")
    op.drop_table("share_visits")
    op.drop_table("share_links")
    with op.batch_alter_table("permissions") as batch_op:
        batch_op.drop_index("ix_permissions_expires_at")
        batch_op.drop_index("ix_permissions_article_id")
    op.drop_table("permissions")
    with op.batch_alter_table("share_request_events") as batch_op:
        batch_op.drop_index("ix_share_request_events_request_id")
    op.drop_table("share_request_events")
    with op.batch_alter_table("share_requests") as batch_op:
        batch_op.drop_index("ix_share_requests_state_updated_at")
        batch_op.drop_index("ix_share_requests_requester_email")
        batch_op.drop_index("ix_share_requests_article_id")
    op.drop_table("share_requests")
    with op.batch_alter_table("standing_permissions") as batch_op:
        batch_op.drop_index("ix_standing_permissions_domain")
        batch_op.drop_index("ix_standing_permissions_email")
    op.drop_table("standing_permissions")
