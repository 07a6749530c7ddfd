"""Staff alerts: raised by jobs and services, shown as banners until resolved or dismissed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from syndicate.web.models import Alert


def raise_alert(
    session: Session,
    key: str,
    message: str,
    *,
    now: datetime,
    level: str = "warning",
    user_id: int | None = None,
    link: str | None = None,
) -> Alert:
    """Open (or re-open and update) the alert with this key."""
    alert = session.scalar(select(Alert).where(Alert.key == key))
    if alert is None:
        alert = Alert(key=key, created_at=now)
        session.add(alert)
    elif alert.resolved_at is not None:
        alert.created_at = now
    alert.message, alert.level, alert.user_id, alert.link = message, level, user_id, link
    alert.resolved_at = None
    session.flush()
    return alert


def resolve_alert(session: Session, key: str, *, now: datetime) -> None:
    alert = session.scalar(select(Alert).where(Alert.key == key, Alert.resolved_at.is_(None)))
    if alert is not None:
        alert.resolved_at = now
        session.flush()


def dismiss_alert(session: Session, alert_id: int, *, user_id: int, now: datetime) -> bool:
    """Dismiss an alert the user can see; False when there is none such."""
    alert = session.get(Alert, alert_id)
    if alert is None or alert.resolved_at is not None or alert.user_id not in (None, user_id):
        return False
    alert.resolved_at = now
    session.flush()
    return True


def open_alerts(session: Session, user_id: int) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert)
            .where(
                Alert.resolved_at.is_(None), or_(Alert.user_id.is_(None), Alert.user_id == user_id)
            )
            .order_by(Alert.created_at.desc())
            .limit(20)
        )
    )
