"""The posts' gauges on /metrics: posts by state, and how late the dispatcher is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from syndicate.linkedin.models import ConnectionState, LinkedInConnection, LinkedInTarget
from syndicate.posts.models import Post, PostState
from syndicate.web.metrics import Key, age, key

HELP = {
    "syndicate_posts": "LinkedIn posts by state.",
    "syndicate_dispatcher_lag_seconds": (
        "Age of the oldest due post the dispatcher should take (scheduled, or unknown and "
        "due for reconciling) whose connection is active; 0 when none waits."
    ),
}


def gauges(session: Session, now: datetime) -> dict[Key, float]:
    """Posts by state (every state, zero included) and the dispatcher's lag, as of now."""
    values: dict[Key, float] = {}
    for state in PostState:
        values[key("syndicate_posts", state=state.value)] = 0
    for state, count in session.execute(select(Post.state, func.count()).group_by(Post.state)):
        values[key("syndicate_posts", state=state.value)] = count

    # Posts of a connection that needs reconnecting wait on purpose (and raise an alert of
    # their own); counting them would make the lag useless as a "dispatcher is stuck" signal.
    oldest_due = session.scalar(
        select(func.min(Post.due_at))
        .join(LinkedInTarget, LinkedInTarget.id == Post.target_id)
        .join(LinkedInConnection, LinkedInConnection.id == LinkedInTarget.connection_id)
        .where(
            Post.state.in_([PostState.SCHEDULED, PostState.UNKNOWN]),
            Post.due_at <= now,
            LinkedInConnection.state == ConnectionState.ACTIVE,
        )
    )
    values[key("syndicate_dispatcher_lag_seconds")] = age(oldest_due, now)
    return values
