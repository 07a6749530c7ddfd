"""Share form: one address's submissions take turns for its allowance (PostgreSQL)

Revision ID: 0009_sharing_email_allowance
Revises: 0008_api_webhooks

A share form is stored by one statement that counts the address's recent requests and
inserts only within the allowance. Within one statement PostgreSQL reads from a snapshot
taken when the statement began, so simultaneous forms could not see each other's rows
(even behind a lock taken inside that statement). This function takes a transaction-scoped
advisory lock on the address and then counts: a VOLATILE function's queries each read a
fresh snapshot, so the count sees every request committed before the lock was granted,
and the lock is held until the inserting statement commits. SQLite serialises writers
(BEGIN IMMEDIATE) and needs nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009_sharing_email_allowance"
down_revision: str | None = "0008_api_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # 1587675137 (0x5EA20001): the first key of the two-key advisory locks on addresses,
    # the second being the address's hash; single-key locks (the events') live apart.
    op.execute(
        """
        CREATE FUNCTION share_requests_sent_since(address text, since timestamptz)
        RETURNS bigint LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(1587675137, hashtext(address));
            RETURN (SELECT count(*) FROM share_requests
                    WHERE requester_email = address AND created_at > since);
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION share_requests_sent_since(text, timestamptz)")
