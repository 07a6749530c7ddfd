"""The outbox: side effects written in the transaction that caused them, delivered later.

A service calls ``enqueue`` inside the caller's transaction, so a message exists if and only
if the business change committed. The scheduler calls ``drain``: it claims due messages
atomically (PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite a conditional UPDATE inside
``BEGIN IMMEDIATE``), gives each claim a lease and an attempt number, runs the handler, and
records the result with an UPDATE fenced on (owner, attempt): a worker whose lease was taken
over cannot overwrite the newer worker's result. A worker that dies mid-message leaves a
lease that expires; the next claim takes the message again. Delivery is therefore at least
once: handlers must tolerate a repeat (mail keeps its Message-ID so clients can spot one).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import (
    FromClause,
    Insert,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from syndicate import claims
from syndicate.claims import Leases
from syndicate.db import Database, UTCDateTime, changed_rows, get_database
from syndicate.models import OUTCOME_LIMIT, OutboxMessage, OutboxState
from syndicate.web import metrics

log = logging.getLogger(__name__)

ERROR_LIMIT = 2000
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
BACKOFF_JITTER = 0.2


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help; the message goes dead at once."""


@dataclass(frozen=True)
class ClaimedMessage:
    id: int
    kind: str
    payload: dict[str, Any]
    attempt: int
    max_attempts: int
    owner: str
    lease_expires_at: datetime


Handler = Callable[[Flask, dict[str, Any]], str | None]


@dataclass
class DrainResult:
    claimed: int = 0
    done: int = 0
    retrying: int = 0
    dead: int = 0
    # Messages whose lease another worker took over before this one finished.
    lost: int = 0
    errors: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.claimed > 0

    def __str__(self) -> str:
        return (
            f"{self.claimed} claimed, {self.done} done, {self.retrying} retrying, "
            f"{self.dead} dead, {self.lost} lost to another worker"
        )


