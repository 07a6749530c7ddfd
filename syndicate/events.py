"""Domain events, written in the transaction that caused them, read by subscribers in order.

An event row is inserted by the service that changed something (``article.published``),
inside the caller's transaction, so an event exists if and only if the change committed.
Each subscriber (feed cache, auto-posting, grantee corrections...) keeps a cursor: the id
of the last event it has handled. It handles the next events and advances its cursor in one
transaction, so an event is handled once per subscriber whatever crashes, and any number of
scheduler processes may run the consumer at once (the cursor row is locked while in use).
Because a cursor skips ids it has passed, event writers take an advisory lock on PostgreSQL
so that ids become visible in the order they were allocated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session

from syndicate.db import Database

# Event is this module's too: consumers' handlers take an events.Event.
from syndicate.models import Event as Event
from syndicate.models import EventCursor

EVENT_LOCK_KEY = 0x5E_E7_00_01
# PostgreSQL only: listeners learn of new events without polling (see feeds/freshness.py).
NOTIFY_CHANNEL = "syndicate_events"
_LOCK_AND_NOTIFY = text(
    "SELECT pg_advisory_xact_lock(:key), pg_notify(:channel, :kinds)"
).bindparams(channel=NOTIFY_CHANNEL)


def emit(
    session: Session,
    kind: str,
    subject: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    actor_id: int | None = None,
) -> Event:
    return emit_many(session, [(kind, subject, payload)], now=now, actor_id=actor_id)[0]


def emit_many(
    session: Session,
    items: Iterable[tuple[str, str, dict[str, Any]]],
    *,
    now: datetime,
    actor_id: int | None = None,
) -> list[Event]:
    """Emit several (kind, subject, payload) events with one flush (bulk imports)."""
    created = [
        Event(kind=kind, subject=subject, payload=payload, created_at=now, actor_id=actor_id)
        for kind, subject, payload in items
    ]
    _take_turn(session, {event.kind for event in created})
    session.add_all(created)
    session.flush()
    return created


def emit_rows(
    session: Session,
    items: Iterable[tuple[str, str, dict[str, Any]]],
    *,
    now: datetime,
    actor_id: int | None = None,
) -> None:
    """``emit_many`` as one Core INSERT, without Event objects to build and flush.

    For hot paths that emit an event per unit of work (the post dispatcher: one per post),
    where the ORM flush costs more than the insert. Same lock, same notification.
    """
    rows: list[dict[str, Any]] = [
        {
            "kind": kind,
            "subject": subject,
            "payload": payload,
            "created_at": now,
            "actor_id": actor_id,
        }
        for kind, subject, payload in items
    ]
    if not rows:
        return
    kinds = {row["kind"] for row in rows}
    if session.get_bind().dialect.name == "postgresql":
        announced = ",".join(sorted(kinds))
        session.connection().execute(_INSERT_IN_TURN, [{**row, "kinds": announced} for row in rows])
        return
    _take_turn(session, kinds)
    session.connection().execute(insert(Event.__table__), rows)


def _take_turn(session: Session, kinds: set[str]) -> None:
    if session.get_bind().dialect.name == "postgresql":
        # Subscribers read past the last id they saw, so ids must become visible in order:
        # writers of events take turns until commit (SQLite serialises writers anyway).
        # The dispatcher writes one per published post, so its transactions stay short
        # after this point. The same round trip announces the kinds on NOTIFY_CHANNEL;
        # PostgreSQL delivers that at commit, and never on rollback.
        session.execute(_LOCK_AND_NOTIFY, {"key": EVENT_LOCK_KEY, "kinds": ",".join(sorted(kinds))})


_EVENTS = Event.__table__
# PostgreSQL, for emit_rows: the turn (``_take_turn``) and the insert as one statement. The
# lock is held until the commit and every dispatcher takes it for every post, so each round
# trip between taking it and committing delays all the others. The turn is a subquery that
# ``OFFSET 0`` keeps from being flattened: its row (the lock) exists before the row to insert,
# hence before the new event's id is drawn. The lock is re-entrant and equal notifications
# of one transaction are delivered once, so several rows may each take it. Statements that
# insert events themselves select from it too (the dispatcher's, ``posts/dispatch_sql.py``).
TURN = (
    select(
        func.pg_advisory_xact_lock(EVENT_LOCK_KEY),
        func.pg_notify(NOTIFY_CHANNEL, bindparam("kinds", type_=String())),
    )
    .offset(0)
    .subquery("turn")
)
_ROW = ("kind", "subject", "payload", "created_at", "actor_id")
_INSERT_IN_TURN = insert(_EVENTS).from_select(
    list(_ROW),
    select(*(bindparam(name, type_=_EVENTS.c[name].type) for name in _ROW)).select_from(TURN),
)


Handler = Callable[[Session, Event], None]


def consume(
    database: Database,
    subscriber: str,
    handler: Handler,
    *,
    now: datetime,
    kinds: Iterable[str] | None = None,
    batch: int = 100,
) -> int:
    """Hand the subscriber's next events to ``handler``; return how many were handled.

    The handler runs in the same transaction as the cursor update: if it raises, neither its
    work nor the cursor move is kept, and the same event is offered again next time.
    """
    kinds = set(kinds) if kinds is not None else None
    with database.write_transaction() as session:
        cursor = session.execute(
            select(EventCursor).where(EventCursor.subscriber == subscriber).with_for_update()
        ).scalar_one_or_none()
        if cursor is None:
            cursor = EventCursor(subscriber=subscriber, last_event_id=0)
            session.add(cursor)
            session.flush()
        events = session.scalars(
            select(Event).where(Event.id > cursor.last_event_id).order_by(Event.id).limit(batch)
        ).all()
        for event in events:
            if kinds is None or event.kind in kinds:
                handler(session, event)
        if events:
            session.execute(
                update(EventCursor)
                .where(EventCursor.subscriber == subscriber)
                .values(last_event_id=events[-1].id, updated_at=now)
            )
        return len(events)
