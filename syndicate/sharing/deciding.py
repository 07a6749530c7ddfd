"""Deciding: the publisher's rules, and each change of a request's state after asking.

Staff approve with conditions, deny, ask for more or revoke; the reader answers or
withdraws. Every change is one conditional UPDATE (so two people or processes cannot both
make it), one audit row and one email to the reader with their private link.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from syndicate import events, wording
from syndicate.articles.models import Article
from syndicate.db import changed_rows
from syndicate.mail.models import Mail
from syndicate.mail.services import queue_mail
from syndicate.sharing import emails
from syndicate.sharing.context import (
    MAX_CREDIT,
    MAX_NOTE,
    MAX_WORDS,
    READER,
    SYSTEM,
    Actor,
    InvalidTransition,
    Sharing,
    SharingError,
    canonical_url,
    clean_text,
)
from syndicate.sharing.models import (
    OPEN_STATES,
    ActorKind,
    Permission,
    PermissionState,
    RequestState,
    ShareKind,
    ShareLink,
    ShareRequest,
    ShareRequestEvent,
    StandingPermission,
)
from syndicate.sharing.records import (
    record_document,
    record_scope,
    resign_record,
    sign_record,
    tracked_target,
)
from syndicate.web.services import raise_alert, resolve_alert

if TYPE_CHECKING:
    from syndicate.sharing.asking import CleanInput


# --- what every change does: an audit row, an email to the reader ---------------------------


def log_change(
    session: Session,
    request: ShareRequest,
    actor: Actor,
    from_state: RequestState | None,
    to_state: RequestState,
    *,
    now: datetime,
    note: str = "",
) -> None:
    """One row of the request's audit log: who moved it from which state to which."""
    session.add(
        ShareRequestEvent(
            request_id=request.id,
            at=now,
            actor_kind=actor.kind,
            actor_user_id=actor.user_id,
            actor_label=actor.label,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            note=note,
        )
    )


def mail_reader(
    session: Session, ctx: Sharing, request: ShareRequest, letter: emails.Letter, *, now: datetime
) -> None:
    """Queue the letter to the request's reader, with their private link once confirmed."""
    private_url = ctx.private_url(request) if request.verified_at else None
    queue_mail(
        session,
        compose_mail(
            ctx, letter, request.requester_email, request.requester_name, private_url, now=now
        ),
    )


def compose_mail(
    ctx: Sharing,
    letter: emails.Letter,
    to: str,
    name: str,
    private_url: str | None,
    *,
    now: datetime,
) -> Mail:
    """The letter to one sharer, from this publisher, replies going to its contact address."""
    return emails.compose(
        letter,
        to=to,
        name=name,
        publisher=ctx.settings.publisher_name,
        private_url=private_url,
        now=now,
        reply_to=ctx.settings.contact_email,
    )


# --- rules ----------------------------------------------------------------------------------


def describe_scope(request: ShareRequest | CleanInput) -> str:
    kind = request.kind
    if kind is ShareKind.LINK:
        return "a link to it"
    if kind is ShareKind.EXCERPT:
        return f"an excerpt of up to {wording.count(request.excerpt_words or 0, 'word')}"
    if kind is ShareKind.TRANSLATION:
        return f"a translation into {request.language}"
    return "full republication"


def apply_rules(session: Session, request: ShareRequest, *, now: datetime, ctx: Sharing) -> bool:
    """Grant at once what the publisher's rules allow; True when the request was granted."""
    rules = ctx.settings
    if request.kind is ShareKind.LINK and rules.auto_grant_links:
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=SYSTEM,
            now=now,
            ctx=ctx,
            note="Linking needs no permission; granted automatically with a record and a "
            "tracked link.",
        )
        return True
    if (
        request.kind is ShareKind.EXCERPT
        and rules.auto_grant_excerpt_words
        and (request.excerpt_words or 0) <= rules.auto_grant_excerpt_words
    ):
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=SYSTEM,
            now=now,
            ctx=ctx,
            note=f"Excerpts up to {wording.count(rules.auto_grant_excerpt_words, 'word')} are "
            "granted automatically.",
        )
        return True
    standing = _use_standing_permission(session, request, now=now)
    if standing is not None:
        request.standing_permission_id = standing.id
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=SYSTEM,
            now=now,
            ctx=ctx,
            note=f"Granted under the standing permission for {standing.who}.",
        )
        return True
    return False


