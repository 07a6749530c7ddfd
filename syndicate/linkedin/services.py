"""LinkedIn connections: storing tokens sealed, refreshing once, telling staff when they break."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from syndicate import wording
from syndicate.crypto import TokenVault, UndecryptableSecret
from syndicate.linkedin import client as li
from syndicate.linkedin.models import (
    ConnectionState,
    LinkedInConnection,
    LinkedInTarget,
    TargetKind,
)
from syndicate.staff.models import User
from syndicate.web.services import raise_alert, resolve_alert

log = logging.getLogger(__name__)

MEMBER_SCOPES = ("openid", "profile", "email", "w_member_social")
PAGE_SCOPES = ("w_organization_social", "r_organization_admin")
# Roles that may post for a page (the ACL API spells content admin CONTENT_ADMINISTRATOR).
POSTING_ROLES = frozenset(
    {"ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "CONTENT_ADMIN", "DIRECT_SPONSORED_CONTENT_POSTER"}
)
EXPIRY_WARNINGS_DAYS = (14, 7, 1)
# Refresh when less than this is left, so that a token never expires between two ticks.
REFRESH_MARGIN = timedelta(days=7)


class ReconnectNeeded(Exception):
    """The connection cannot be used until a staff member reconnects it."""


def scopes_for(*, pages: bool) -> list[str]:
    return [*MEMBER_SCOPES, *(PAGE_SCOPES if pages else ())]


def parse_scopes(raw: str | None) -> str:
    """LinkedIn answers scopes comma-separated; store them space-separated and sorted."""
    parts = (raw or "").replace(",", " ").split()
    return " ".join(sorted(set(parts)))


@dataclass(frozen=True)
class Organization:
    urn: str
    name: str
    role: str


def store_connection(
    session: Session,
    *,
    token: dict[str, Any],
    profile: dict[str, Any],
    organizations: list[Organization],
    vault: TokenVault,
    user: User,
    now: datetime,
) -> LinkedInConnection:
    """Create or update the member's connection and its targets from a fresh grant.

    Reconnecting keeps the same row, so schedules and templates that point at it survive.
    A grant without a refresh token keeps the one we had (LinkedIn issues them once).
    """
    sub = str(profile.get("sub") or "").strip()
    if not sub:
        raise li.LinkedInError("LinkedIn's profile answer has no member id (sub)")
    member_urn = f"urn:li:person:{sub}"
    connection = session.scalar(
        select(LinkedInConnection).where(LinkedInConnection.member_urn == member_urn)
    )
    if connection is None:
        connection = LinkedInConnection(member_urn=member_urn, created_at=now)
        session.add(connection)
    connection.name = str(profile.get("name") or "").strip()[:200] or member_urn
    connection.email = str(profile.get("email") or "")[:320] or None
    connection.access_token_encrypted = vault.encrypt(token["access_token"])
    connection.expires_at = now + timedelta(seconds=int(token.get("expires_in") or 0))
    if token.get("refresh_token"):
        connection.refresh_token_encrypted = vault.encrypt(token["refresh_token"])
        lifetime = token.get("refresh_token_expires_in")
        connection.refresh_expires_at = now + timedelta(seconds=int(lifetime)) if lifetime else None
    connection.scopes = parse_scopes(token.get("scope"))
    connection.state = ConnectionState.ACTIVE
    connection.state_reason = ""
    connection.connected_by_id = user.id
    connection.updated_at = now
    connection.expiry_warned_days = None
    session.flush()
    _sync_targets(session, connection, organizations, user=user, now=now)
    resolve_alert(session, _alert_key(connection), now=now)
    return connection


def _sync_targets(
    session: Session,
    connection: LinkedInConnection,
    organizations: list[Organization],
    *,
    user: User,
    now: datetime,
) -> None:
    wanted: dict[str, tuple[TargetKind, str, str | None]] = {
        connection.member_urn: (TargetKind.MEMBER, connection.name, None)
    }
    for org in organizations:
        if org.role in POSTING_ROLES:
            wanted[org.urn] = (TargetKind.ORGANIZATION, org.name, org.role)
    existing = {
        t.urn: t
        for t in session.scalars(select(LinkedInTarget).where(LinkedInTarget.urn.in_(wanted)))
    }
    for urn, (kind, name, role) in wanted.items():
        target = existing.get(urn)
        if target is None:
            target = LinkedInTarget(
                urn=urn,
                kind=kind,
                time_zone=user.time_zone,
                created_at=now,
                queue_slots=[],
            )
            session.add(target)
        elif target.connection_id != connection.id and target.connection.is_usable:
            # Another active member already posts for this page; keep theirs.
            continue
        target.connection = connection
        target.display_name = name[:200]
        target.role = role
        target.is_active = True
        target.updated_at = now
    for target in connection.targets:
        if target.urn not in wanted and target.is_active:
            target.is_active = False
            target.updated_at = now
    session.flush()


def access_token(
    session: Session, connection: LinkedInConnection, *, vault: TokenVault, now: datetime
) -> str:
    """The plaintext token for one call; a connection that cannot give one raises."""
    if not connection.is_usable:
        raise ReconnectNeeded(connection.state_reason or "the connection is not active")
    try:
        return vault.decrypt(connection.access_token_encrypted or "")
    except UndecryptableSecret:
        mark_reconnect_needed(
            session,
            connection,
            now=now,
            reason="Its stored token cannot be decrypted with the configured keys "
            "(SYNDICATE_TOKEN_KEYS changed?).",
        )
        raise ReconnectNeeded(connection.state_reason) from None


def mark_reconnect_needed(
    session: Session, connection: LinkedInConnection, *, reason: str, now: datetime
) -> None:
    """Stop using the connection and tell the staff member who connected it."""
    if connection.state is ConnectionState.RECONNECT_NEEDED:
        return
    connection.state = ConnectionState.RECONNECT_NEEDED
    connection.state_reason = reason[:500]
    connection.updated_at = now
    message = (
        f"LinkedIn connection {connection.name} needs reconnecting: {reason} "
        "Posts for it wait until then."
    )
    raise_alert(
        session,
        _alert_key(connection),
        message,
        now=now,
        level="error",
        user_id=connection.connected_by_id,
        link="/dashboard/connections",
    )
    _notify(
        session,
        connection,
        subject=f"Reconnect LinkedIn: {connection.name}",
        text=message + "\n\nReconnect it in the dashboard under Connections.",
        now=now,
    )
    session.flush()


def _alert_key(connection: LinkedInConnection) -> str:
    return f"linkedin.connection.{connection.id}"


def _notify(
    session: Session, connection: LinkedInConnection, *, subject: str, text: str, now: datetime
) -> None:
    if connection.connected_by_id is None:
        return
    user = session.get(User, connection.connected_by_id)
    if user is None or not user.is_active:
        return
    from syndicate.mail.services import new_mail, queue_mail

    queue_mail(session, new_mail(to=user.email, subject=subject, text=text, now=now))


def revoke_at_linkedin(
    connection: LinkedInConnection, *, vault: TokenVault, client: li.LinkedInClient
) -> bool:
    """Ask LinkedIn to revoke the connection's access token; whether it confirmed.

    Apart from ``disconnect`` so that no database lock is held while LinkedIn answers.
    """
    if not connection.access_token_encrypted:
        return False
    try:
        return client.revoke(vault.decrypt(connection.access_token_encrypted))
    except UndecryptableSecret:
        return False


def disconnect(session: Session, connection: LinkedInConnection, *, now: datetime) -> None:
    """Delete the tokens and deactivate the targets (after ``revoke_at_linkedin``)."""
    connection.access_token_encrypted = None
    connection.refresh_token_encrypted = None
    connection.state = ConnectionState.REVOKED
    connection.state_reason = "Disconnected by staff."
    connection.updated_at = now
    for target in connection.targets:
        target.is_active = False
        target.updated_at = now
    resolve_alert(session, _alert_key(connection), now=now)
    session.flush()


def handle_auth_failure(
    session: Session, connection: LinkedInConnection, error: li.AuthError, *, now: datetime
) -> None:
    """A 401 from LinkedIn: the token is dead for us; reconnecting is the only cure."""
    kinds = {
        li.TokenRevoked: "LinkedIn says the token was revoked.",
        li.TokenExpired: "LinkedIn says the token has expired.",
    }
    mark_reconnect_needed(
        session, connection, now=now, reason=kinds.get(type(error), "LinkedIn refused the token.")
    )


def refresh_expiring_token(
    session: Session,
    connection: LinkedInConnection,
    *,
    client: li.LinkedInClient,
    vault: TokenVault,
    now: datetime,
    margin: timedelta = REFRESH_MARGIN,
) -> bool:
    """Refresh the access token if it expires within ``margin`` and LinkedIn gave a refresh
    token; True when this call refreshed it. The caller holds the row locked (see
    ``linkedin.jobs.refresh_if_due``)."""
    if (
        not connection.is_usable
        or not connection.refresh_token_encrypted
        or (connection.expires_at and connection.expires_at - now > margin)
    ):
        return False
    try:
        refresh_token = vault.decrypt(connection.refresh_token_encrypted)
    except UndecryptableSecret:
        mark_reconnect_needed(
            session, connection, now=now, reason="Its refresh token cannot be decrypted."
        )
        return False
    try:
        token = client.refresh(refresh_token)
    except li.OAuthError as exc:
        mark_reconnect_needed(
            session, connection, now=now, reason=f"LinkedIn refused to refresh it ({exc})."
        )
        return False
    # Transient failures (ConnectionFailed, ServerError...) propagate; the next tick retries.
    connection.access_token_encrypted = vault.encrypt(token["access_token"])
    connection.expires_at = now + timedelta(seconds=int(token.get("expires_in") or 0))
    if token.get("refresh_token"):
        connection.refresh_token_encrypted = vault.encrypt(token["refresh_token"])
    connection.last_refreshed_at = now
    connection.updated_at = now
    connection.expiry_warned_days = None
    return True


def warn_expiring(session: Session, *, now: datetime) -> int:
    """Warn the connecting staff member 14, 7 and 1 days before a token without refresh
    expires (banner and email), once per threshold; return how many warnings went out."""
    sent = 0
    connections = session.scalars(
        select(LinkedInConnection).where(
            LinkedInConnection.state == ConnectionState.ACTIVE,
            LinkedInConnection.expires_at.is_not(None),
            LinkedInConnection.expires_at <= now + timedelta(days=max(EXPIRY_WARNINGS_DAYS)),
        )
    ).all()
    for connection in connections:
        expires_at = connection.expires_at
        assert expires_at is not None  # the query takes only connections with one
        if connection.refresh_token_encrypted and (
            connection.refresh_expires_at is None or connection.refresh_expires_at > expires_at
        ):
            continue  # it will be refreshed before it expires
        left = expires_at - now
        threshold = min(
            (d for d in EXPIRY_WARNINGS_DAYS if left <= timedelta(days=d)), default=None
        )
        if threshold is None or (
            connection.expiry_warned_days is not None and connection.expiry_warned_days <= threshold
        ):
            continue
        if left <= timedelta(0):
            mark_reconnect_needed(
                session, connection, now=now, reason="Its 60-day token has expired."
            )
            continue
        # Rounded to the nearest unit: six days less a few seconds is "6 days", not 5.
        expires_in = wording.duration(left)
        message = (
            f"The LinkedIn connection {connection.name} expires in {expires_in}. "
            "Reconnect it to keep posting."
        )
        raise_alert(
            session,
            _alert_key(connection),
            message,
            now=now,
            user_id=connection.connected_by_id,
            link="/dashboard/connections",
        )
        _notify(
            session,
            connection,
            subject=f"LinkedIn connection expires in {expires_in}",
            text=message,
            now=now,
        )
        connection.expiry_warned_days = threshold
        sent += 1
    session.flush()
    return sent


def rotate_tokens(session: Session, *, vault: TokenVault) -> tuple[int, int]:
    """Re-encrypt every stored token with the newest key: (rotated, undecryptable)."""
    rotated = failed = 0
    for connection in session.scalars(select(LinkedInConnection)):
        for column in ("access_token_encrypted", "refresh_token_encrypted"):
            sealed = getattr(connection, column)
            if not sealed:
                continue
            try:
                setattr(connection, column, vault.rotate(sealed))
                rotated += 1
            except UndecryptableSecret:
                failed += 1
    session.flush()
    return rotated, failed


def list_connections(session: Session) -> list[LinkedInConnection]:
    return list(
        session.scalars(
            select(LinkedInConnection)
            .options(selectinload(LinkedInConnection.targets))
            .order_by(LinkedInConnection.name)
        )
    )


def last_posts(session: Session) -> dict[int, datetime]:
    """When each connection last published (derived from posts, not stored twice)."""
    from syndicate.posts.models import Post

    rows = session.execute(
        select(LinkedInTarget.connection_id, func.max(Post.published_at))
        .join(Post, Post.target_id == LinkedInTarget.id)
        .group_by(LinkedInTarget.connection_id)
    ).all()
    return {connection_id: last for connection_id, last in rows if last is not None}


def list_targets(session: Session, *, active_only: bool = True) -> list[LinkedInTarget]:
    query = select(LinkedInTarget).order_by(LinkedInTarget.kind, LinkedInTarget.display_name)
    if active_only:
        query = query.where(LinkedInTarget.is_active)
    return list(session.scalars(query))
