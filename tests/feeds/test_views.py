"""HTTP behaviour of feeds: validators, 304, gzip, HEAD, cache hints, WebSub discovery, cache."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import Engine, event

from syndicate import create_app
from syndicate.articles import services as articles
from syndicate.clock import FixedClock
from syndicate.db import get_database
from tests.conftest import START, app_config, eventually, url_is_sqlite

SITE = "https://news.example.test"
PATHS = [
    "/feeds/rss.xml",
    "/feeds/atom.xml",
    "/feeds/feed.json",
    "/feeds/category/world/rss.xml",
    "/feeds/author/ada-writer/feed.json",
    "/feeds/opml.xml",
]


@pytest.fixture
def published(make_article, session):  # noqa: ANN001, ANN201
    made = [make_article(title=f"Piece {n}") for n in range(3)]
    session.commit()
    return made


def test_repeated_requests_return_identical_bytes_and_validators(client, published) -> None:  # noqa: ANN001
    for path in PATHS:
        first, second = client.get(path), client.get(path)
        assert first.status_code == second.status_code == 200
        assert first.data == second.data
        assert first.headers["ETag"] == second.headers["ETag"]
        assert first.headers["ETag"].startswith('"') and not first.headers["ETag"].startswith("W/")
        assert first.headers["Last-Modified"] == second.headers["Last-Modified"]


def test_each_feed_has_its_own_etag(client, published) -> None:  # noqa: ANN001
    etags = {client.get(p).headers["ETag"] for p in PATHS}
    assert len(etags) == len(PATHS)


def test_if_none_match_answers_304_with_an_empty_body(client, published) -> None:  # noqa: ANN001
    for path in PATHS:
        etag = client.get(path).headers["ETag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.data == b""
        assert again.headers["ETag"] == etag
        # RFC 9110 15.4.5: the fields that update a cache, no other metadata.
        assert again.headers["Cache-Control"].startswith("public, max-age=")
        assert again.headers["Vary"] == "Accept-Encoding"
        assert not {"Last-Modified", "Link", "Content-Type"} & set(again.headers.keys())
        assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        listed = client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        assert listed.status_code == 304


def test_if_modified_since_answers_304_until_something_changes(client, published) -> None:  # noqa: ANN001
    modified = client.get("/feeds/rss.xml").headers["Last-Modified"]
    again = client.get("/feeds/rss.xml", headers={"If-Modified-Since": modified})
    assert again.status_code == 304 and again.data == b""
    older = "Mon, 02 Mar 2026 08:59:59 GMT"
    assert client.get("/feeds/rss.xml", headers={"If-Modified-Since": older}).status_code == 200


def test_feedparser_over_http_gets_304_for_both_validators(live_app) -> None:  # noqa: ANN001
    app, server = live_app
    with get_database(app).transaction() as session:
        article = articles.create_article(
            session, articles.ArticleInput(title="Live", authors=["Ada"]), now=START
        )
        articles.publish_article(session, article, now=START)
    url = f"{server.url}/feeds/atom.xml"
    first = feedparser.parse(url)
    assert first.status == 200 and first.bozo == 0 and first.entries[0].title == "Live"
    assert feedparser.parse(url, etag=first.etag).status == 304
    assert feedparser.parse(url, modified=first.modified).status == 304


def test_gzip_is_served_when_asked_and_is_the_same_feed(client, published) -> None:  # noqa: ANN001
    for path in PATHS:
        plain = client.get(path)
        zipped = client.get(path, headers={"Accept-Encoding": "gzip, deflate"})
        assert zipped.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in zipped.headers["Vary"]
        assert "Cookie" not in zipped.headers["Vary"]
        assert gzip.decompress(zipped.data) == plain.data
        assert zipped.headers["ETag"] != plain.headers["ETag"]
        assert client.get(path, headers={"Accept-Encoding": "gzip"}).data == zipped.data
        # Either validator is good for either encoding: they name the same content.
        assert (
            client.get(path, headers={"If-None-Match": zipped.headers["ETag"]}).status_code == 304
        )
        assert (
            "Content-Encoding"
            not in client.get(path, headers={"Accept-Encoding": "gzip;q=0"}).headers
        )


def test_head_answers_headers_without_a_body(client, published) -> None:  # noqa: ANN001
    for path in PATHS:
        get, head = client.get(path), client.head(path)
        assert head.status_code == 200 and head.data == b""
        assert head.headers["ETag"] == get.headers["ETag"]
        assert head.headers["Content-Length"] == str(len(get.data))
        assert head.headers["Content-Type"] == get.headers["Content-Type"]


def test_content_types_name_each_format(client, published) -> None:  # noqa: ANN001
    assert client.get("/feeds/rss.xml").content_type.startswith("application/rss+xml")
    assert client.get("/feeds/atom.xml").content_type.startswith("application/atom+xml")
    assert client.get("/feeds/feed.json").content_type == "application/feed+json"


def test_cache_control_agrees_with_ttl_and_update_hints(app, client, published) -> None:  # noqa: ANN001
    for minutes, period, frequency in (
        (15, "hourly", "4"),
        (60, "hourly", "1"),
        (120, "daily", "12"),
    ):
        app.config["FEED_TTL_MINUTES"] = minutes
        response = client.get("/feeds/rss.xml")
        assert response.headers["Cache-Control"] == f"public, max-age={minutes * 60}"
        channel = etree.fromstring(response.data).find("channel")
        sy = "{http://purl.org/rss/1.0/modules/syndication/}"
        assert channel.findtext("ttl") == str(minutes)
        assert channel.findtext(f"{sy}updatePeriod") == period
        assert channel.findtext(f"{sy}updateFrequency") == frequency
        assert channel.find(f"{sy}UpdatePeriod") is None


def test_websub_hub_and_self_are_advertised_in_headers_and_bodies(client, published) -> None:  # noqa: ANN001
    hub = f"{SITE}/websub"
    for path in PATHS[:5]:
        response = client.get(path)
        links = response.headers.getlist("Link")
        assert links.count(f'<{SITE}{path}>; rel="self"') == 1
        assert sum('rel="self"' in link for link in links) == 1
        assert f'<{hub}>; rel="hub"' in links
    rss = etree.fromstring(client.get("/feeds/rss.xml").data)
    atom_link = "{http://www.w3.org/2005/Atom}link"
    assert [(el.get("rel"), el.get("href")) for el in rss.find("channel").iterchildren(atom_link)] == [
        ("self", f"{SITE}/feeds/rss.xml"),
        ("hub", hub),
    ]
    assert rss.findtext("channel/link") == f"{SITE}/"
    atom = etree.fromstring(client.get("/feeds/atom.xml").data)
    rels = {el.get("rel"): el.get("href") for el in atom.iter(atom_link) if el.getparent() is atom}
    assert rels["hub"] == hub and rels["self"] == f"{SITE}/feeds/atom.xml"
    assert json.loads(client.get("/feeds/feed.json").data)["hubs"] == [
        {"type": "WebSub", "url": hub}
    ]


def test_every_item_points_to_its_share_request_form(client, published) -> None:  # noqa: ANN001
    more = "http://creativecommons.org/ns#morePermissions"
    atom_link = "{http://www.w3.org/2005/Atom}link"
    rss = etree.fromstring(client.get("/feeds/rss.xml").data)
    atom = etree.fromstring(client.get("/feeds/atom.xml").data)
    entries = atom.findall("{http://www.w3.org/2005/Atom}entry")
    items = json.loads(client.get("/feeds/feed.json").data)["items"]
    expected = [f"{SITE}/articles/{article.slug}/share" for article in reversed(published)]
    for container in (rss.findall("channel/item"), entries):
        found = [[el.get("href") for el in item.iterchildren(atom_link) if el.get("rel") == more]
                 for item in container]
        assert found == [[url] for url in expected]
    assert [item["_syndicate"]["more_permissions"] for item in items] == expected
    # The pointer leads to the form itself.
    form = client.get(expected[0].removeprefix(SITE))
    assert form.status_code == 200 and b'name="email"' in form.data


def test_an_external_hub_replaces_ours(app, client, published) -> None:  # noqa: ANN001
    app.config["WEBSUB_HUB"] = "https://hub.example.test/"
    response = client.get("/feeds/rss.xml")
    assert '<https://hub.example.test/>; rel="hub"' in response.headers.getlist("Link")
    assert b'href="https://hub.example.test/"' in response.data


def test_publishing_changes_the_etag_and_the_bytes(
    client,
    make_article,
    session,
    clock,  # noqa: ANN001
    published,
) -> None:
    before = {p: client.get(p) for p in PATHS[:3]}
    clock.advance(timedelta(minutes=5))
    make_article(title="Fresh news")
    session.commit()
    for path, old in before.items():
        new = client.get(path, headers={"If-None-Match": old.headers["ETag"]})
        assert new.status_code == 200 and b"Fresh news" in new.data
        assert new.headers["ETag"] != old.headers["ETag"]
        assert new.headers["Last-Modified"] != old.headers["Last-Modified"]


def test_unpublishing_changes_the_feed_and_never_moves_last_modified_back(  # noqa: ANN001
    client, session, clock, published
) -> None:
    before = client.get("/feeds/rss.xml")
    clock.advance(timedelta(minutes=5))
    articles.unpublish_article(session, published[-1], now=clock.now())
    session.commit()
    after = client.get(
        "/feeds/rss.xml", headers={"If-Modified-Since": before.headers["Last-Modified"]}
    )
    assert after.status_code == 200 and b"Piece 2" not in after.data


def test_an_edit_that_changes_nothing_keeps_the_cached_bytes(
    client,
    session,
    clock,
    published,  # noqa: ANN001
) -> None:
    etag = client.get("/feeds/atom.xml").headers["ETag"]
    article = published[0]
    clock.advance(timedelta(minutes=5))
    articles.update_article(
        session,
        article,
        articles.ArticleInput(
            title=article.title,
            body=article.body_source,
            summary=article.summary,
            authors=["Ada Writer"],
            categories=["World"],
        ),
        now=clock.now(),
    )
    session.commit()
    assert client.get("/feeds/atom.xml", headers={"If-None-Match": etag}).status_code == 304


def _second_app(url: str, tmp_path: Path, clock: FixedClock) -> Flask:
    return create_app(
        app_config(url, CLOCK=clock, INSTANCE_PATH=str(tmp_path / f"instance-{id(clock)}"))
    )


def test_a_second_process_sees_a_publish_committed_by_another(
    fresh_database,
    tmp_path,  # noqa: ANN001
) -> None:
    clock = FixedClock(START)
    reader, writer = (
        _second_app(fresh_database, tmp_path, clock),
        _second_app(fresh_database, tmp_path, FixedClock(START)),
    )
    try:
        with get_database(writer).transaction() as session:
            article = articles.create_article(
                session, articles.ArticleInput(title="One", authors=["Ada"]), now=START
            )
            articles.publish_article(session, article, now=START)
        client = reader.test_client()
        first = client.get("/feeds/rss.xml")
        assert b"One" in first.data and client.get("/feeds/rss.xml").data == first.data
        with get_database(writer).transaction() as session:
            later = START + timedelta(minutes=1)
            article = articles.create_article(
                session, articles.ArticleInput(title="Two", authors=["Ada"]), now=later
            )
            articles.publish_article(session, article, now=later)
        def second_response():  # noqa: ANN202
            return client.get("/feeds/rss.xml", headers={"If-None-Match": first.headers["ETag"]})

        # SQLite: the very next request. PostgreSQL: once the commit's NOTIFY has arrived.
        second = second_response() if url_is_sqlite(fresh_database) else eventually(
            second_response, lambda response: response.status_code == 200)
        assert second.status_code == 200 and b"Two" in second.data
        assert second.headers["ETag"] != first.headers["ETag"]
        # The writer's own process, never asked before, renders the very same bytes.
        assert writer.test_client().get("/feeds/rss.xml").data == second.data
    finally:
        get_database(reader).engine.dispose()
        get_database(writer).engine.dispose()


def test_with_its_own_engine_a_cache_hit_sends_no_statement(fresh_database, tmp_path) -> None:  # noqa: ANN001
    app = _second_app(fresh_database, tmp_path, FixedClock(START))
    try:
        with get_database(app).transaction() as session:
            article = articles.create_article(
                session, articles.ArticleInput(title="One", authors=["Ada"]), now=START
            )
            articles.publish_article(session, article, now=START)
        client = app.test_client()
        first = client.get("/feeds/rss.xml").data
        cache = app.extensions["feed_cache"]
        eventually(lambda: cache.versions.current(_no_session), lambda version: version > 0)
        with _statements(get_database(app).engine) as statements:
            assert client.get("/feeds/rss.xml").data == first
        assert statements == [] and cache.hits >= 1
    finally:
        close = getattr(app.extensions["feed_cache"].versions, "close", None)
        if close:
            close()
        get_database(app).engine.dispose()


def _no_session():  # noqa: ANN202
    raise AssertionError("the version source asked for a session")


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    """The SQL the engine sends inside the block."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_cache_hit_costs_one_small_query(app, client, published) -> None:  # noqa: ANN001
    client.get("/feeds/rss.xml")
    with _statements(get_database(app).engine) as statements:
        assert client.get("/feeds/rss.xml").status_code == 200
    feed_queries = [s for s in statements if "events" in s or "articles" in s]
    assert len(feed_queries) == 1 and "max(events.id)" in feed_queries[0]


