"""Posts: when the owner was told that a post's outcome is unknown

Revision ID: 0010_post_unknown_notice
Revises: 0009_sharing_email_allowance

The dispatcher emails whoever scheduled a post about an unknown outcome only when it lasts
past the reconcile window, once; and then also when it is settled as published.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicate.db

revision: str = "0010_post_unknown_notice"
down_revision: str | None = "0009_sharing_email_allowance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "posts",
        sa.Column("unknown_notified_at", syndicate.db.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("unknown_notified_at")
