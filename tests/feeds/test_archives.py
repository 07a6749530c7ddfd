"""RFC 5005 archives: the chain from any feed yields every published article; pages stay put."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from lxml import etree

from syndicate.articles import services as articles

SITE = "https://news.example.test"
ATOM = "{http://www.w3.org/2005/Atom}"
FH_ARCHIVE = "{http://purl.org/syndication/history/1.0}archive"


@pytest.fixture
def many(app, make_article, session, clock):  # noqa: ANN001, ANN201
    """Ten published articles in pages of three; the second oldest is unpublished again."""
    app.config["FEED_ITEMS"] = 3
    made = []
    for n in range(10):
        clock.advance(timedelta(minutes=1))
        made.append(
            make_article(title=f"Item {n}", tags=["Odd"] if n % 2 else [], published_at=clock.now())
        )
    articles.unpublish_article(session, made[1], now=clock.now())
    session.commit()
    return made


def _doc(client, url: str):  # noqa: ANN001, ANN202
    response = client.get(url.removeprefix(SITE))
    assert response.status_code == 200, url
    return response


def _walk(client, url: str) -> list[tuple[str, list[str], object]]:  # noqa: ANN001
    """Follow prev-archive from a feed; (url, ids, response) of every document visited."""
    seen = []
    while url:
        response = _doc(client, url)
        if url.endswith(".json"):
            feed = json.loads(response.data)
            ids = [i["id"] for i in feed["items"]]
            following = feed.get("next_url")
        else:
            root = etree.fromstring(response.data)
            if root.tag == "rss":
                ids = [g.text for g in root.iter("guid")]
            else:
                ids = [e.findtext(f"{ATOM}id") for e in root.iter(f"{ATOM}entry")]
            following = next(
                (
                    el.get("href")
                    for el in root.iter(f"{ATOM}link")
                    if el.get("rel") == "prev-archive"
                ),
                None,
            )
        seen.append((url, ids, response))
        url = following
        assert len(seen) < 50
    return seen


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml", "feed.json"])
def test_walking_the_archive_chain_yields_every_published_article_exactly_once(
    client,
    many,
    name,  # noqa: ANN001
) -> None:
    published = {f"urn:uuid:{a.public_id}" for i, a in enumerate(many) if i != 1}
    visited = _walk(client, f"{SITE}/feeds/{name}")
    # Ten ever published in pages of three: two full pages are older than the newest three.
    assert [u for u, _, _ in visited] == [
        f"{SITE}/feeds/{name}",
        f"{SITE}/feeds/archive/2/{name}",
        f"{SITE}/feeds/archive/1/{name}",
    ]
    every_id = [i for _, ids, _ in visited for i in ids]
    assert len(every_id) == len(set(every_id)), "the current feed and the archives overlap"
    assert set(every_id) == published
    assert f"urn:uuid:{many[1].public_id}" not in every_id


@pytest.mark.parametrize("name", ["atom.xml", "feed.json"])
def test_current_feed_and_archives_split_the_articles_at_every_count(
    app,
    client,
    make_article,
    session,
    clock,
    name,  # noqa: ANN001
) -> None:
    """The newest archive page never repeats what the current feed shows, whatever the count."""
    app.config["FEED_ITEMS"] = 3
    published: list[str] = []
    for _ in range(11):
        clock.advance(timedelta(minutes=1))
        published.append(f"urn:uuid:{make_article(published_at=clock.now()).public_id}")
        session.commit()
        visited = _walk(client, f"{SITE}/feeds/{name}")
        current, archives = visited[0][1], [i for _, ids, _ in visited[1:] for i in ids]
        assert not set(current) & set(archives), len(published)
        assert sorted(current + archives) == sorted(published), len(published)
        # The current feed shows at least the newest three, newest first; fewer than two
        # pages' worth beside the archives, everything (under three pages) before them.
        assert current[:3] == list(reversed(published))[:3]
        assert len(current) < (6 if archives else 9)
        assert len(visited) != 2, "a lone archive page links to no other archive page"


def test_walking_a_tag_feed_yields_its_articles(client, many) -> None:  # noqa: ANN001
    tagged = {f"urn:uuid:{a.public_id}" for i, a in enumerate(many) if i % 2 and i != 1}
    visited = _walk(client, f"{SITE}/feeds/tag/odd/atom.xml")
    assert {i for _, ids, _ in visited for i in ids} == tagged


def test_archive_pages_are_marked_and_cacheable_for_long(client, many) -> None:  # noqa: ANN001
    for name in ("rss.xml", "atom.xml"):
        current = etree.fromstring(_doc(client, f"/feeds/{name}").data)
        assert next(current.iter(FH_ARCHIVE), None) is None
        oldest = etree.fromstring(_doc(client, f"/feeds/archive/1/{name}").data)
        assert {el.get("rel"): el.get("href") for el in oldest.iter(f"{ATOM}link")}[
            "next-archive"
        ] == f"{SITE}/feeds/archive/2/{name}"
        page = _doc(client, f"/feeds/archive/2/{name}")
        root = etree.fromstring(page.data)
        assert next(root.iter(FH_ARCHIVE), None) is not None
        rels = {el.get("rel"): el.get("href") for el in root.iter(f"{ATOM}link")}
        assert rels["current"] == f"{SITE}/feeds/{name}"
        assert rels["prev-archive"] == f"{SITE}/feeds/archive/1/{name}"
        assert "next-archive" not in rels
        assert "hub" not in rels
        assert page.headers["Cache-Control"] == "public, max-age=2592000, immutable"
    assert client.get("/feeds/archive/3/rss.xml").status_code == 404
    assert client.get("/feeds/archive/0/rss.xml").status_code == 404


def _page_items(client, n: int) -> list[tuple[str, str]]:  # noqa: ANN001
    root = etree.fromstring(_doc(client, f"/feeds/archive/{n}/atom.xml").data)
    return [
        (e.findtext(f"{ATOM}id"), e.findtext(f"{ATOM}updated")) for e in root.iter(f"{ATOM}entry")
    ]


def test_full_archive_pages_keep_their_items_when_articles_come_and_go(  # noqa: ANN001
    client, many, make_article, session, clock
) -> None:
    before = {n: _page_items(client, n) for n in (1, 2)}
    page1 = _doc(client, "/feeds/archive/1/atom.xml").data
    for _ in range(3):
        clock.advance(timedelta(minutes=1))
        make_article(published_at=clock.now())
    articles.unpublish_article(session, many[9], now=clock.now())
    session.commit()
    assert {n: _page_items(client, n) for n in (1, 2)} == before
    assert _doc(client, "/feeds/archive/1/atom.xml").data == page1
    newest = etree.fromstring(_doc(client, "/feeds/archive/2/atom.xml").data)
    assert {el.get("rel"): el.get("href") for el in newest.iter(f"{ATOM}link")}[
        "next-archive"
    ] == f"{SITE}/feeds/archive/3/atom.xml"
