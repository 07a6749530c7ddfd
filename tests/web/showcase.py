"""Representative content for every page: what the responsive test and the screenshots show.

The demo magazine (``syndicate.demo``: articles, a waiting and a granted share request with
its emails, permission record and tracked link), and through the factories and services the
rest: an admin in Europe/Berlin, a connection with a member and a page target, posts in
every state the calendar and lists colour differently, an auto-post rule, a standing
permission, a webhook, an API token and an import source. Long titles and names on purpose:
they are what overflowed narrow screens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from syndicate.articles.models import Article, Source, SourceKind
from syndicate.demo import load_demo
from syndicate.linkedin.models import TargetKind
from syndicate.mail.models import MAIL_KIND
from syndicate.models import OutboxMessage
from syndicate.posts import auto_rules
from syndicate.posts.models import PostState
from syndicate.sharing.asking import RequestInput, submit_request
from syndicate.sharing.context import Actor, Sharing
from syndicate.sharing.models import Permission, ShareRequest
from syndicate.sharing.standing import create_standing_permission
from syndicate.staff import services as staff
from syndicate.staff.models import Role
from syndicate.webhooks.services import EndpointInput, create_endpoint
from tests import factories

ADMIN_EMAIL = "editor-in-chief@example.test"
ZONE = "Europe/Berlin"
LONG_TITLE = (
    "Interdisciplinary collaboration among municipal transportation departments, "
    "harbour authorities and neighbourhood associations"
)


@dataclass(frozen=True)
class Showcase:
    """Ids and addresses of what was made, for building the pages' URLs."""

    article_slug: str
    article_id: int
    target_id: int
    post_id: int
    failed_post_id: int
    request_id: int
    permission_public_id: str
    share_code: str
    user_id: int
    mail_id: int
    webhook_id: int
    source_id: int
    private_path: str
    verify_path: str


def _public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]  # a public address, so no DNS is needed


def seed(app: Flask) -> Showcase:
    """Fill the app's (empty, migrated) database; commits."""
    load_demo(app)
    database = app.extensions["database"]
    now = app.extensions["clock"].now()
    site_url = app.config["SITE_URL"]
    with database.transaction() as session:
        admin = factories.make_user(
            session,
            now=now,
            role=Role.ADMIN,
            email=ADMIN_EMAIL,
            name="Erika Mustermann-Lindqvist",
            time_zone=ZONE,
        )
        factories.make_user(session, now=now, email="night.editor@example.test", time_zone=ZONE)
        long_article = factories.make_article(
            session,
            now=now - timedelta(hours=2),
            title=LONG_TITLE,
            summary="A very long title, to see how it wraps.",
            tags=["Transport", "Cities"],
        )
        articles = session.scalars(
            select(Article).where(Article.published_at.is_not(None)).order_by(Article.id)
        ).all()
        connection = factories.make_connection(
            session, now=now, name="Erika Mustermann-Lindqvist", connected_by_id=admin.id
        )
        member = factories.make_target(
            session,
            now=now,
            connection=connection,
            display_name="Erika Mustermann-Lindqvist",
            time_zone=ZONE,
            queue_slots=[{"weekday": 0, "time": "09:00"}, {"weekday": 3, "time": "16:30"}],
        )
        page = factories.make_target(
            session,
            now=now,
            connection=connection,
            urn="urn:li:organization:424242",
            kind=TargetKind.ORGANIZATION,
            display_name="Syndicate Demo Magazine (page)",
            time_zone="UTC",
            needs_approval=True,
        )
        make = dict(now=now, site_url=site_url, user=admin)
        scheduled = factories.make_post(
            session, article=long_article, target=member, when=now + timedelta(hours=3), **make
        )
        factories.make_post(
            session,
            article=articles[0],
            target=page,
            when=now + timedelta(hours=26),
            state=PostState.AWAITING_APPROVAL,
            **make,
        )
        factories.make_post(session, article=articles[1], target=member, as_draft=True, **make)
        published = factories.make_post(
            session, article=articles[2], target=member, when=now + timedelta(minutes=1), **make
        )
        factories.record_published(session, published, now=now)
        failed = factories.make_post(
            session,
            article=articles[3],
            target=page,
            when=now + timedelta(hours=1),
            state=PostState.FAILED,
            last_error="LinkedIn answered 422: the organization page is not administered by "
            "this member (ORGANIZATION_ACCESS_DENIED).",
            **make,
        )
        factories.make_post(
            session,
            article=articles[4],
            target=member,
            when=now + timedelta(days=2),
            state=PostState.CANCELLED,
            **make,
        )
        auto_rules.create_rule(
            session,
            name="Every Cities article to Erika's profile",
            category_slugs=[],
            target_ids=[member.id],
            publish_directly=False,
            is_active=True,
            user=admin,
            now=now,
        )
        create_standing_permission(
            session,
            who="coastal-weekly.example",
            kinds=["link", "excerpt"],
            quota=10,
            ends_at=now + timedelta(days=90),
            note="Partner newsletter",
            actor=Actor.staff(admin),
            now=now,
        )
        webhook, _secret = create_endpoint(
            session,
            EndpointInput(
                url="https://hooks.partner-newsroom.example/syndicate/incoming-events",
                event_kinds=["post.published", "share_request.created"],
                description="The newsroom's Slack relay",
            ),
            vault=app.extensions["token_vault"],
            user=admin,
            now=now,
            allow_private=False,
            resolver=_public_resolver,
        )
        staff.create_api_token(session, admin, "Newsroom CMS integration", now=now)
        # A reader's request still waiting for its email to be confirmed: its link is fresh.
        submit_request(
            session,
            articles[1],
            RequestInput(
                name="Aurelio Fernández-Castellanos",
                email="aurelio@translations.example",
                where="website",
                where_url="https://translations.example/es/",
                audience_size=12000,
                kind="translation",
                language="Spanish",
                message="We would translate it into Spanish for our readers in Latin America.",
            ),
            now=now,
            ctx=Sharing.for_app(app),
        )
        source = Source(
            url="https://www.example-magazine.test/feeds/all-articles-including-archives.xml",
            kind=SourceKind.FEED,
            interval_minutes=60,
            next_sync_at=now + timedelta(minutes=40),
            last_synced_at=now - timedelta(minutes=20),
            last_result={"created": 3, "updated": 1, "unchanged": 40, "failures": []},
            created_at=now,
        )
        session.add(source)
        session.flush()
        request = session.scalars(select(ShareRequest).order_by(ShareRequest.id)).first()
        permission = session.scalars(select(Permission)).first()
        assert request is not None and permission is not None
        code = permission.link.code if permission.link else ""
        mails = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == MAIL_KIND).order_by(OutboxMessage.id)
        ).all()
        bodies = "\n".join(str((m.payload or {}).get("text", "")) for m in mails)
        private = re.search(r"/sharing/r/[\w.-]+", bodies)
        verify = re.findall(r"/sharing/verify/[\w.-]+", bodies)
        return Showcase(
            article_slug=articles[0].slug,
            article_id=articles[0].id,
            target_id=member.id,
            post_id=scheduled.id,
            failed_post_id=failed.id,
            request_id=request.id,
            permission_public_id=permission.public_id,
            share_code=code,
            user_id=admin.id,
            mail_id=mails[0].id,
            webhook_id=webhook.id,
            source_id=source.id,
            private_path=private.group(0) if private else "",
            verify_path=verify[-1] if verify else "",
        )
