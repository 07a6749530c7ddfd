import pytest
from sqlalchemy import select

from syndicate import events
from syndicate.models import EventCursor


def _emit(session, clock, n):
    for i in range(n):
        events.emit(session, "article.published", f"id-{i}", {"i": i}, now=clock.now())
    session.commit()


def test_each_subscriber_sees_every_event_once_in_order(app, session, clock):
    _emit(session, clock, 3)
    database = app.extensions["database"]
    seen: dict[str, list[int]] = {"a": [], "b": []}
    for name in seen:
        handled = events.consume(
            database, name, lambda s, e, n=name: seen[n].append(e.payload["i"]), now=clock.now()
        )
        assert handled == 3
    assert seen == {"a": [0, 1, 2], "b": [0, 1, 2]}
    assert events.consume(database, "a", lambda s, e: seen["a"].append(-1), now=clock.now()) == 0


def test_a_failing_handler_keeps_the_event_for_next_time(app, session, clock):
    _emit(session, clock, 2)
    database = app.extensions["database"]

    def explode(_session, _event):
        raise RuntimeError("downstream is down")

    with pytest.raises(RuntimeError):
        events.consume(database, "fragile", explode, now=clock.now())
    seen = []
    events.consume(database, "fragile", lambda s, e: seen.append(e.subject), now=clock.now())
    assert seen == ["id-0", "id-1"]
    cursor = session.scalar(select(EventCursor).where(EventCursor.subscriber == "fragile"))
    assert cursor.last_event_id > 0


def test_kinds_filter_skips_other_events_but_moves_past_them(app, session, clock):
    events.emit(session, "article.published", "x", {}, now=clock.now())
    events.emit(session, "share.created", "y", {}, now=clock.now())
    session.commit()
    seen = []
    handled = events.consume(
        app.extensions["database"],
        "only-articles",
        lambda s, e: seen.append(e.kind),
        now=clock.now(),
        kinds={"article.published"},
    )
    assert handled == 2 and seen == ["article.published"]


def test_postgresql_announces_event_kinds_at_commit_and_never_on_rollback(request, tmp_path, clock):
    import psycopg

    from syndicate import migrate
    from syndicate.db import Database, make_engine
    from tests.conftest import _new_database

    url, drop = _new_database("postgresql", request, tmp_path)
    engine = make_engine(url)
    migrate.upgrade(engine)
    database = Database(engine)
    listener = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    try:
        listener.execute(f"LISTEN {events.NOTIFY_CHANNEL}")
        with database.sessions() as session:
            events.emit(session, "article.published", "a", {}, now=clock.now())
            session.rollback()
        assert list(listener.notifies(timeout=0.5)) == []
        with database.transaction() as session:
            events.emit_many(
                session,
                [("article.updated", "a", {}), ("post.published", "p", {}), ("article.updated", "b", {})],
                now=clock.now(),
            )
        notes = list(listener.notifies(timeout=2, stop_after=1))
        assert [note.payload for note in notes] == ["article.updated,post.published"]
    finally:
        listener.close()
        engine.dispose()
        drop()


def test_emit_rows_writes_the_same_events_as_emit_many(app, session, clock):
    events.emit_rows(
        session, [("article.updated", "a", {"n": 1}), ("post.published", "p", {})], now=clock.now()
    )
    session.commit()
    written = session.scalars(select(events.Event).order_by(events.Event.id)).all()
    assert [(e.kind, e.subject, e.payload, e.created_at) for e in written] == [
        ("article.updated", "a", {"n": 1}, clock.now()),
        ("post.published", "p", {}, clock.now()),
    ]
    seen: list[str] = []
    events.consume(app.extensions["database"], "t", lambda s, e: seen.append(e.kind), now=clock.now())
    assert seen == ["article.updated", "post.published"]


def test_postgresql_event_ids_become_visible_in_order_when_writers_wait_for_their_turn(
    request, tmp_path, clock
):
    """A writer that waits for its turn draws its id after the writer ahead of it: a
    subscriber that has read past an id never finds a smaller one committed later."""
    import threading

    from syndicate import migrate
    from syndicate.db import Database, make_engine
    from tests.conftest import _new_database

    url, drop = _new_database("postgresql", request, tmp_path)
    engine = make_engine(url)
    migrate.upgrade(engine)
    database = Database(engine)
    try:
        with database.sessions() as ahead:
            events.emit(ahead, "article.published", "first", {}, now=clock.now())

            def write_behind() -> None:
                with database.transaction() as behind:
                    events.emit_rows(behind, [("post.published", "behind", {})], now=clock.now())

            waiting = threading.Thread(target=write_behind)
            waiting.start()
            waiting.join(timeout=1)
            assert waiting.is_alive()  # waiting for its turn
            events.emit(ahead, "article.published", "second", {}, now=clock.now())
            ahead.commit()
            waiting.join(timeout=10)
        with database.sessions() as session:
            subjects = session.scalars(select(events.Event.subject).order_by(events.Event.id))
            assert list(subjects) == ["first", "second", "behind"]
    finally:
        engine.dispose()
        drop()
