"""Staff accounts and API tokens. Functions take a session first and never commit."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from syndicate.config import as_time_zone, time_zone_names
from syndicate.db import changed_rows
from syndicate.errors import DomainError
from syndicate.staff.models import ApiToken, Role, StaffSession, User

MIN_PASSWORD_LENGTH = 12
TOKEN_PREFIX = "syn_"  # noqa: S105 (a public marker, not a secret)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class StaffError(DomainError):
    """Bad input for a staff operation; the message is fit to show."""


def hash_password(password: str) -> str:
    # scrypt is memory-hard; werkzeug's parameters follow current OWASP guidance.
    return generate_password_hash(password, method="scrypt")


@functools.cache
def _decoy_hash() -> str:
    """Checked when the email is unknown, so that a wrong email costs as long as a wrong
    password. Made on first use: at import, every process (schedulers, CLI commands, web
    workers) paid a scrypt hash at start-up whether or not anyone signed in."""
    return hash_password("not a password, only a timing decoy")


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise StaffError("That is not an email address.")
    return email


def check_time_zone(name: str) -> str:
    try:
        return as_time_zone(name)
    except ValueError:
        raise StaffError(
            f"Unknown time zone {name!r}; use an IANA name such as Europe/Berlin."
        ) from None


def time_zone_choices() -> list[str]:
    return sorted(time_zone_names())


def check_password_strength(password: str, email: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise StaffError(f"The password needs at least {MIN_PASSWORD_LENGTH} characters.")
    if email and email.split("@")[0] in password.lower():
        raise StaffError("The password must not contain the email's name.")


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    session: Session,
    email: str,
    password: str,
    *,
    role: Role,
    now: datetime,
    name: str = "",
    time_zone: str = "UTC",
) -> User:
    email = normalise_email(email)
    check_password_strength(password, email)
    if find_user_by_email(session, email) is not None:
        raise StaffError(f"A user with the email {email} exists already.")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=Role(role),
        time_zone=check_time_zone(time_zone),
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str, *, now: datetime) -> User | None:
    """The active user with these credentials, or None; takes as long either way."""
    try:
        user = find_user_by_email(session, normalise_email(email))
    except StaffError:
        user = None
    if user is None or not user.is_active:
        check_password_hash(_decoy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = now
    return user


def change_password(session: Session, user: User, password: str) -> None:
    """Set a new password and end every session of the user, the one asking included.

    The browser that changed it is signed in again with a new session (access.log_in), so
    a copy of its old cookie stops working too.
    """
    check_password_strength(password, user.email)
    user.password_hash = hash_password(password)
    end_sessions(session, user)
    session.flush()


def update_user(
    session: Session,
    user: User,
    *,
    acting: User,
    role: Role | None = None,
    is_active: bool | None = None,
    name: str | None = None,
    time_zone: str | None = None,
) -> None:
    """Change a user's profile; role and activation are admin matters."""
    if (role is not None and role != user.role) or (
        is_active is not None and is_active != user.is_active
    ):
        if not acting.is_admin:
            raise StaffError("Only an administrator can change roles or deactivate users.")
        becomes_non_admin = (role is not None and role != Role.ADMIN) or is_active is False
        if user.is_admin and becomes_non_admin and _active_admin_count(session) <= 1:
            raise StaffError("The last active administrator cannot be demoted or deactivated.")
    # Whoever loses a right is signed out everywhere, not only refused from now on.
    if (role is not None and user.is_admin and role != Role.ADMIN) or (
        is_active is False and user.is_active
    ):
        end_sessions(session, user)
    if role is not None:
        user.role = Role(role)
    if is_active is not None:
        user.is_active = is_active
    if name is not None:
        user.name = name.strip()
    if time_zone is not None:
        user.time_zone = check_time_zone(time_zone)
    session.flush()


def _active_admin_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(User).where(User.role == Role.ADMIN, User.is_active)
        )
        or 0
    )


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start_session(session: Session, user: User, *, now: datetime, lifetime: timedelta) -> str:
    """A new signed-in session for ``user``: its secret goes in the browser's cookie only.

    The user's expired sessions are deleted on the way, so the table stays small.
    """
    session.execute(
        delete(StaffSession).where(StaffSession.user_id == user.id, StaffSession.expires_at <= now)
    )
    raw = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            user_id=user.id, token_hash=_token_hash(raw), created_at=now, expires_at=now + lifetime
        )
    )
    session.flush()
    return raw


def session_user(session: Session, raw: str, *, now: datetime) -> User | None:
    """The active user a browser's session secret signs in, if it has not ended or expired."""
    if len(raw) > 100:
        return None
    return session.scalar(
        select(User)
        .join(StaffSession, StaffSession.user_id == User.id)
        .where(
            StaffSession.token_hash == _token_hash(raw),
            StaffSession.expires_at > now,
            User.is_active,
        )
    )


def end_session(session: Session, raw: str) -> None:
    """End one browser's session (signing out): every copy of its cookie stops working."""
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(raw)))


def purge_expired_sessions(session: Session, *, now: datetime) -> int:
    """Delete every session past its end (signed-out browsers that never came back)."""
    result = session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
    return changed_rows(result)


def end_sessions(session: Session, user: User) -> None:
    """End every session of ``user``, in every browser."""
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))


def create_api_token(
    session: Session, user: User, name: str, *, now: datetime
) -> tuple[ApiToken, str]:
    """A new token and its secret, which is shown once and never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise StaffError("Give the token a name of 1 to 100 characters.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id, name=name, token_hash=_token_hash(raw), prefix=raw[:10], created_at=now
    )
    session.add(token)
    session.flush()
    return token, raw


def revoke_api_token(session: Session, token: ApiToken, *, now: datetime) -> None:
    if token.revoked_at is None:
        token.revoked_at = now
        session.flush()


def authenticate_api_token(session: Session, raw: str, *, now: datetime) -> User | None:
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(raw)))
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    token.last_used_at = now
    return token.user


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        )
    )
