"""Small factories: valid objects by default, any field overridable."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.articles import services as articles
from syndicate.articles.models import Article, BodyFormat
from syndicate.crypto import TokenVault
from syndicate.linkedin import services as linkedin
from syndicate.linkedin.models import (
    ConnectionState,
    LinkedInConnection,
    LinkedInTarget,
    TargetKind,
)
from syndicate.posts import composing, context
from syndicate.posts.models import Post, PostState
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


def make_connection(session: Session, *, now: datetime, **overrides: object) -> LinkedInConnection:
    """An active connection with a member's posting scopes and no token (seal one to send)."""
    n = next(_counter)
    fields: dict[str, object] = {
        "member_urn": f"urn:li:person:member-{n}",
        "name": f"Member {n}",
        "expires_at": now + timedelta(days=60),
        "scopes": " ".join(linkedin.scopes_for(pages=False)),
        "state": ConnectionState.ACTIVE,
        "created_at": now,
        "updated_at": now,
        **overrides,
    }
    connection = LinkedInConnection(**fields)
    session.add(connection)
    session.flush()
    return connection


def make_target(
    session: Session,
    *,
    now: datetime,
    connection: LinkedInConnection | None = None,
    **overrides: object,
) -> LinkedInTarget:
    """The member of ``connection`` (a new one unless given) as a target, in UTC, no slots."""
    if connection is None:
        connection = make_connection(session, now=now)
    fields: dict[str, object] = {
        "urn": connection.member_urn,
        "kind": TargetKind.MEMBER,
        "display_name": connection.name,
        "time_zone": "UTC",
        "queue_slots": [],
        "created_at": now,
        "updated_at": now,
        **overrides,
    }
    target = LinkedInTarget(connection=connection, **fields)
    session.add(target)
    session.flush()
    return target


def make_sandbox_target(
    session: Session,
    *,
    sandbox: object,
    vault: TokenVault,
    now: datetime,
    pages: bool = True,
    connected_by: User | None = None,
    **overrides: object,
) -> LinkedInTarget:
    """A target of the sandbox's demo member, connected with a token the sandbox minted.

    The member has one connection: a second target (a page, say) joins the first's.
    """
    # Late: pytest must import sandbox_fixtures first, as the plugin it is.
    from tests.sandbox_fixtures import CLIENT_ID

    scopes = linkedin.scopes_for(pages=pages)
    token = sandbox.state.mint_token(scopes, client_id=CLIENT_ID)  # type: ignore[attr-defined]
    connection = session.scalar(
        select(LinkedInConnection).where(LinkedInConnection.member_urn == SANDBOX_MEMBER)
    ) or make_connection(
        session,
        now=now,
        member_urn=SANDBOX_MEMBER,
        name="Sam Sandbox",
        access_token_encrypted=vault.encrypt(token),
        scopes=" ".join(scopes),
        connected_by_id=connected_by.id if connected_by else None,
    )
    return make_target(session, now=now, connection=connection, **overrides)


def make_post(
    session: Session,
    *,
    article: Article,
    target: LinkedInTarget,
    now: datetime,
    site_url: str,
    when: datetime | None = None,
    user: User | None = None,
    campaign: str = "test",
    reshare: bool = False,
    **overrides: object,
) -> Post:
    """A post as the compose form makes it, due a day after ``now`` unless ``when`` says.

    Overrides of the form's fields (commentary, card_title, as_draft...) go into the form;
    the others are set on the post afterwards (state, due_at, last_error...).
    """
    data = composing.compose_defaults(article, target, site_url=site_url, campaign=campaign)
    data.when = when or now + timedelta(days=1)
    for name in [f.name for f in dataclasses.fields(data) if f.name in overrides]:
        setattr(data, name, overrides.pop(name))
    post = composing.create_post(
        session,
        article,
        target,
        data,
        user=user,
        now=now,
        site_url=site_url,
        campaign=campaign,
        reshare=reshare,
    )
    for key, value in overrides.items():
        setattr(post, key, value)
    session.flush()
    return post


def record_published(
    session: Session,
    post: Post,
    *,
    now: datetime,
    urn: str = "urn:li:share:7001",
    published_at: datetime | None = None,
) -> Post:
    """What the dispatcher records when LinkedIn answers 201 (its own tests cover how)."""
    post.attempt = 1
    context.record(session, post, PostState.SENDING, now=now, actor="w1", detail="claimed")
    post.linkedin_urn, post.published_at = urn, published_at or now
    context.record(
        session, post, PostState.PUBLISHED, now=now, actor="w1", http_status=201, detail=urn
    )
    session.flush()
    return post
