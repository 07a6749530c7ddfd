"""The demo's share requests, for `make run`."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate import events
from syndicate.articles.models import Article, ArticleStatus
from syndicate.sharing.asking import RequestInput, mark_confirmed, submit_request
from syndicate.sharing.context import Sharing
from syndicate.sharing.deciding import apply_rules, event_payload
from syndicate.sharing.models import RequestState, ShareRequest


def seed_demo_requests(
    session: Session, *, now: datetime, app: Flask | None = None
) -> list[ShareRequest]:
    """Two example requests for `make run`: one waiting (full republication), one granted link.

    They go through the real path (verified, rules applied, emails queued), so the inbox,
    the permission record and the tracked link all show real data.
    """
    ctx = Sharing.for_app(app)
    articles = session.scalars(
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.published_at.desc())
        .limit(2)
    ).all()
    if not articles:
        return []
    created = []
    examples = [
        (
            articles[-1],
            RequestInput(
                name="Mara Lindqvist",
                email="mara@coastal-weekly.example",
                where="newsletter",
                where_url="https://coastal-weekly.example/newsletter",
                audience_size=4200,
                kind="full",
                message="We run a weekly digest for harbour towns and would love to republish "
                "this piece in full, with your byline and a link back.",
            ),
            timedelta(days=2),
        ),
        (
            articles[0],
            RequestInput(
                name="Jonas Berg",
                email="jonas.berg@example.org",
                where="linkedin_profile",
                where_url="https://www.linkedin.com/in/jonas-berg-example",
                audience_size=1800,
                kind="link",
                message="My subscribers on LinkedIn would enjoy your article. "
                "May I link it to them?",
            ),
            timedelta(hours=5),
        ),
    ]
    for article, data, ago in examples:
        asked = now - ago
        request = submit_request(session, article, data, now=asked, ctx=ctx)
        request.verified_at = asked
        request.verify_nonce_hash = None
        request.state = RequestState.PENDING
        session.flush()
        mark_confirmed(session, request, now=asked, ctx=ctx)
        events.emit(
            session, "share_request.created", request.public_id, event_payload(request), now=asked
        )
        apply_rules(session, request, now=asked, ctx=ctx)
        created.append(request)
    session.flush()
    return created