def _use_standing_permission(
    session: Session, request: ShareRequest, *, now: datetime
) -> StandingPermission | None:
    """Take one use of a standing permission covering this request, if one has any left."""
    domain = request.requester_email.rpartition("@")[2]
    candidates = session.scalars(
        select(StandingPermission)
        .where(
            or_(
                StandingPermission.email == request.requester_email,
                StandingPermission.domain == domain,
            ),
            or_(StandingPermission.ends_at.is_(None), StandingPermission.ends_at > now),
        )
        .order_by(StandingPermission.email.is_(None), StandingPermission.id)
    ).all()
    for standing in candidates:
        if request.kind.value not in (standing.kinds or []):
            continue
        # Conditional, so two requests racing for the last use cannot both get it.
        taken = session.execute(
            update(StandingPermission)
            .where(
                StandingPermission.id == standing.id,
                or_(
                    StandingPermission.quota.is_(None),
                    StandingPermission.used < StandingPermission.quota,
                ),
            )
            .values(used=StandingPermission.used + 1)
            .execution_options(synchronize_session=False)
        )
        if changed_rows(taken) == 1:
            session.refresh(standing)
            return standing
    return None


# --- changes of state -----------------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    credit_line: str
    link_required: bool = True
    excerpt_limit: int | None = None
    expires_at: datetime | None = None


def credit_line(article: Article, ctx: Sharing) -> str:
    return (
        f"First published by {ctx.settings.publisher_name} at "
        f"{canonical_url(article, ctx.site_url)}"
    )


def default_conditions(request: ShareRequest, ctx: Sharing) -> Conditions:
    return Conditions(
        credit_line=credit_line(request.article, ctx),
        link_required=True,
        excerpt_limit=request.excerpt_words if request.kind is ShareKind.EXCERPT else None,
    )


def check_conditions(conditions: Conditions, *, now: datetime) -> Conditions:
    credit = clean_text(
        conditions.credit_line, MAX_CREDIT, "credit_line", "the credit line", required=True
    )
    if conditions.excerpt_limit is not None and not 1 <= conditions.excerpt_limit <= MAX_WORDS:
        raise SharingError("An excerpt limit is a number of words from 1.", "excerpt_limit")
    if conditions.expires_at is not None and conditions.expires_at <= now:
        raise SharingError("The end date must be in the future.", "expires_on")
    return Conditions(
        credit, conditions.link_required, conditions.excerpt_limit, conditions.expires_at
    )


