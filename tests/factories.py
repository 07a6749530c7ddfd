"""Small factories: valid objects by default, any field overridable."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from syndicate.articles import services as articles
from syndicate.articles.models import Article, BodyFormat
from syndicate.crypto import TokenVault
from syndicate.linkedin.models import (
    ConnectionState,
    LinkedInConnection,
    LinkedInTarget,
    TargetKind,
)
from syndicate.staff import services as staff
from syndicate.staff.models import Role, User

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


def make_user(
    session: Session, *, now: datetime, role: Role = Role.EDITOR, **overrides: object
) -> User:
    n = next(_counter)
    user = staff.create_user(
        session,
        str(overrides.pop("email", f"staff{n}@example.test")),
        str(overrides.pop("password", PASSWORD)),
        role=role,
        now=now,
        name=str(overrides.pop("name", f"Staff {n}")),
        time_zone=str(overrides.pop("time_zone", "UTC")),
    )
    for key, value in overrides.items():
        setattr(user, key, value)
    session.flush()
    return user


def sign_in(
    client: object,
    session: Session,
    user: User,
    *,
    now: datetime,
    lifetime: timedelta = timedelta(days=3650),
) -> None:
    """What the sign-in form does, without the form: a server-side session and its cookie.

    Long-lived by default: tests move the clock by weeks and should stay signed in.
    """
    from syndicate.staff.access import SESSION_KEY

    raw = staff.start_session(session, user, now=now, lifetime=lifetime)
    with client.session_transaction() as browser:  # type: ignore[attr-defined]
        browser[SESSION_KEY] = raw


def make_article(
    session: Session,
    *,
    now: datetime,
    publish: bool = True,
    published_at: datetime | None = None,
    **overrides: object,
) -> Article:
    n = next(_counter)
    data = articles.ArticleInput(
        title=str(overrides.pop("title", f"Article number {n}")),
        body=str(overrides.pop("body", f"<p>Body of article {n}.</p>")),
        body_format=overrides.pop("body_format", BodyFormat.HTML),  # type: ignore[arg-type]
        summary=str(overrides.pop("summary", f"Summary {n}")),
        slug=overrides.pop("slug", None),  # type: ignore[arg-type]
        canonical_url=overrides.pop("canonical_url", None),  # type: ignore[arg-type]
        hero_image_url=overrides.pop("hero_image_url", None),  # type: ignore[arg-type]
        hero_image_alt=str(overrides.pop("hero_image_alt", "")),
        authors=list(overrides.pop("authors", ["Ada Writer"])),  # type: ignore[call-overload]
        categories=list(overrides.pop("categories", ["World"])),  # type: ignore[call-overload]
        tags=list(overrides.pop("tags", [])),  # type: ignore[call-overload]
    )
    article = articles.create_article(session, data, now=now)
    if publish:
        articles.publish_article(session, article, now=now, published_at=published_at)
    for key, value in overrides.items():
        setattr(article, key, value)
    session.flush()
    return article


SANDBOX_MEMBER = "urn:li:person:sandbox-member-1"


def make_sandbox_target(
    session: Session, *, vault: TokenVault, token: str, now: datetime
) -> LinkedInTarget:
    """The sandbox's demo member connected with ``token``, posting as themself (UTC)."""
    connection = LinkedInConnection(
        member_urn=SANDBOX_MEMBER,
        name="Sam Sandbox",
        access_token_encrypted=vault.encrypt(token),
        expires_at=now + timedelta(days=60),
        scopes="openid profile email w_member_social",
        state=ConnectionState.ACTIVE,
        created_at=now,
        updated_at=now,
    )
    target = LinkedInTarget(
        connection=connection,
        urn=SANDBOX_MEMBER,
        kind=TargetKind.MEMBER,
        display_name="Sam Sandbox",
        time_zone="UTC",
        queue_slots=[],
        created_at=now,
        updated_at=now,
    )
    session.add_all([connection, target])
    session.flush()
    return target