def new_owner(prefix: str = "worker") -> str:
    """A lease owner name unique to this process and call, readable in the dashboard."""
    return f"{prefix}:{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    available_at: datetime | None = None,
    max_attempts: int = 8,
) -> OutboxMessage:
    """Add a message in the caller's transaction (flush only: it exists iff the caller commits)."""
    _check_message(kind, max_attempts)
    message = OutboxMessage(
        kind=kind,
        payload=payload,
        state=OutboxState.PENDING,
        attempts=0,
        max_attempts=max_attempts,
        available_at=available_at or now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def _check_message(kind: str, max_attempts: int) -> None:
    if not kind or len(kind) > 64:
        raise ValueError("an outbox kind is 1 to 64 characters")
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")


_outbox = OutboxMessage.__table__
# Who holds a message being handled, until when, on which attempt (see syndicate/claims.py).
_LEASES = Leases(
    id=_outbox.c.id,
    state=_outbox.c.state,
    held=OutboxState.SENDING,
    expires_at=_outbox.c.lease_expires_at,
    owner=_outbox.c.lease_owner,
    attempt=_outbox.c.attempts,
)


def enqueue_statement(
    kind: str, *, for_each: FromClause | None = None, max_attempts: int = 8
) -> Insert:
    """``enqueue`` as a Core INSERT: one pending message of ``kind``, or one for each row
    that ``for_each`` yields. Bind ``message_payload`` and ``message_at`` (when it is queued
    and first due) to execute it.

    For work on a Connection rather than a Session, and for writing a message in the same
    statement as the change that causes it: with ``for_each`` a data-modifying WITH
    (PostgreSQL), the message exists exactly when the change wrote a row, and no
    transaction is needed around the two.
    """
    _check_message(kind, max_attempts)
    at = bindparam("message_at", type_=_outbox.c.created_at.type)
    values = select(
        literal(kind, _outbox.c.kind.type),
        bindparam("message_payload", type_=_outbox.c.payload.type),
        literal(OutboxState.PENDING, _outbox.c.state.type),
        literal(0),
        literal(max_attempts),
        at,
        at,
    )
    return insert(_outbox).from_select(
        ["kind", "payload", "state", "attempts", "max_attempts", "available_at", "created_at"],
        values if for_each is None else values.select_from(for_each),
    )


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def claim(
    database: Database,
    *,
    kinds: Iterable[str],
    owner: str,
    now: datetime,
    lease: timedelta = timedelta(minutes=5),
    limit: int = 20,
) -> list[ClaimedMessage]:
    """Claim up to ``limit`` due messages for ``owner``; no two claimers get the same one.

    Due means pending or failed with available_at passed, or sending with an expired lease
    (its worker died). Each claim counts an attempt. A message whose lease expired on its
    last attempt goes dead instead of being tried again.
    """
    kinds = list(kinds)
    if not kinds:
        return []
    lease_until = now + lease
    claimed: list[ClaimedMessage] = []
    with database.write_transaction() as session:
        waiting = and_(
            _outbox.c.state.in_([OutboxState.PENDING, OutboxState.FAILED]),
            _outbox.c.available_at <= now,
        )
        rows = session.execute(
            _LEASES.lock_due(
                select(
                    _outbox.c.id,
                    _outbox.c.kind,
                    _outbox.c.payload,
                    _outbox.c.state,
                    _outbox.c.attempts,
                    _outbox.c.max_attempts,
                    _outbox.c.lease_owner,
                )
                .where(_outbox.c.kind.in_(kinds), or_(waiting, _LEASES.expired(now)))
                .order_by(_outbox.c.available_at, _outbox.c.id)
                .limit(limit)
            )
        ).all()
        for row in rows:
            # The WHERE repeats what was read, so the UPDATE changes the row only if nobody
            # else did in between, whatever the isolation level.
            unchanged = and_(
                _outbox.c.state == row.state,
                _outbox.c.attempts == row.attempts,
            )
            crashed_note = None
            if row.state == OutboxState.SENDING:
                crashed_note = _cap(
                    f"attempt {row.attempts} by {row.lease_owner} did not finish before its "
                    "lease expired (the worker stopped or was too slow)",
                    ERROR_LIMIT,
                )
                if row.attempts >= row.max_attempts:
                    session.execute(
                        update(_outbox)
                        .where(_outbox.c.id == row.id, unchanged)
                        .values(
                            state=OutboxState.DEAD,
                            lease_expires_at=None,
                            last_error=crashed_note + "; no attempts left",
                            done_at=now,
                        )
                    )
                    log.warning("outbox message %s is dead: %s", row.id, crashed_note)
                    continue
            values = _LEASES.take(owner, lease_until)
            if crashed_note:
                values["last_error"] = crashed_note
            if claims.take(session, _outbox, row.id, due=unchanged, values=values):
                claimed.append(
                    ClaimedMessage(
                        id=row.id,
                        kind=row.kind,
                        payload=row.payload,
                        attempt=row.attempts + 1,
                        max_attempts=row.max_attempts,
                        owner=owner,
                        lease_expires_at=lease_until,
                    )
                )
    return claimed


def _fenced_update(
    database: Database, message_id: int, owner: str, attempt: int, **values: Any
) -> bool:
    with database.write_transaction() as session:
        result = session.execute(
            update(_outbox).where(_LEASES.fenced(message_id, owner, attempt)).values(**values)
        )
        changed = changed_rows(result) == 1
    if not changed:
        log.warning(
            "outbox message %s: attempt %s of %s was taken over by another worker; "
            "its result is dropped",
            message_id,
            attempt,
            owner,
        )
    return changed


def renew(
    database: Database,
    message_id: int,
    *,
    owner: str,
    attempt: int,
    now: datetime,
    lease: timedelta = timedelta(minutes=5),
) -> bool:
    """Extend the lease if it is still ours; False means another worker took the message."""
    return _fenced_update(database, message_id, owner, attempt, lease_expires_at=now + lease)


def complete(
    database: Database,
    message_id: int,
    *,
    owner: str,
    attempt: int,
    now: datetime,
    outcome: str | None = None,
) -> bool:
    """Mark the message done if the lease is still ours; False if another worker took over."""
    return _fenced_update(
        database,
        message_id,
        owner,
        attempt,
        state=OutboxState.DONE,
        done_at=now,
        lease_expires_at=None,
        outcome=_cap(outcome, OUTCOME_LIMIT) if outcome else None,
    )


def fail(
    database: Database,
    message_id: int,
    *,
    owner: str,
    attempt: int,
    now: datetime,
    error: str,
    retry_in: timedelta | None,
) -> bool:
    """Record a failed attempt; retry after ``retry_in``, or go dead if None or out of attempts."""
    if retry_in is None:
        state: Any = OutboxState.DEAD
        done_at: Any = now
    else:
        out_of_attempts = _outbox.c.attempts >= _outbox.c.max_attempts
        state = case((out_of_attempts, OutboxState.DEAD.value), else_=OutboxState.FAILED.value)
        done_at = case((out_of_attempts, literal(now, UTCDateTime())), else_=None)
    return _fenced_update(
        database,
        message_id,
        owner,
        attempt,
        state=state,
        done_at=done_at,
        available_at=now + (retry_in or timedelta(0)),
        lease_expires_at=None,
        last_error=_cap(error, ERROR_LIMIT),
    )


def backoff(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """30 s doubled per failed attempt, at most 1 h, with ±20 % jitter so retries spread out."""
    exponent = min(max(attempt - 1, 0), 20)
    doubling: int = 2**exponent  # int ** int is typed Any: a negative power is a float
    base = min(BACKOFF_BASE * doubling, BACKOFF_CAP)
    jitter: float = (rng or random).uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER)
    return base * jitter


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def drain(
    app: Flask,
    *,
    kinds: Iterable[str],
    handlers: dict[str, Handler],
    owner: str,
    now_fn: Callable[[], datetime],
    lease: timedelta = timedelta(minutes=5),
    limit: int = 20,
) -> DrainResult:
    """Claim due messages of ``kinds`` and run each through its handler, recording the result.

    A handler returns None or a short outcome note; raising retries with backoff, raising
    PermanentFailure (or having no handler) makes the message dead at once.
    """
    database = get_database(app)
    result = DrainResult()
    messages = claim(database, kinds=kinds, owner=owner, now=now_fn(), lease=lease, limit=limit)
    result.claimed = len(messages)
    for message in messages:
        # A long batch may outlive a lease: re-check (and extend) it right before acting.
        if not renew(
            database, message.id, owner=owner, attempt=message.attempt, now=now_fn(), lease=lease
        ):
            result.lost += 1
            continue
        handler = handlers.get(message.kind)
        try:
            if handler is None:
                raise PermanentFailure(f"no handler for outbox kind {message.kind!r}")
            outcome = handler(app, message.payload)
        except PermanentFailure as exc:
            error, retry_in = _describe(exc), None
        except Exception as exc:  # noqa: BLE001 (any failure of a handler is retried)
            error, retry_in = _describe(exc), backoff(message.attempt)
        else:
            if complete(
                database,
                message.id,
                owner=owner,
                attempt=message.attempt,
                now=now_fn(),
                outcome=outcome,
            ):
                result.done += 1
            else:
                result.lost += 1
            continue
        log.warning(
            "outbox message %s (%s) attempt %s/%s failed: %s",
            message.id,
            message.kind,
            message.attempt,
            message.max_attempts,
            error,
        )
        result.errors.append(f"{message.id}: {error}")
        recorded = fail(
            database,
            message.id,
            owner=owner,
            attempt=message.attempt,
            now=now_fn(),
            error=error,
            retry_in=retry_in,
        )
        if not recorded:
            result.lost += 1
        elif retry_in is None or message.attempt >= message.max_attempts:
            result.dead += 1
        else:
            result.retrying += 1
    return result


# --- /metrics ------------------------------------------------------------------------------

METRICS_HELP = {
    "syndicate_outbox_messages": "Outbox messages by kind and state.",
    "syndicate_outbox_lag_seconds": (
        "Age of the oldest pending or failed outbox message that is due (0 when none)."
    ),
}


def gauges(session: Session, now: datetime) -> dict[metrics.Key, float]:
    """Messages by kind and state, and the age of the oldest one due, as of now."""
    values: dict[metrics.Key, float] = {}
    for kind, state, count in session.execute(
        select(OutboxMessage.kind, OutboxMessage.state, func.count()).group_by(
            OutboxMessage.kind, OutboxMessage.state
        )
    ):
        values[metrics.key("syndicate_outbox_messages", kind=kind, state=state.value)] = count
    oldest = session.scalar(
        select(func.min(OutboxMessage.available_at)).where(
            OutboxMessage.state.in_([OutboxState.PENDING, OutboxState.FAILED]),
            OutboxMessage.available_at <= now,
        )
    )
    values[metrics.key("syndicate_outbox_lag_seconds")] = metrics.age(oldest, now)
    return values


def init_app(app: Flask) -> None:
    """Every feature queues through the outbox: its depth and lag go on /metrics."""
    metrics.register_gauges(app, gauges, METRICS_HELP)
