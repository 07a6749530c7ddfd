"""The fast path (web/fastpath.py): cached feeds and share links answered before Flask, with
the same bytes and headers as Flask's answer, and the same request id, access line and
request counter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.test import Client, TestResponse

from syndicate import create_app
from syndicate.articles import services as articles
from syndicate.clock import FixedClock
from syndicate.db import get_database
from syndicate.sharing import visits
from syndicate.web.fastpath import fast_path
from syndicate.web.metrics import counters, key
from tests.conftest import START, app_config, eventually
from tests.sharing.conftest import CANONICAL, count_visits_at_once, pending_request

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


class FlaskRequests:
    """Counts the requests that reached Flask (its first before_request hook)."""

    def __init__(self, app: Flask) -> None:
        self.count = 0

        def seen() -> None:
            self.count += 1

        app.before_request(seen)


@pytest.fixture
def feeds_app(fresh_database: str, tmp_path: Path) -> Iterator[tuple[Flask, FlaskRequests]]:
    """An app with an engine of its own, as in production: its feed cache knows the content
    version without a query (SQLite data_version, PostgreSQL NOTIFY)."""
    app = create_app(
        app_config(fresh_database, CLOCK=FixedClock(START), INSTANCE_PATH=str(tmp_path / "i"))
    )
    reached = FlaskRequests(app)
    with get_database(app).transaction() as session:
        for title, category in (("One", "World"), ("Two", "Science")):
            article = articles.create_article(
                session,
                articles.ArticleInput(title=title, authors=["Ada"], categories=[category]),
                now=START,
            )
            articles.publish_article(session, article, now=START)
    try:
        yield app, reached
    finally:
        close = getattr(app.extensions.get("feed_cache") and app.extensions["feed_cache"].versions,
                        "close", None)
        if close:
            close()
        get_database(app).engine.dispose()


def _without_request_id(response: TestResponse) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID")


def _served_fast(app: Flask, reached: FlaskRequests, path: str, **headers: str) -> TestResponse:
    """The answer to ``path`` once the fast path gives it (PostgreSQL: once NOTIFY is heard)."""
    client = app.test_client()

    def attempt() -> tuple[int, TestResponse]:
        before = reached.count
        response = client.get(path, headers=headers)
        return reached.count - before, response

    flask_requests, response = eventually(attempt, lambda outcome: outcome[0] == 0)
    assert flask_requests == 0
    return response


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/feeds/rss.xml", {}),
        ("/feeds/atom.xml", {"Accept-Encoding": "gzip, deflate"}),
        ("/feeds/feed.json", {"Accept-Encoding": "gzip;q=0"}),
        ("/feeds/category/science/rss.xml", {}),
    ],
)
def test_a_cached_feed_is_answered_before_flask_with_flasks_bytes_and_headers(
    feeds_app, path, headers  # noqa: ANN001
) -> None:
    app, reached = feeds_app
    fast = _served_fast(app, reached, path, **headers)
    # The same request through Flask alone (the app behind the fast path).
    before = reached.count
    full = Client(fast_path(app).wsgi_app, TestResponse).get(path, headers=headers)
    assert reached.count == before + 1
    assert (fast.status_code, fast.data) == (full.status_code, full.data)
    assert _without_request_id(fast) == _without_request_id(full)
    assert fast.headers["Content-Security-Policy"] and fast.headers["X-Request-ID"]


def test_conditional_and_head_requests_are_answered_fast_like_flask(feeds_app) -> None:  # noqa: ANN001
    app, reached = feeds_app
    first = _served_fast(app, reached, "/feeds/rss.xml")
    full = Client(fast_path(app).wsgi_app, TestResponse)
    for headers in (
        {"If-None-Match": first.headers["ETag"]},
        {"If-None-Match": f'W/{first.headers["ETag"]}, "other"'},
        {"If-Modified-Since": first.headers["Last-Modified"]},
        {"If-None-Match": '"stale"'},
    ):
        fast = _served_fast(app, reached, "/feeds/rss.xml", **headers)
        flask_answer = full.get("/feeds/rss.xml", headers=headers)
        assert fast.status_code == flask_answer.status_code
        assert _without_request_id(fast) == _without_request_id(flask_answer)
        assert fast.data == flask_answer.data
    assert _served_fast(app, reached, "/feeds/rss.xml", **{"If-None-Match": first.headers["ETag"]}
                        ).status_code == 304
    before = reached.count
    head = app.test_client().head("/feeds/rss.xml")
    flask_head = full.head("/feeds/rss.xml")
    assert reached.count == before + 1  # only the Flask one
    assert head.data == b"" and head.headers["Content-Length"] == first.headers["Content-Length"]
    assert _without_request_id(head) == _without_request_id(flask_head)


def test_fast_answers_keep_the_request_id_access_line_and_request_counter(
    feeds_app, caplog  # noqa: ANN001
) -> None:
    app, reached = feeds_app
    _served_fast(app, reached, "/feeds/rss.xml")
    route = next(r.rule for r in app.url_map.iter_rules() if r.endpoint == "feeds.site_feed")
    sample = key("syndicate_http_requests_total", route=route, method="GET", status="200")
    counted = counters(app).collect()[0].get(sample, 0)
    caplog.set_level(logging.INFO, logger="syndicate.access")
    before = reached.count
    response = app.test_client().get("/feeds/rss.xml", headers={"X-Request-ID": "proxy-id.42"})
    assert reached.count == before
    assert response.headers["X-Request-ID"] == "proxy-id.42"
    (line,) = [r for r in caplog.records if r.name == "syndicate.access"]
    assert (line.method, line.path, line.route, line.status, line.request_id) == (
        "GET", "/feeds/rss.xml", route, 200, "proxy-id.42")
    assert line.duration_ms is not None
    assert counters(app).collect()[0][sample] == counted + 1


def test_what_the_cache_cannot_answer_goes_to_flask(feeds_app) -> None:  # noqa: ANN001
    app, reached = feeds_app
    client = app.test_client()
    before = reached.count
    # Never rendered yet: the render needs the database, so Flask serves it.
    assert client.get("/feeds/tag/none-such/atom.xml").status_code == 404
    assert client.get("/feeds/category/World/rss.xml").status_code == 404  # not a slug
    assert client.get("/feeds/archive/1/rss.xml").status_code in (200, 404)
    assert client.post("/feeds/rss.xml").status_code == 405
    assert reached.count == before + 4
    # A feed's first request renders it through Flask; the next ones are fast.
    first = client.get("/feeds/category/world/atom.xml")
    assert first.status_code == 200 and reached.count == before + 5
    assert _served_fast(app, reached, "/feeds/category/world/atom.xml").data == first.data


@pytest.fixture
def link(app, session, clock, make_article):  # noqa: ANN001, ANN201
    count_visits_at_once(app)
    article = make_article(title="Shared", slug="shared", canonical_url=CANONICAL)
    return pending_request(session, app, article, clock, kind="link").permission.link


def test_a_share_link_redirect_is_answered_before_flask_and_counts_once(
    app, client, session, link  # noqa: ANN001
) -> None:
    reached = FlaskRequests(app)
    environ = {"REMOTE_ADDR": "203.0.113.7"}
    fast = client.get(f"/s/{link.code}", headers={"User-Agent": FIREFOX}, environ_base=environ)
    assert reached.count == 0
    full = Client(fast_path(app).wsgi_app, TestResponse).get(
        f"/s/{link.code}", headers={"User-Agent": FIREFOX}, environ_base=environ
    )
    assert reached.count == 1
    assert fast.status_code == full.status_code == 302
    assert fast.data == full.data
    assert _without_request_id(fast) == _without_request_id(full)
    assert fast.headers["Cache-Control"] == "no-store"
    session.expire_all()
    assert visits.visits_for_link(session, link.id) == 1  # one visitor, one day: one visit
    # An unknown code: Flask's 404 page.
    missing = client.get("/s/NoSuchCode", headers={"User-Agent": FIREFOX})
    assert missing.status_code == 404 and b"does not exist" in missing.data
    assert reached.count == 2


def test_a_share_link_access_line_never_shows_the_code(client, link, caplog) -> None:  # noqa: ANN001
    caplog.set_level(logging.INFO, logger="syndicate.access")
    assert client.get(f"/s/{link.code}", headers={"User-Agent": FIREFOX}).status_code == 302
    (line,) = [r for r in caplog.records if r.name == "syndicate.access"]
    assert link.code not in line.getMessage() and line.path == "/s/[redacted]"
    assert line.route == "/s/<code>"
