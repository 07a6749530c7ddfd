"""Sweeps: what the scheduler's jobs run (``jobs.py`` owns their transactions), and the
expiry a page settles before it shows a grant.

Unverified requests are deleted, staff reminded of waiting ones, undecided ones closed,
grantees warned before their permission ends and told when it ends, or when the article
they may share is corrected or withdrawn.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from syndicate import events, wording
from syndicate.articles.models import Article
from syndicate.db import changed_rows
from syndicate.sharing import emails
from syndicate.sharing.context import SYSTEM, InvalidTransition, Sharing, canonical_url
from syndicate.sharing.deciding import emit_decided, log_change, mail_reader, move_request
from syndicate.sharing.models import (
    OPEN_STATES,
    Permission,
    PermissionState,
    RequestState,
    ShareRequest,
)
from syndicate.sharing.records import resign_record, tracked_target
from syndicate.web.services import raise_alert, resolve_alert


def delete_unverified(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """Unverified requests older than SHARING_UNVERIFIED_TTL disappear with their audit rows."""
    cutoff = now - ctx.settings.unverified_ttl
    result = session.execute(
        delete(ShareRequest)
        .where(ShareRequest.state == RequestState.UNVERIFIED, ShareRequest.created_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(result)


def remind_waiting(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """One staff alert while any request has waited longer than SHARING_REMIND_AFTER."""
    waiting = (
        session.scalar(
            select(func.count())
            .select_from(ShareRequest)
            .where(
                ShareRequest.state == RequestState.PENDING,
                ShareRequest.updated_at < now - ctx.settings.remind_after,
            )
        )
        or 0
    )
    if waiting:
        raise_alert(
            session,
            "sharing.waiting",
            f"{wording.count(waiting, 'share request')} {wording.plural(waiting, 'has')} "
            f"waited more than {wording.whole_days(ctx.settings.remind_after)} for a decision.",
            now=now,
            link="/dashboard/sharing/?state=pending",
        )
    else:
        resolve_alert(session, "sharing.waiting", now=now)
    return waiting


def _due(session: Session, query: Select[Any], model: type) -> list[Any]:
    # Other scheduler processes skip rows this one holds (PostgreSQL; only the model's own
    # rows are locked, not the joined article); SQLite's BEGIN IMMEDIATE already serialises
    # the jobs. The conditional UPDATE in move_request is the backstop.
    return list(session.scalars(query.limit(200).with_for_update(skip_locked=True, of=model)))


def close_stale(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """Requests with no decision for SHARING_CLOSE_AFTER are closed (expired), reader told."""
    stale = _due(
        session,
        select(ShareRequest).where(
            ShareRequest.state.in_(OPEN_STATES),
            ShareRequest.updated_at < now - ctx.settings.close_after,
        ),
        ShareRequest,
    )
    closed = 0
    for request in stale:
        try:
            move_request(
                session,
                request,
                OPEN_STATES,
                RequestState.EXPIRED,
                actor=SYSTEM,
                now=now,
                note=f"No decision within {wording.whole_days(ctx.settings.close_after)}.",
            )
        except InvalidTransition:
            continue
        resolve_alert(session, f"sharing.answer.{request.id}", now=now)
        emit_decided(session, request, now=now, actor=SYSTEM)
        mail_reader(
            session,
            ctx,
            request,
            emails.closed(request.article.title, ctx.settings.close_after),
            now=now,
        )
        closed += 1
    return closed


def warn_expiring(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """Tell grantees SHARING_WARN_BEFORE ahead that their permission ends; once each."""
    due = _due(
        session,
        select(Permission).where(
            Permission.state == PermissionState.ACTIVE,
            Permission.expires_at.is_not(None),
            Permission.expires_at > now,
            Permission.expires_at <= now + ctx.settings.warn_before,
            Permission.expiry_warned_at.is_(None),
        ),
        Permission,
    )
    for permission in due:
        permission.expiry_warned_at = now
        request = permission.request
        mail_reader(
            session,
            ctx,
            request,
            emails.expiring(
                request.article.title,
                ctx.valid_until(permission.expires_at),
                ctx.record_url(permission),
            ),
            now=now,
        )
    session.flush()
    return len(due)


def expire_grants(session: Session, *, now: datetime, ctx: Sharing) -> int:
    due = _due(
        session,
        select(Permission).where(
            Permission.state == PermissionState.ACTIVE,
            Permission.expires_at.is_not(None),
            Permission.expires_at <= now,
        ),
        Permission,
    )
    return sum(1 for permission in due if _expire_grant(session, permission, now=now, ctx=ctx))


# --- expiry ---------------------------------------------------------------------------------


def _expire_grant(session: Session, permission: Permission, *, now: datetime, ctx: Sharing) -> bool:
    """End a grant whose end date passed; False when another process did it first."""
    request = permission.request
    try:
        move_request(
            session,
            request,
            {RequestState.APPROVED},
            RequestState.EXPIRED,
            actor=SYSTEM,
            now=now,
            note="The permission reached its end date.",
        )
    except InvalidTransition:
        return False
    permission.state = PermissionState.EXPIRED
    permission.expired_at = now
    resign_record(permission, ctx, now=now)
    emit_decided(session, request, now=now, actor=SYSTEM)
    mail_reader(
        session,
        ctx,
        request,
        emails.ended(request.article.title, ctx.record_url(permission)),
        now=now,
    )
    return True


def has_ended(permission: Permission, *, now: datetime) -> bool:
    """An active grant whose end date has passed: nobody has expired it yet."""
    return (
        permission.state is PermissionState.ACTIVE
        and permission.expires_at is not None
        and permission.expires_at <= now
    )


def settle_expiry(session: Session, permission: Permission, *, now: datetime, ctx: Sharing) -> bool:
    """Expire the grant now if its end date has passed (a record must never say otherwise)."""
    if has_ended(permission, now=now):
        return _expire_grant(session, permission, now=now, ctx=ctx)
    return False


# --- afterwards: corrections and retractions ------------------------------------------------


def handle_article_event(
    session: Session, event: events.Event, *, now: datetime, ctx: Sharing
) -> int:
    """Tell an article's active grantees it was corrected or retracted; refresh link targets."""
    article = session.scalar(select(Article).where(Article.public_id == event.subject))
    if article is None:
        return 0
    permissions = session.scalars(
        select(Permission).where(Permission.article_id == article.id)
    ).all()
    told = 0
    for permission in permissions:
        link = permission.link
        if link is not None:
            target = tracked_target(article, permission.request, permission, ctx.site_url)
            if link.target_url != target:
                link.target_url = target
        if (
            not ctx.settings.notify_corrections
            or permission.state is not PermissionState.ACTIVE
            # A grant made after the change already saw the corrected article.
            or permission.granted_at >= event.created_at
        ):
            continue
        request = permission.request
        if event.kind == "article.unpublished":
            letter = emails.retracted(article.title, ctx.record_url(permission))
        else:
            letter = emails.corrected(
                article.title, canonical_url(article, ctx.site_url), ctx.record_url(permission)
            )
        mail_reader(session, ctx, request, letter, now=now)
        log_change(
            session,
            request,
            SYSTEM,
            request.state,
            request.state,
            now=now,
            note=f"The grantee was told that the article was "
            f"{'withdrawn' if event.kind == 'article.unpublished' else 'corrected'}.",
        )
        told += 1
    session.flush()
    return told
