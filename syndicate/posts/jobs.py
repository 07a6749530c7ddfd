"""Periodic posting work: the dispatcher and the auto-post rules."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy.orm import Session

from syndicate import events
from syndicate.db import get_database
from syndicate.posts import dispatcher
from syndicate.posts.dispatcher import Dispatcher, DispatchSettings


def make_dispatcher(app: Flask, *, sender: str | None = None, **overrides: object) -> Dispatcher:
    """A dispatcher with the app's settings; ``sender`` names it in the posts' history."""
    config = app.config
    settings = DispatchSettings(
        site_url=config["SITE_URL"],
        missed_after=config["MISSED_AFTER"],
        lease=config["DISPATCH_LEASE"],
        reconcile_after=config["DISPATCH_RECONCILE_AFTER"],
        static_folder=Path(app.static_folder) if app.static_folder else None,
    )
    for key, value in overrides.items():
        setattr(settings, key, value)
    return Dispatcher(
        get_database(app),
        client=app.extensions["linkedin_client"],
        vault=app.extensions["token_vault"],
        clock=app.extensions["clock"],
        settings=settings,
        fetcher=app.extensions["fetcher"],
        actor=sender,
    )


def dispatch_posts(app: Flask) -> str:
    """Publish every due post (and settle unknown ones) until none is left."""
    return str(make_dispatcher(app, sender=dispatcher.sender("scheduler")).run_until_idle())


def apply_auto_post_rules(app: Flask) -> str:
    """Turn newly published articles into posts by the auto-post rules (never edits)."""
    from syndicate.articles.models import Article
    from syndicate.posts.auto_rules import auto_post

    created = 0
    now = app.extensions["clock"].now()

    def handle(session: Session, event: events.Event) -> None:
        nonlocal created
        article = session.get(Article, event.payload.get("article_id"))
        if article is not None and article.is_published:
            created += len(
                auto_post(
                    session,
                    article,
                    now=now,
                    site_url=app.config["SITE_URL"],
                    campaign=app.config["UTM_CAMPAIGN"],
                )
            )

    while events.consume(
        get_database(app), "posts.auto_post", handle, now=now, kinds={"article.published"}
    ):
        pass
    return f"{created} auto-posts" if created else ""