def move_request(
    session: Session,
    request: ShareRequest,
    allowed: Iterable[RequestState],
    to_state: RequestState,
    *,
    actor: Actor,
    now: datetime,
    note: str = "",
    **values: Any,
) -> None:
    """Change the state if it is still one of ``allowed``; InvalidTransition otherwise."""
    allowed = frozenset(allowed)
    from_state = request.state
    changed = session.execute(
        update(ShareRequest)
        .where(ShareRequest.id == request.id, ShareRequest.state.in_(allowed))
        .values(state=to_state, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    if changed_rows(changed) != 1:
        raise InvalidTransition(
            f"This request is {request.state.label} now, so it cannot be {_verb(to_state)}."
        )
    log_change(session, request, actor, from_state, to_state, now=now, note=note)
    if actor.kind is ActorKind.STAFF:
        resolve_alert(session, f"sharing.answer.{request.id}", now=now)


def _verb(state: RequestState) -> str:
    return {
        RequestState.APPROVED: "approved",
        RequestState.DENIED: "denied",
        RequestState.INFO_REQUESTED: "asked about",
        RequestState.PENDING: "answered",
        RequestState.WITHDRAWN: "withdrawn",
        RequestState.REVOKED: "revoked",
        RequestState.EXPIRED: "closed",
    }.get(state, "changed")


def event_payload(request: ShareRequest) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "article": request.article.public_id,
        "kind": request.kind.value,
        "where": request.where.value,
        "state": request.state.value,
    }


def emit_decided(session: Session, request: ShareRequest, *, now: datetime, actor: Actor) -> None:
    payload = event_payload(request)
    if request.permission is not None:
        payload["permission"] = request.permission.public_id
    events.emit(
        session,
        "share_request.decided",
        request.public_id,
        payload,
        now=now,
        actor_id=actor.user_id,
    )


def grant(
    session: Session,
    request: ShareRequest,
    conditions: Conditions,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
    note: str = "",
) -> Permission:
    """Approve: a signed permission record, a tracked link and the good news by email."""
    conditions = check_conditions(conditions, now=now)
    move_request(
        session,
        request,
        OPEN_STATES,
        RequestState.APPROVED,
        actor=actor,
        now=now,
        note=note,
        credit_line=conditions.credit_line,
        link_required=conditions.link_required,
        excerpt_limit=conditions.excerpt_limit,
        expires_at=conditions.expires_at,
        decided_at=now,
        decided_by_id=actor.user_id,
        decision_note=note,
    )
    article = request.article
    permission = Permission(
        request_id=request.id,
        article_id=article.id,
        grantee_name=request.requester_name,
        scope=record_scope(request),
        conditions={
            "credit_line": conditions.credit_line,
            "link_required": conditions.link_required,
            "excerpt_limit": conditions.excerpt_limit,
        },
        state=PermissionState.ACTIVE,
        granted_at=now,
        expires_at=conditions.expires_at,
        document="",
        signature="",
        key_id="",
    )
    session.add(permission)
    session.flush()
    link = ShareLink(
        code=secrets.token_urlsafe(9),
        permission_id=permission.id,
        target_url=tracked_target(article, request, permission, ctx.site_url),
        created_at=now,
    )
    session.add(link)
    sign_record(permission, record_document(permission, request, article, ctx), ctx, now=now)
    session.flush()
    session.refresh(request)
    emit_decided(session, request, now=now, actor=actor)
    mail_reader(
        session,
        ctx,
        request,
        emails.granted(
            article.title,
            scope=describe_scope(request),
            conditions=describe_conditions(request, ctx),
            credit_line=conditions.credit_line,
            record_url=ctx.record_url(permission),
            share_url=ctx.share_url(link),
        ),
        now=now,
    )
    return permission


def deny(
    session: Session,
    request: ShareRequest,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> None:
    reason = clean_text(reason, MAX_NOTE, "note", "a reason", required=True)
    move_request(
        session,
        request,
        OPEN_STATES,
        RequestState.DENIED,
        actor=actor,
        now=now,
        note=reason,
        decision_note=reason,
        decided_at=now,
        decided_by_id=actor.user_id,
    )
    emit_decided(session, request, now=now, actor=actor)
    mail_reader(session, ctx, request, emails.denied(request.article.title, reason), now=now)


def ask_for_information(
    session: Session,
    request: ShareRequest,
    question: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> None:
    question = clean_text(question, MAX_NOTE, "note", "your question", required=True)
    move_request(
        session,
        request,
        OPEN_STATES,
        RequestState.INFO_REQUESTED,
        actor=actor,
        now=now,
        note=question,
    )
    mail_reader(
        session, ctx, request, emails.info_requested(request.article.title, question), now=now
    )


def answer(
    session: Session, request: ShareRequest, text: str, *, now: datetime, ctx: Sharing
) -> None:
    """The reader's answer to a question: the request goes back to the publisher."""
    text = clean_text(text, MAX_NOTE, "answer", "your answer", required=True)
    move_request(
        session,
        request,
        {RequestState.INFO_REQUESTED},
        RequestState.PENDING,
        actor=READER,
        now=now,
        note=text,
    )
    raise_alert(
        session,
        f"sharing.answer.{request.id}",
        f"{request.requester_name} answered your question about sharing "
        f"{emails.quoted(request.article.title)}.",
        now=now,
        level="info",
        link=f"/dashboard/sharing/{request.id}",
    )
    mail_reader(session, ctx, request, emails.answered(request.article.title), now=now)


def withdraw(session: Session, request: ShareRequest, *, now: datetime, ctx: Sharing) -> None:
    move_request(
        session,
        request,
        OPEN_STATES,
        RequestState.WITHDRAWN,
        actor=READER,
        now=now,
        note="Withdrawn by the reader.",
    )
    resolve_alert(session, f"sharing.answer.{request.id}", now=now)
    mail_reader(session, ctx, request, emails.withdrawn(request.article.title), now=now)


def revoke(
    session: Session,
    request: ShareRequest,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> None:
    reason = clean_text(reason, MAX_NOTE, "note", "a reason", required=True)
    move_request(
        session,
        request,
        {RequestState.APPROVED},
        RequestState.REVOKED,
        actor=actor,
        now=now,
        note=reason,
        decision_note=reason,
        decided_at=now,
        decided_by_id=actor.user_id,
    )
    permission = request.permission
    assert permission is not None  # every approved request has one
    permission.state = PermissionState.REVOKED
    permission.revoked_at = now
    resign_record(permission, ctx, now=now)
    emit_decided(session, request, now=now, actor=actor)
    mail_reader(
        session,
        ctx,
        request,
        emails.revoked(request.article.title, reason, ctx.record_url(permission)),
        now=now,
    )


def describe_conditions(request: ShareRequest, ctx: Sharing) -> list[str]:
    lines = []
    if request.link_required:
        lines.append("Link to the original article wherever you share it.")
    if request.excerpt_limit:
        lines.append(f"Quote at most {wording.count(request.excerpt_limit, 'word')}.")
    if request.expires_at:
        lines.append(f"This permission is valid until {ctx.valid_until(request.expires_at)}.")
    else:
        lines.append("This permission has no end date.")
    return lines
