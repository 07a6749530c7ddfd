"""Auto-post rules: the posts a newly published article gets from the rules that match it,
and managing the rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.articles.models import Article
from syndicate.db import Page, paginate
from syndicate.linkedin.models import LinkedInTarget
from syndicate.posts.composing import compose_defaults, create_post
from syndicate.posts.context import NotAllowed, PostError, PostExists, record
from syndicate.posts.models import (
    AutoPostRule,
    Post,
    PostState,
)
from syndicate.posts.scheduling import next_free_slot
from syndicate.staff.models import User


def rules_matching(session: Session, category_slugs: list[str]) -> list[AutoPostRule]:
    rules = session.scalars(select(AutoPostRule).where(AutoPostRule.is_active)).all()
    return [r for r in rules if not r.category_slugs or set(r.category_slugs) & set(category_slugs)]


def auto_post(
    session: Session, article: Article, *, now: datetime, site_url: str, campaign: str
) -> list[Post]:
    """Apply the auto-post rules to a newly published article (never to an edit)."""
    created = []
    for rule in rules_matching(session, [c.slug for c in article.categories]):
        for target_id in rule.target_ids:
            target = session.get(LinkedInTarget, int(target_id))
            if target is None or not target.is_active:
                continue
            data = compose_defaults(article, target, site_url=site_url, campaign=campaign)
            try:
                data.when = next_free_slot(session, target, after=now)
            except PostError:
                data.when = now + timedelta(minutes=5)
            try:
                post = create_post(
                    session,
                    article,
                    target,
                    data,
                    user=None,
                    now=now,
                    site_url=site_url,
                    campaign=campaign,
                    source="auto",
                )
            except PostExists:
                continue
            if not rule.publish_directly and post.state is PostState.SCHEDULED:
                record(
                    session,
                    post,
                    PostState.AWAITING_APPROVAL,
                    now=now,
                    actor=f"rule {rule.name}",
                    detail="held for approval by the rule",
                )
            created.append(post)
    session.flush()
    return created


def rules_page(session: Session, *, number: int, size: int) -> Page[AutoPostRule]:
    return paginate(
        session,
        select(AutoPostRule).order_by(AutoPostRule.name, AutoPostRule.id),
        number=number,
        size=size,
    )


def create_rule(
    session: Session,
    *,
    name: str,
    category_slugs: list[str],
    target_ids: list[int],
    publish_directly: bool,
    is_active: bool,
    user: User,
    now: datetime,
) -> AutoPostRule:
    """Add an auto-post rule; only administrators may."""
    from syndicate.articles.models import Category

    if not user.is_admin:
        raise NotAllowed("Only an administrator can manage auto-post rules.")
    name = name.strip()
    if not name:
        raise PostError("Give the rule a name.", "name")
    known = set(session.scalars(select(Category.slug).where(Category.slug.in_(category_slugs))))
    unknown = sorted(set(category_slugs) - known)
    if unknown:
        raise PostError("Unknown categories: " + ", ".join(unknown) + ".", "categories")
    if not target_ids:
        raise PostError("Choose at least one target.", "targets")
    found = set(
        session.scalars(
            select(LinkedInTarget.id).where(
                LinkedInTarget.id.in_(target_ids), LinkedInTarget.is_active
            )
        )
    )
    if found != set(target_ids):
        raise PostError("Some of those targets cannot be posted to.", "targets")
    rule = AutoPostRule(
        name=name[:200],
        category_slugs=sorted(set(category_slugs)),
        target_ids=sorted(found),
        publish_directly=publish_directly,
        is_active=is_active,
        created_by_id=user.id,
        created_at=now,
    )
    session.add(rule)
    session.flush()
    return rule


def delete_rule(session: Session, rule: AutoPostRule, *, user: User) -> None:
    if not user.is_admin:
        raise NotAllowed("Only an administrator can manage auto-post rules.")
    session.delete(rule)
    session.flush()


def category_choices(session: Session) -> list[tuple[str, str]]:
    """(slug, name) of every category, for choosing in rules."""
    from syndicate.articles.models import Category

    return [(c.slug, c.name) for c in session.scalars(select(Category).order_by(Category.name))]