def test_dashboard_lists_feeds_for_staff_only(
    client,
    login,
    make_user,
    published,
    session,  # noqa: ANN001
    clock,
) -> None:
    from syndicate.feeds.models import (
        DeliveryState,
        SubscriptionState,
        WebSubDelivery,
        WebSubSubscription,
    )

    sub = WebSubSubscription(
        topic=f"{SITE}/feeds/rss.xml",
        callback="https://reader.example/cb",
        state=SubscriptionState.ACTIVE,
        lease_seconds=3600,
        created_at=clock.now(),
        updated_at=clock.now(),
        lease_expires_at=clock.now() + timedelta(hours=1),
    )
    session.add(sub)
    session.flush()
    session.add_all(
        [
            WebSubDelivery(
                subscription_id=sub.id,
                etag='"a"',
                state=DeliveryState.DELIVERED,
                attempts=1,
                next_attempt_at=clock.now(),
                created_at=clock.now(),
                delivered_at=clock.now(),
            ),
            WebSubDelivery(
                subscription_id=sub.id,
                etag='"b"',
                state=DeliveryState.PENDING,
                attempts=2,
                next_attempt_at=clock.now(),
                created_at=clock.now(),
            ),
        ]
    )
    session.commit()
    assert client.get("/dashboard/feeds").status_code == 302
    login(make_user())
    page = client.get("/dashboard/feeds")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"{SITE}/feeds/category/world/rss.xml" in text and "World" in text
    assert "1 waiting" in text and "1 failing" in text and "last delivered 2026-03-02" in text
    assert "newest articles not yet archived" in text and "come back\n  every 15 minutes" in text
    assert client.get("/dashboard/feeds?page=0").status_code == 400


@pytest.mark.parametrize("app_overrides", [{"FEED_TTL_MINUTES": 1, "FEED_ITEMS": 1}])
def test_dashboard_counts_one_minute_and_one_article_in_the_singular(client, login, make_user):
    login(make_user())
    text = client.get("/dashboard/feeds").get_data(as_text=True)
    assert "archive pages hold 1 article each" in text and "every 1 minute." in text
