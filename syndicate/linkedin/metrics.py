"""The LinkedIn connections' gauges on /metrics: by state, and tokens a person must renew."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from syndicate.linkedin.models import ConnectionState, LinkedInConnection
from syndicate.web.metrics import Key, key

TOKEN_WARNING_DAYS = 14

HELP = {
    "syndicate_linkedin_connections": "LinkedIn connections by state.",
    "syndicate_linkedin_tokens_expiring": (
        f"Active LinkedIn connections whose token ends within {TOKEN_WARNING_DAYS} days and "
        "will not be refreshed automatically (a person must reconnect)."
    ),
}


def gauges(session: Session, now: datetime) -> dict[Key, float]:
    """Connections by state (every state, zero included) and tokens expiring unrenewed."""
    values: dict[Key, float] = {}
    for state in ConnectionState:
        values[key("syndicate_linkedin_connections", state=state.value)] = 0
    for state, count in session.execute(
        select(LinkedInConnection.state, func.count()).group_by(LinkedInConnection.state)
    ):
        values[key("syndicate_linkedin_connections", state=state.value)] = count

    # The same rule as linkedin.services.warn_expiring: a token that a refresh token will
    # renew before it ends needs nobody.
    expiring = session.scalar(
        select(func.count())
        .select_from(LinkedInConnection)
        .where(
            LinkedInConnection.state == ConnectionState.ACTIVE,
            LinkedInConnection.expires_at.is_not(None),
            LinkedInConnection.expires_at <= now + timedelta(days=TOKEN_WARNING_DAYS),
            or_(
                LinkedInConnection.refresh_token_encrypted.is_(None),
                and_(
                    LinkedInConnection.refresh_expires_at.is_not(None),
                    LinkedInConnection.refresh_expires_at <= LinkedInConnection.expires_at,
                ),
            ),
        )
    )
    values[key("syndicate_linkedin_tokens_expiring")] = expiring or 0
    return values
