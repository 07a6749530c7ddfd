"""The outbox: rows live and die with their transaction, claims are exclusive and fenced."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select

from syndicate import outbox
from syndicate.db import Base, Database, get_database, make_engine
from syndicate.models import OutboxMessage, OutboxState
from syndicate.outbox import PermanentFailure
from syndicate.staff.models import User
from tests import factories

KIND = "test.ping"


def _count(database: Database, model=OutboxMessage) -> int:  # noqa: ANN001
    with database.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _load(database: Database, message_id: int) -> OutboxMessage:
    with database.sessions() as s:
        return s.get(OutboxMessage, message_id)


def _enqueue(app, clock, **options) -> int:  # noqa: ANN001
    with get_database(app).transaction() as s:
        return outbox.enqueue(s, options.pop("kind", KIND), {"n": 1}, now=clock.now(), **options).id


def test_message_exists_only_if_the_business_change_commits(app, clock):
    database = get_database(app)

    with pytest.raises(RuntimeError), database.transaction() as s:
        factories.make_user(s, now=clock.now(), email="rolled@example.test")
        outbox.enqueue(s, KIND, {"user": "rolled"}, now=clock.now())
        raise RuntimeError("a later step of the same change failed")
    assert _count(database) == 0
    assert _count(database, User) == 0

    with database.transaction() as s:
        factories.make_user(s, now=clock.now(), email="kept@example.test")
        outbox.enqueue(s, KIND, {"user": "kept"}, now=clock.now())
    assert _count(database) == 1
    assert _count(database, User) == 1


def test_enqueue_statement_adds_one_due_message_or_one_per_row_of_its_source(app, clock):
    database = get_database(app)
    source = select(OutboxMessage.id).where(OutboxMessage.kind == "test.source").cte("source")
    for_each = outbox.enqueue_statement(KIND, for_each=source, max_attempts=3)
    values = {"message_payload": {"n": 1}, "message_at": clock.now()}

    with database.transaction() as s:
        s.execute(for_each, values)
    assert _count(database) == 0  # no row, no message

    _enqueue(app, clock, kind="test.source")
    _enqueue(app, clock, kind="test.source")
    with database.transaction() as s:
        s.execute(for_each, values)
        s.execute(outbox.enqueue_statement(KIND), {**values, "message_payload": {"n": 2}})
    claimed = outbox.claim(database, kinds=[KIND], owner="test", now=clock.now())
    assert sorted((m.payload["n"], m.attempt, m.max_attempts) for m in claimed) == [
        (1, 1, 3),
        (1, 1, 3),
        (2, 1, 8),
    ]


def test_claim_takes_only_due_messages_of_the_given_kinds(app, clock):
    database = get_database(app)
    due = _enqueue(app, clock)
    _enqueue(app, clock, available_at=clock.now() + timedelta(minutes=1))
    _enqueue(app, clock, kind="other.kind")

    [claimed] = outbox.claim(database, kinds=[KIND], owner="a", now=clock.now())

    assert (claimed.id, claimed.attempt, claimed.owner) == (due, 1, "a")
    assert claimed.payload == {"n": 1}
    stored = _load(database, due)
    assert stored.state is OutboxState.SENDING
    assert stored.lease_owner == "a"
    assert stored.lease_expires_at == clock.now() + timedelta(minutes=5)
    # Claimed and leased: nobody else gets it while the lease runs.
    assert outbox.claim(database, kinds=[KIND], owner="b", now=clock.now()) == []


def test_expired_lease_is_reclaimed_and_the_old_owner_is_fenced_out(app, clock):
    database = get_database(app)
    message_id = _enqueue(app, clock)
    [first] = outbox.claim(database, kinds=[KIND], owner="a", now=clock.now())

    clock.advance(timedelta(minutes=6))
    [second] = outbox.claim(database, kinds=[KIND], owner="b", now=clock.now())
    assert (second.id, second.attempt) == (message_id, 2)
    assert "attempt 1 by a did not finish" in _load(database, message_id).last_error

    now = clock.now()
    assert not outbox.complete(database, message_id, owner="a", attempt=1, now=now)
    assert not outbox.fail(
        database, message_id, owner="a", attempt=1, now=now, error="late", retry_in=None
    )
    assert not outbox.complete(database, message_id, owner="b", attempt=1, now=now)
    assert _load(database, message_id).state is OutboxState.SENDING

    assert outbox.complete(database, message_id, owner="b", attempt=2, now=now, outcome="ok")
    stored = _load(database, message_id)
    assert (stored.state, stored.outcome, stored.done_at) == (OutboxState.DONE, "ok", now)
    assert not outbox.complete(database, message_id, owner="b", attempt=2, now=now)


def test_expired_lease_on_the_last_attempt_goes_dead(app, clock):
    database = get_database(app)
    message_id = _enqueue(app, clock, max_attempts=1)
    outbox.claim(database, kinds=[KIND], owner="a", now=clock.now())

    clock.advance(timedelta(minutes=6))
    assert outbox.claim(database, kinds=[KIND], owner="b", now=clock.now()) == []

    stored = _load(database, message_id)
    assert stored.state is OutboxState.DEAD
    assert stored.attempts == 1
    assert "no attempts left" in stored.last_error


def test_drain_marks_success_done_with_the_handler_outcome(app, clock):
    message_id = _enqueue(app, clock)
    calls = []

    def handler(flask_app, payload):  # noqa: ANN001, ANN202
        calls.append((flask_app, payload))
        return "pinged"

    result = outbox.drain(app, kinds=[KIND], handlers={KIND: handler}, owner="w", now_fn=clock.now)

    assert (result.claimed, result.done) == (1, 1)
    assert calls == [(app, {"n": 1})]
    stored = _load(get_database(app), message_id)
    assert (stored.state, stored.outcome) == (OutboxState.DONE, "pinged")


def test_failing_handler_is_retried_with_growing_backoff_then_goes_dead(app, clock):
    database = get_database(app)
    message_id = _enqueue(app, clock, max_attempts=3)

    def handler(flask_app, payload):  # noqa: ANN001, ANN202
        raise ConnectionError("hub unreachable")

    def drain():  # noqa: ANN202
        return outbox.drain(
            app, kinds=[KIND], handlers={KIND: handler}, owner="w", now_fn=clock.now
        )

    assert drain().retrying == 1
    stored = _load(database, message_id)
    assert stored.state is OutboxState.FAILED
    assert stored.last_error == "ConnectionError: hub unreachable"
    first_wait = stored.available_at - clock.now()
    assert timedelta(seconds=24) <= first_wait <= timedelta(seconds=36)
    assert not drain()  # not due yet

    clock.advance(first_wait)
    assert drain().retrying == 1
    second_wait = _load(database, message_id).available_at - clock.now()
    assert timedelta(seconds=48) <= second_wait <= timedelta(seconds=72)

    clock.advance(second_wait)
    assert drain().dead == 1
    stored = _load(database, message_id)
    assert (stored.state, stored.attempts) == (OutboxState.DEAD, 3)
    clock.advance(timedelta(days=1))
    assert not drain()


def test_permanent_failure_and_unknown_kind_go_dead_at_once(app, clock):
    database = get_database(app)
    refused = _enqueue(app, clock)
    orphan = _enqueue(app, clock, kind="nobody.handles")

    def handler(flask_app, payload):  # noqa: ANN001, ANN202
        raise PermanentFailure("the address does not exist")

    result = outbox.drain(
        app,
        kinds=[KIND, "nobody.handles"],
        handlers={KIND: handler},
        owner="w",
        now_fn=clock.now,
    )

    assert result.dead == 2
    assert _load(database, refused).state is OutboxState.DEAD
    assert _load(database, refused).last_error == "PermanentFailure: the address does not exist"
    assert "no handler" in _load(database, orphan).last_error


def test_drain_skips_messages_taken_over_during_the_batch(app, clock):
    database = get_database(app)
    first = _enqueue(app, clock)
    second = _enqueue(app, clock)
    handled = []

    def slow_handler(flask_app, payload):  # noqa: ANN001, ANN202
        handled.append(payload)
        # Meanwhile another worker, whose clock says the leases ran out, takes both over.
        late = clock.now() + timedelta(minutes=10)
        outbox.claim(database, kinds=[KIND], owner="thief", now=late)

    result = outbox.drain(
        app, kinds=[KIND], handlers={KIND: slow_handler}, owner="w", now_fn=clock.now
    )

    assert len(handled) == 1
    assert (result.claimed, result.done, result.lost) == (2, 0, 2)
    for message_id in (first, second):
        stored = _load(database, message_id)
        assert (stored.state, stored.lease_owner, stored.attempts) == (
            OutboxState.SENDING,
            "thief",
            2,
        )


def test_backoff_doubles_from_30_seconds_up_to_an_hour_with_jitter():
    rng = random.Random(7)
    for attempt, base in [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (50, 3600)]:
        for _ in range(20):
            wait = outbox.backoff(attempt, rng=rng).total_seconds()
            assert base * 0.8 <= wait <= base * 1.2
    waits = {outbox.backoff(1, rng=rng) for _ in range(10)}
    assert len(waits) > 1


def test_two_claimers_never_get_the_same_message(fresh_database, clock):
    setup = Database(make_engine(fresh_database))
    try:
        with setup.transaction() as s:
            ids = {outbox.enqueue(s, KIND, {"n": n}, now=clock.now()).id for n in range(120)}
    finally:
        setup.engine.dispose()
    barrier = threading.Barrier(2)
    got: dict[str, list[int]] = {}
    errors: list[BaseException] = []

    def worker(owner: str) -> None:
        database = Database(make_engine(fresh_database))
        mine: list[int] = []
        try:
            barrier.wait(timeout=10)
            while batch := outbox.claim(
                database, kinds=[KIND], owner=owner, now=clock.now(), limit=3
            ):
                mine.extend(message.id for message in batch)
        except BaseException as exc:  # noqa: BLE001 (re-raised in the test's thread)
            errors.append(exc)
        finally:
            database.engine.dispose()
            got[owner] = mine

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == sorted(ids)
    check = Database(make_engine(fresh_database))
    try:
        with check.sessions() as s:
            rows = s.execute(select(OutboxMessage.lease_owner, OutboxMessage.attempts)).all()
    finally:
        check.engine.dispose()
    assert {attempts for _, attempts in rows} == {1}
    assert sum(owner == "a" for owner, _ in rows) == len(got["a"])


def _tables_in(diff: object) -> set[str]:
    if isinstance(diff, list):
        return set().union(*(_tables_in(d) for d in diff))
    kind, *rest = diff  # type: ignore[misc]
    if kind in {"add_table", "remove_table"}:
        return {rest[0].name}
    if kind in {"add_index", "remove_index"}:
        return {rest[0].table.name}
    return {rest[1]} if len(rest) > 1 and isinstance(rest[1], str) else {str(rest)}


def test_outbox_migration_matches_the_model(engine):
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert [d for d in differences if "outbox_messages" in _tables_in(d)] == []
