"""Standing permissions: an email address or a domain whose requests are granted at once,
for some kinds of sharing, up to a quota and an end date (``deciding.apply_rules`` uses
them)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.mail.services import MailError, check_address
from syndicate.sharing.context import Actor, SharingError, clean_text
from syndicate.sharing.models import ShareKind, StandingPermission

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


def create_standing_permission(
    session: Session,
    *,
    who: str,
    kinds: Sequence[str],
    quota: int | None,
    ends_at: datetime | None,
    note: str,
    actor: Actor,
    now: datetime,
) -> StandingPermission:
    who = (who or "").strip().lower()
    email = domain = None
    if "@" in who:
        try:
            email = check_address(who).lower()
        except MailError:
            raise SharingError(
                "Give an email address or a domain such as example.org.", "who"
            ) from None
    else:
        domain = who.removeprefix("@")
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
        if not _DOMAIN.match(domain):
            raise SharingError("Give an email address or a domain such as example.org.", "who")
    chosen = [k for k in ShareKind if k.value in set(kinds)]
    if not chosen:
        raise SharingError("Choose at least one kind of sharing it covers.", "kinds")
    if quota is not None and not 1 <= quota <= 1_000_000:
        raise SharingError(
            "A quota is a number of requests from 1, or empty for no limit.", "quota"
        )
    if ends_at is not None and ends_at <= now:
        raise SharingError("The end date must be in the future.", "ends_on")
    standing = StandingPermission(
        email=email,
        domain=domain,
        kinds=[k.value for k in chosen],
        quota=quota,
        used=0,
        ends_at=ends_at,
        note=clean_text(note, 500, "note", "the note", required=False),
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(standing)
    session.flush()
    return standing


def end_standing_permission(
    session: Session, standing: StandingPermission, *, now: datetime
) -> None:
    if standing.ends_at is None or standing.ends_at > now:
        standing.ends_at = now
        session.flush()


def standing_permissions(session: Session) -> list[StandingPermission]:
    return list(
        session.scalars(
            select(StandingPermission).order_by(
                StandingPermission.ends_at.is_(None).desc(),
                StandingPermission.ends_at.desc(),
                StandingPermission.id.desc(),
            )
        )
    )
