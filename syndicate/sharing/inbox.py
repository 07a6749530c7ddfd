"""The staff inbox: filtered pages and counts, a requester's history, the CSV export, and
bulk decisions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, selectinload

from syndicate.articles.models import Article
from syndicate.db import Page, paginate
from syndicate.sharing.context import (
    MAX_NOTE,
    Actor,
    InvalidTransition,
    Sharing,
    SharingError,
    canonical_url,
    clean_text,
)
from syndicate.sharing.deciding import default_conditions, deny, grant
from syndicate.sharing.models import INBOX_STATES, RequestState, ShareKind, ShareRequest
from syndicate.sharing.records import iso_time
from syndicate.web.spreadsheet import safe_cell


@dataclass(frozen=True)
class InboxFilter:
    state: RequestState | None = None
    kind: ShareKind | None = None
    article_id: int | None = None

    def query(self) -> Select[ShareRequest]:
        conditions: list[ColumnElement[bool]] = [ShareRequest.state.in_(INBOX_STATES)]
        if self.state is not None:
            conditions.append(ShareRequest.state == self.state)
        if self.kind is not None:
            conditions.append(ShareRequest.kind == self.kind)
        if self.article_id is not None:
            conditions.append(ShareRequest.article_id == self.article_id)
        return select(ShareRequest).where(*conditions)

    def args(self) -> dict[str, Any]:
        """The filter as URL query arguments (for pager links and the export)."""
        args: dict[str, Any] = {}
        if self.state:
            args["state"] = self.state.value
        if self.kind:
            args["kind"] = self.kind.value
        if self.article_id:
            args["article"] = self.article_id
        return args


def inbox_page(session: Session, where: InboxFilter, number: int, size: int) -> Page[ShareRequest]:
    query = where.query().order_by(ShareRequest.created_at.desc(), ShareRequest.id.desc())
    return paginate(session, query, number=number, size=size)


def inbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ShareRequest.state, func.count())
        .where(ShareRequest.state.in_(INBOX_STATES))
        .group_by(ShareRequest.state)
    ).all()
    return {state.value: count for state, count in rows}


def requester_history(
    session: Session, request: ShareRequest, limit: int = 20
) -> list[ShareRequest]:
    """The same person's other verified requests, newest first."""
    return list(
        session.scalars(
            select(ShareRequest)
            .where(
                ShareRequest.requester_email == request.requester_email,
                ShareRequest.id != request.id,
                ShareRequest.state.in_(INBOX_STATES),
            )
            .order_by(ShareRequest.created_at.desc())
            .limit(limit)
        )
    )


def articles_with_requests(session: Session) -> list[Article]:
    ids = select(ShareRequest.article_id).where(ShareRequest.state.in_(INBOX_STATES)).distinct()
    return list(session.scalars(select(Article).where(Article.id.in_(ids)).order_by(Article.title)))


CSV_COLUMNS = (
    "id",
    "received_at",
    "state",
    "kind",
    "excerpt_words",
    "language",
    "article",
    "article_url",
    "requester_name",
    "requester_email",
    "where",
    "where_url",
    "audience_size",
    "message",
    "decision_note",
    "credit_line",
    "expires_at",
    "permission_url",
)


def export_rows(session: Session, where: InboxFilter, ctx: Sharing) -> Iterator[list[Any]]:
    yield list(CSV_COLUMNS)
    query = (
        where.query()
        .options(selectinload(ShareRequest.permission))
        .order_by(ShareRequest.created_at.desc(), ShareRequest.id.desc())
    )
    for request in session.scalars(query.execution_options(yield_per=500)):
        permission = request.permission
        yield [
            safe_cell(v)
            for v in (
                request.id,
                iso_time(request.verified_at or request.created_at),
                request.state.value,
                request.kind.value,
                request.excerpt_words,
                request.language,
                request.article.title,
                canonical_url(request.article, ctx.site_url),
                request.requester_name,
                request.requester_email,
                request.where.value,
                request.where_url,
                request.audience_size,
                request.message,
                request.decision_note,
                request.credit_line,
                iso_time(request.expires_at),
                ctx.record_url(permission) if permission else None,
            )
        ]


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def bulk_decide(
    session: Session,
    request_ids: Sequence[int],
    action: str,
    note: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> BulkResult:
    """Approve (with the default conditions) or deny many requests; others are skipped."""
    if action not in {"approve", "deny"}:
        raise SharingError("Choose approve or deny.", "action")
    if action == "deny":
        note = clean_text(note, MAX_NOTE, "note", "a reason for denying", required=True)
    result = BulkResult()
    requests = session.scalars(
        select(ShareRequest).where(ShareRequest.id.in_(request_ids)).order_by(ShareRequest.id)
    ).all()
    for request in requests:
        try:
            with session.begin_nested():
                if action == "approve":
                    grant(
                        session,
                        request,
                        default_conditions(request, ctx),
                        actor=actor,
                        now=now,
                        ctx=ctx,
                        note=note,
                    )
                else:
                    deny(session, request, note, actor=actor, now=now, ctx=ctx)
        except InvalidTransition:
            result.skipped.append(request.id)
        else:
            result.done.append(request.id)
    missing = set(request_ids) - {r.id for r in requests}
    result.skipped.extend(sorted(missing))
    return result
