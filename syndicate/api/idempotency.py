"""Idempotency-Key: a retried POST or PATCH does its work once and answers the same again.

Two steps, because a concurrent duplicate must be told "in progress" at once rather than
wait: ``begin`` claims the key in a short transaction of its own (a unique constraint on
user and key decides between racers); the request then does its work and ``finish`` stores
the answer on the claimed row *in the request's own transaction*, so the work and its
stored answer commit together or not at all. A claim whose request died before committing
is taken over once it is older than ``STALE_CLAIM``: nothing it did was kept.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Response
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.datastructures import Headers

from syndicate.api.errors import ApiError
from syndicate.db import Base, Database, changed_rows

KEEP_FOR = timedelta(hours=24)
STALE_CLAIM = timedelta(minutes=2)
MAX_KEY = 200
IN_PROGRESS, DONE = "in_progress", "done"
REPLAY_HEADER = "Idempotent-Replayed"


class IdempotencyKey(Base):
    """A key one API user sent, what it was sent with, and the answer given."""

    __tablename__ = "api_idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(MAX_KEY))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    # Changes on every claim, so a request whose claim was taken over cannot store its answer.
    lock: Mapped[str] = mapped_column(String(36))
    claimed_at: Mapped[datetime]
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


@dataclass(frozen=True)
class Claim:
    row_id: int
    lock: str


@dataclass(frozen=True)
class Stored:
    status: int
    body: str

    def response(self) -> Response:
        response = Response(self.body, status=self.status, mimetype="application/json")
        response.headers[REPLAY_HEADER] = "true"
        return response


def key_from(headers: Headers | Mapping[str, str]) -> str | None:
    """The Idempotency-Key header, checked: 1 to 200 visible ASCII characters."""
    key = headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY or not all(33 <= ord(c) <= 126 for c in key):
        raise ApiError(
            400,
            "Idempotency-Key must be 1 to 200 visible ASCII characters (a UUID is ideal).",
            "bad_idempotency_key",
        )
    return key


def begin(
    database: Database,
    *,
    user_id: int,
    key: str,
    method: str,
    path: str,
    request_hash: str,
    now: datetime,
) -> Claim | Stored:
    """Claim the key, or return the stored answer of an earlier identical request."""
    for _ in range(3):
        lock = str(uuid.uuid4())
        try:
            with database.write_transaction() as session:
                session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.user_id == user_id,
                        IdempotencyKey.key == key,
                        IdempotencyKey.expires_at <= now,
                    )
                )
                row = IdempotencyKey(
                    user_id=user_id,
                    key=key,
                    method=method,
                    path=path[:500],
                    request_hash=request_hash,
                    state=IN_PROGRESS,
                    lock=lock,
                    claimed_at=now,
                    created_at=now,
                    expires_at=now + KEEP_FOR,
                )
                session.add(row)
                session.flush()
                return Claim(row.id, lock)
        except IntegrityError:
            pass
        with database.write_transaction() as session:
            existing = session.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
                )
            )
            if existing is None:
                continue
            if existing.request_hash != request_hash:
                raise ApiError(
                    422,
                    "This Idempotency-Key was used with a different request; use a new key.",
                    "idempotency_key_reused",
                    {"method": existing.method, "path": existing.path},
                )
            if existing.state == DONE and existing.response_status is not None:
                return Stored(existing.response_status, existing.response_body or "")
            if existing.claimed_at <= now - STALE_CLAIM:
                taken = session.execute(
                    update(IdempotencyKey)
                    .where(
                        IdempotencyKey.id == existing.id,
                        IdempotencyKey.lock == existing.lock,
                        IdempotencyKey.state == IN_PROGRESS,
                    )
                    .values(lock=lock, claimed_at=now)
                )
                if changed_rows(taken) == 1:
                    return Claim(existing.id, lock)
        raise ApiError(
            409,
            "A request with this Idempotency-Key is still in progress; retry in a moment.",
            "idempotency_in_progress",
        )
    raise ApiError(409, "The Idempotency-Key is contended; retry.", "idempotency_in_progress")


def finish(session: Session, claim: Claim, response: Response, *, now: datetime) -> bool:
    """Store the answer in the request's transaction; False if another request took over."""
    changed = session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == claim.row_id,
            IdempotencyKey.lock == claim.lock,
            IdempotencyKey.state == IN_PROGRESS,
        )
        .values(
            state=DONE,
            response_status=response.status_code,
            response_body=response.get_data(as_text=True),
        )
    )
    return changed_rows(changed) == 1


def release(database: Database, claim: Claim) -> None:
    """Forget a claim whose request failed unexpectedly, so that a retry can run."""
    with database.write_transaction() as session:
        session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.id == claim.row_id,
                IdempotencyKey.lock == claim.lock,
                IdempotencyKey.state == IN_PROGRESS,
            )
        )


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete keys past their 24 hours; returns how many."""
    return changed_rows(
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    )
