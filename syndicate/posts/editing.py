"""Changing a post once it exists: edit, reschedule, cancel, approve, dismiss; and the
dashboard's lists of posts."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from syndicate.db import Page, paginate
from syndicate.posts.composing import PostInput, check_commentary
from syndicate.posts.context import NotAllowed, NotEditable, PostError, record
from syndicate.posts.models import (
    EDITABLE_STATES,
    TROUBLE_STATES,
    Post,
    PostState,
)
from syndicate.posts.scheduling import next_free_slot
from syndicate.staff.models import User


def _editable(post: Post) -> None:
    if post.state not in EDITABLE_STATES:
        raise NotEditable(
            f"This post is {post.state.value.replace('_', ' ')}; it can no longer be changed."
        )


def update_post(
    session: Session, post: Post, data: PostInput, *, user: User, now: datetime
) -> None:
    """Edit text and time of a post not yet claimed for sending.

    On a target that needs approval, an edit by someone who needs it sends an approved post
    back to the administrators: what they approved is no longer what would go out.
    """
    _editable(post)
    commentary = check_commentary(data.commentary)
    card_title = data.card_title.strip()[:400] or post.card_title
    card_description = data.card_description.strip()[:2000]
    moved = data.when is not None and data.when != post.scheduled_at
    if moved and data.when is not None and data.when <= now - timedelta(minutes=1):
        raise PostError("That time is in the past.", "scheduled_at")
    changed = moved or (commentary, card_title, card_description) != (
        post.commentary,
        post.card_title,
        post.card_description,
    )
    post.commentary = commentary
    post.card_title = card_title
    post.card_description = card_description
    if moved:
        post.scheduled_at = post.due_at = data.when
    needs_ok = post.target.needs_approval and not user.is_admin
    when = f"for {post.scheduled_at.isoformat()}" if post.scheduled_at else ""
    if post.state is PostState.DRAFT and moved:
        record(
            session,
            post,
            PostState.AWAITING_APPROVAL if needs_ok else PostState.SCHEDULED,
            now=now,
            actor=user.email,
            detail=when,
        )
    elif post.state is PostState.SCHEDULED and changed and needs_ok:
        post.approved_by_id = None
        record(
            session,
            post,
            PostState.AWAITING_APPROVAL,
            now=now,
            actor=user.email,
            detail=f"edited{' and rescheduled ' + when if moved else ''}; "
            "an administrator must approve it again",
        )
    elif moved:
        record(session, post, post.state, now=now, actor=user.email, detail=f"rescheduled {when}")
    post.updated_at = now
    session.flush()


def cancel_post(session: Session, post: Post, *, user: User, now: datetime) -> None:
    _editable(post)
    record(session, post, PostState.CANCELLED, now=now, actor=user.email, detail="cancelled")
    post.due_at = None
    session.flush()


def approve_post(session: Session, post: Post, *, user: User, now: datetime) -> None:
    if not user.is_admin:
        raise NotAllowed("Only an administrator can approve posts.")
    if post.state is not PostState.AWAITING_APPROVAL:
        raise NotEditable("This post is not waiting for approval.")
    if post.due_at is None or post.due_at <= now:
        post.due_at = post.scheduled_at = next_free_slot(session, post.target, after=now)
    post.approved_by_id = user.id
    record(session, post, PostState.SCHEDULED, now=now, actor=user.email, detail="approved")
    session.flush()


def dismiss_post(session: Session, post: Post, *, now: datetime) -> None:
    """Stop showing a failed, unknown or missed post as a problem."""
    if post.state in TROUBLE_STATES:
        post.dismissed_at = now
        session.flush()


def posts_needing_attention(session: Session) -> list[Post]:
    return list(
        session.scalars(
            select(Post)
            .options(selectinload(Post.article))
            .where(Post.state.in_(TROUBLE_STATES), Post.dismissed_at.is_(None))
            .order_by(Post.updated_at.desc())
            .limit(50)
        )
    )


def posts_page(session: Session, *, state: PostState | None, number: int, size: int) -> Page[Post]:
    query = select(Post).options(selectinload(Post.article))
    if state is not None:
        query = query.where(Post.state == state)
    return paginate(
        session, query.order_by(Post.updated_at.desc(), Post.id.desc()), number=number, size=size
    )


def posts_for_article(session: Session, article_id: int) -> list[Post]:
    """The article's posts that still count (not cancelled), newest first."""
    return list(
        session.scalars(
            select(Post)
            .options(selectinload(Post.article))
            .where(Post.article_id == article_id, Post.state != PostState.CANCELLED)
            .order_by(Post.created_at.desc(), Post.id.desc())
            .limit(100)
        )
    )
