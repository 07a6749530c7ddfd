"""The publication's name set in the dashboard, the first-run checklist, and the default
post template without {link}

Revision ID: 0013_first_run
Revises: 0012_post_statistics
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import syndicate.db

revision: str = "0013_first_run"
down_revision: str | None = "0012_post_statistics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = syndicate.db.UTCDateTime(timezone=True)

# The default template before this revision. The target settings page showed it prefilled,
# so a target that holds exactly it saved the page, not a template of its own: it follows
# the default again (now without {link}, which the article card carries).
OLD_DEFAULT_TEMPLATE = "{title}\n\n{summary}\n\n{link}\n\n{hashtags}"

_targets = sa.table("linkedin_targets", sa.column("template", sa.Text()))


def upgrade() -> None:
    op.create_table(
        "site_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            ondelete="SET NULL",
            name=op.f("fk_site_settings_updated_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_settings")),
    )
    op.create_table(
        "checklist_states",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("dismissed_at", UTC, nullable=True),
        sa.Column("feeds_seen_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            ondelete="CASCADE",
            name=op.f("fk_checklist_states_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_checklist_states")),
    )
    op.execute(
        _targets.update()
        .where(_targets.c.template == OLD_DEFAULT_TEMPLATE)
        .values(template="")
    )


def downgrade() -> None:
    # Targets cleared above follow whatever default the code has: nothing to restore.
    op.drop_table("checklist_states")
    op.drop_table("site_settings")
