"""Permission records: the signed public document of a grant, its key, and signing again.

A record is a snapshot taken when the grant is made (later edits of the article cannot
alter what was signed), signed again whenever its state changes, and served with its
signature at /permissions/<public_id>.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session

from syndicate.articles.models import Article
from syndicate.db import changed_rows
from syndicate.sharing.context import Sharing, canonical_url
from syndicate.sharing.models import Permission, PermissionState, ShareRequest
from syndicate.sharing.signing import canonical_json


def iso_time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def record_scope(request: ShareRequest) -> dict[str, Any]:
    return {
        "kind": request.kind.value,
        "excerpt_words": request.excerpt_words,
        "language": request.language,
        "where": request.where.value,
        "where_url": request.where_url,
    }


def record_document(
    permission: Permission, request: ShareRequest, article: Article, ctx: Sharing
) -> dict[str, Any]:
    """The public record as granted: a snapshot, so later edits cannot alter what was signed."""
    return {
        "type": "share-permission",
        "version": 1,
        "id": permission.public_id,
        "url": ctx.record_url(permission),
        "issuer": {"name": ctx.settings.publisher_name, "url": ctx.site_url},
        "article": {
            "id": article.public_id,
            "title": article.title,
            "url": canonical_url(article, ctx.site_url),
        },
        "grantee": {"name": permission.grantee_name},
        "scope": permission.scope,
        "conditions": permission.conditions,
        "granted_at": iso_time(permission.granted_at),
        "expires_at": iso_time(permission.expires_at),
        "state": permission.state.value,
        "revoked_at": None,
        "expired_at": None,
    }


def _signed(document: dict[str, Any], ctx: Sharing, *, now: datetime) -> dict[str, str]:
    """The columns that hold a record signed now with the current key."""
    document = {**document, "key_id": ctx.signer.key_id, "signed_at": iso_time(now)}
    document.pop("signature", None)
    return {
        "document": canonical_json(document).decode("utf-8"),
        "signature": ctx.signer.sign(document),
        "key_id": ctx.signer.key_id,
    }


def sign_record(
    permission: Permission, document: dict[str, Any], ctx: Sharing, *, now: datetime
) -> None:
    for column, value in _signed(document, ctx, now=now).items():
        setattr(permission, column, value)


def _current_document(
    document: str,
    state: PermissionState,
    revoked_at: datetime | None,
    expired_at: datetime | None,
) -> dict[str, Any]:
    """A signed document brought up to the record's state."""
    return {
        **json.loads(document),
        "state": state.value,
        "revoked_at": iso_time(revoked_at),
        "expired_at": iso_time(expired_at),
    }


def resign_record(permission: Permission, ctx: Sharing, *, now: datetime) -> None:
    """Sign again after a state change, so the signed record always tells the current state."""
    document = _current_document(
        permission.document, permission.state, permission.revoked_at, permission.expired_at
    )
    sign_record(permission, document, ctx, now=now)


def records_by_key(db: Session | Connection, key_id: str) -> tuple[int, int]:
    """How many permission records the key ``key_id`` signed, and how many another key did
    (those no longer verify against the published key)."""
    on_key, on_other = db.execute(
        select(
            func.count().filter(Permission.key_id == key_id),
            func.count().filter(Permission.key_id != key_id),
        )
    ).one()
    return on_key, on_other


RESIGN_BATCH = 200


def resign_records(
    session: Session, *, ctx: Sharing, now: datetime, after_id: int = 0, limit: int = RESIGN_BATCH
) -> tuple[int, int | None]:
    """Sign again, with the current key, up to ``limit`` records that another key signed, in
    id order after ``after_id`` (after SYNDICATE_SHARING_SIGNING_KEY changed, their
    signatures no longer verify against the published key).

    Returns how many were signed again and the last id looked at, None when there was none.
    Each record is written only if its signature is still the one read: one whose state
    changed meanwhile was signed by the process that changed it, and keeps that.
    """
    rows = session.execute(
        select(
            Permission.id,
            Permission.document,
            Permission.signature,
            Permission.state,
            Permission.revoked_at,
            Permission.expired_at,
        )
        .where(Permission.key_id != ctx.signer.key_id, Permission.id > after_id)
        .order_by(Permission.id)
        .limit(limit)
    ).all()
    resigned = 0
    for row in rows:
        document = _current_document(row.document, row.state, row.revoked_at, row.expired_at)
        resigned += _write_if_unchanged(
            session, row.id, row.signature, _signed(document, ctx, now=now)
        )
    return resigned, (rows[-1].id if rows else None)


def _write_if_unchanged(
    session: Session, permission_id: int, signature_read: str, columns: dict[str, str]
) -> bool:
    written = session.execute(
        update(Permission)
        .where(Permission.id == permission_id, Permission.signature == signature_read)
        .values(**columns)
        .execution_options(synchronize_session=False)
    )
    return bool(changed_rows(written))


def signed_record(permission: Permission) -> dict[str, Any]:
    """The record as served: the signed document plus its signature."""
    return {**json.loads(permission.document), "signature": permission.signature}


def find_permission(session: Session, public_id: str) -> Permission | None:
    if not public_id or len(public_id) > 36:
        return None
    return session.scalar(select(Permission).where(Permission.public_id == public_id))


def tracked_target(
    article: Article, request: ShareRequest, permission: Permission, site_url: str
) -> str:
    """The canonical article URL with this grant's UTM parameters (others' utm_* replaced)."""
    parts = urlsplit(canonical_url(article, site_url))
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    query += [
        ("utm_source", request.where.value),
        ("utm_medium", "share"),
        ("utm_campaign", f"permission-{permission.public_id}"),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def linkedin_share_url(share_url: str) -> str:
    return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": share_url})
