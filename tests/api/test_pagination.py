"""Cursor pagination: every row exactly once, in order, even with ties and new rows arriving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from syndicate.api.pagination import BadCursor, Cursors


def _walk(api, query: str) -> list[str]:  # noqa: ANN001
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        page = api.get(f"/articles?{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status_code == 200, page.get_json()
        seen += [a["public_id"] for a in page.get_json()["items"]]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("the cursor never ended")


def test_walk_returns_every_article_exactly_once_newest_first(api, make_article, clock, session):
    created = []
    for n in range(23):
        # Runs of equal created_at: only the id breaks those ties.
        if n % 4 == 0:
            clock.advance(timedelta(minutes=1))
        created.append(make_article(title=f"Article {n}", publish=n % 3 != 0))
    session.commit()

    walked = _walk(api, "limit=5")
    assert walked == [a.public_id for a in reversed(created)]
    assert len(set(walked)) == 23

    drafts = _walk(api, "limit=2&status=draft")
    assert drafts == [a.public_id for a in reversed(created) if not a.is_published]


def test_rows_created_during_the_walk_do_not_disturb_it(api, make_article, session, clock):
    first = [make_article(title=f"Old {n}") for n in range(6)]
    session.commit()
    page = api.get("/articles?limit=4").get_json()
    clock.advance(timedelta(minutes=5))
    make_article(title="Newer")
    session.commit()
    rest = api.get(f"/articles?limit=4&cursor={page['next_cursor']}").get_json()
    seen = [a["public_id"] for a in page["items"] + rest["items"]]
    assert seen == [a.public_id for a in reversed(first)]


def test_cursors_are_signed_and_bound_to_their_list():
    articles = Cursors("secret-one", "articles")
    cursor = articles.encode(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), 7)
    assert articles.decode(cursor)[1] == 7
    with pytest.raises(BadCursor):
        Cursors("secret-one", "posts").decode(cursor)
    with pytest.raises(BadCursor):
        Cursors("secret-two", "articles").decode(cursor)
    with pytest.raises(BadCursor):
        articles.decode(cursor[:-2] + "xx")
