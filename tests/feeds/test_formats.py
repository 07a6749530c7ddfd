"""What readers get: valid RSS, Atom and JSON Feed with stable ids, safe absolute content."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import jsonschema
import lxml.html
import pytest
from flask import render_template_string
from lxml import etree

from syndicate.articles import services as articles
from syndicate.feeds.context import FeedSettings
from syndicate.feeds.listing import discovery_links

SCHEMA = json.loads((Path(__file__).parent / "jsonfeed-1.1.schema.json").read_text())
HOSTILE_TITLE = "Cats & Dogs <3 \"quoted\" 'single' 🐱"
SITE = "https://news.example.test"
FEEDS = [
    "/feeds/{}",
    "/feeds/category/world/{}",
    "/feeds/tag/essays/{}",
    "/feeds/author/ada-writer/{}",
]
RSS_DATE = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$")
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")


@pytest.fixture
def seeded(make_article, session, clock):  # noqa: ANN001, ANN201
    """Three published articles (one hostile title, relative URLs, a hero), a draft, an unpublished."""
    first = make_article(
        title="First light", tags=["Essays"], published_at=clock.now() - timedelta(days=2)
    )
    clock.advance(timedelta(minutes=1))
    tricky = make_article(
        title=HOSTILE_TITLE,
        tags=["Essays"],
        body='<p>See <a href="/about">about</a>, <a href="../up">up</a> and '
        '<img src="pics/a.png" srcset="pics/a.png 1x, /pics/b.png 2x" alt="a">'
        '<picture><source srcset="/c.webp 1x"></picture>'
        '<blockquote cite="/quote">q</blockquote></p>',
        hero_image_url="https://cdn.example.test/hero.jpg",
        hero_image_alt="A hero",
        published_at=clock.now() - timedelta(days=1),
    )
    clock.advance(timedelta(minutes=1))
    third = make_article(title="Third", published_at=clock.now())
    draft = make_article(title="A draft never shown", publish=False)
    gone = make_article(title="Unpublished never shown")
    articles.unpublish_article(session, gone, now=clock.now())
    session.commit()
    return {"first": first, "tricky": tricky, "third": third, "draft": draft, "gone": gone}


def _get(client, path: str):  # noqa: ANN001, ANN202
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response


def _ids(client, path: str) -> list[str]:  # noqa: ANN001
    body = _get(client, path).data
    if path.endswith(".json"):
        return [item["id"] for item in json.loads(body)["items"]]
    return [entry.id for entry in feedparser.parse(body).entries]


def test_every_xml_feed_parses_cleanly_with_feedparser_and_lxml(client, seeded) -> None:  # noqa: ANN001
    for template in FEEDS:
        for name, version in (("rss.xml", "rss20"), ("atom.xml", "atom10")):
            body = _get(client, template.format(name)).data
            parsed = feedparser.parse(body)
            assert parsed.bozo == 0, (template, name, parsed.get("bozo_exception"))
            assert parsed.version == version
            etree.fromstring(body)


def test_json_feeds_match_the_json_feed_1_1_schema(client, seeded) -> None:  # noqa: ANN001
    for template in FEEDS:
        response = _get(client, template.format("feed.json"))
        assert response.content_type == "application/feed+json"
        feed = json.loads(response.data)
        jsonschema.validate(feed, SCHEMA, format_checker=jsonschema.FormatChecker())
        for item in feed["items"]:
            for field in ("date_published", "date_modified"):
                assert RFC3339.match(item[field]) and datetime.fromisoformat(item[field]).tzinfo


def test_json_schema_rejects_a_feed_without_string_ids() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "t",
        "items": [{"id": 1, "content_html": ""}],
    }
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(feed, SCHEMA)


def test_all_formats_list_the_same_ids_newest_first(client, seeded) -> None:  # noqa: ANN001
    expected = [f"urn:uuid:{seeded[k].public_id}" for k in ("third", "tricky", "first")]
    for template in FEEDS[:1]:
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert _ids(client, template.format(name)) == expected
    assert _ids(client, "/feeds/tag/essays/atom.xml") == expected[1:]


def test_drafts_and_unpublished_articles_never_appear(client, seeded) -> None:  # noqa: ANN001
    hidden = {seeded["draft"].public_id, seeded["gone"].public_id}
    for template in FEEDS:
        for name in ("rss.xml", "atom.xml", "feed.json"):
            body = _get(client, template.format(name)).get_data(as_text=True)
            assert not any(public_id in body for public_id in hidden)
            assert "never shown" not in body


def test_ids_survive_title_slug_and_body_edits_while_updated_moves(
    client,
    seeded,
    session,  # noqa: ANN001
    clock,
) -> None:
    before = feedparser.parse(_get(client, "/feeds/atom.xml").data).entries
    rss_before = feedparser.parse(_get(client, "/feeds/rss.xml").data).entries
    json_before = json.loads(_get(client, "/feeds/feed.json").data)["items"]
    clock.advance(timedelta(hours=3))
    article = seeded["first"]
    articles.update_article(
        session,
        article,
        articles.ArticleInput(
            title="First light, retitled",
            body="<p>New body</p>",
            slug="first-light-moved",
            summary=article.summary,
            authors=["Ada Writer"],
            categories=["World"],
            tags=["Essays"],
        ),
        now=clock.now(),
    )
    session.commit()
    after = feedparser.parse(_get(client, "/feeds/atom.xml").data).entries
    rss_after = feedparser.parse(_get(client, "/feeds/rss.xml").data).entries
    json_after = json.loads(_get(client, "/feeds/feed.json").data)["items"]
    assert [e.id for e in after] == [e.id for e in before]
    assert [e.id for e in rss_after] == [e.id for e in rss_before]
    assert [i["id"] for i in json_after] == [i["id"] for i in json_before]
    old, new = before[-1], after[-1]
    assert new.title == "First light, retitled" and new.link.endswith("/first-light-moved")
    assert new.published == old.published
    assert new.updated_parsed > old.updated_parsed
    assert rss_after[-1].published == rss_before[-1].published
    assert json_after[-1]["date_modified"] > json_before[-1]["date_modified"]
    assert json_after[-1]["date_published"] == json_before[-1]["date_published"]
    assert len({e.id for e in after}) == len(after)


def test_rss_guid_is_not_a_permalink(client, seeded) -> None:  # noqa: ANN001
    root = etree.fromstring(_get(client, "/feeds/rss.xml").data)
    guids = root.findall("./channel/item/guid")
    assert guids and all(g.get("isPermaLink") == "false" for g in guids)
    assert all(g.text.startswith("urn:uuid:") for g in guids)


def test_titles_come_out_exactly_once_escaped(client, seeded) -> None:  # noqa: ANN001
    for name in ("rss.xml", "atom.xml"):
        titles = [e.title for e in feedparser.parse(_get(client, f"/feeds/{name}").data).entries]
        assert HOSTILE_TITLE in titles
        raw = _get(client, f"/feeds/{name}").get_data(as_text=True)
        assert "&amp;amp;" not in raw and "&amp;lt;" not in raw and "&#" not in raw
    items = json.loads(_get(client, "/feeds/feed.json").data)["items"]
    assert HOSTILE_TITLE in [i["title"] for i in items]


def test_dates_are_rfc822_in_rss_and_rfc3339_in_atom(client, seeded, clock) -> None:  # noqa: ANN001
    rss = etree.fromstring(_get(client, "/feeds/rss.xml").data)
    for date in rss.findall("./channel/item/pubDate") + rss.findall("./channel/lastBuildDate"):
        assert RSS_DATE.match(date.text), date.text
        assert date.text.endswith("+0000")
        assert parsedate_to_datetime(date.text) <= clock.now()
    atom = etree.fromstring(_get(client, "/feeds/atom.xml").data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for date in atom.findall(".//a:updated", ns) + atom.findall(".//a:published", ns):
        assert RFC3339.match(date.text), date.text


def test_content_urls_are_absolute_and_resolved_against_the_article(client, seeded) -> None:  # noqa: ANN001
    items = json.loads(_get(client, "/feeds/feed.json").data)["items"]
    tricky = next(i for i in items if i["title"] == HOSTILE_TITLE)
    html = lxml.html.fragment_fromstring(tricky["content_html"], create_parent="div")
    urls = [el.get(a) for el in html.iter() for a in ("href", "src", "cite") if el.get(a)]
    urls += [
        part.split()[0]
        for el in html.iter()
        if el.get("srcset")
        for part in el.get("srcset").split(",")
    ]
    assert urls and all(u.startswith("https://") for u in urls), urls
    base = tricky["url"]
    assert f"{SITE}/about" in urls and f"{SITE}/up" in urls
    assert base.rsplit("/", 1)[0] + "/pics/a.png" in urls
    assert f"{SITE}/pics/b.png" in urls and f"{SITE}/c.webp" in urls
    for name in ("rss.xml", "atom.xml"):
        entry = next(
            e
            for e in feedparser.parse(_get(client, f"/feeds/{name}").data).entries
            if e.title == HOSTILE_TITLE
        )
        assert 'href="/' not in entry.content[0].value


def test_hero_image_is_media_content_and_first_in_the_content(client, seeded) -> None:  # noqa: ANN001
    for name in ("rss.xml", "atom.xml"):
        raw = _get(client, f"/feeds/{name}").data
        root = etree.fromstring(raw)
        media = root.findall(".//{http://search.yahoo.com/mrss/}content")
        assert [(m.get("url"), m.get("medium"), m.get("type")) for m in media] == [
            ("https://cdn.example.test/hero.jpg", "image", "image/jpeg")
        ]
        assert root.find(".//{http://search.yahoo.com/mrss/}group") is None
        entry = next(e for e in feedparser.parse(raw).entries if e.title == HOSTILE_TITLE)
        first = lxml.html.fragment_fromstring(entry.content[0].value, create_parent="div")[0]
        assert first.tag == "figure"
        assert (first[0].tag, first[0].get("src"), first[0].get("alt")) == (
            "img",
            "https://cdn.example.test/hero.jpg",
            "A hero",
        )


def test_hostile_titles_and_bodies_never_reach_a_feed(client, make_article, session) -> None:  # noqa: ANN001
    article = make_article(
        title="<script>alert('t')</script>Breaking <iframe src=x></iframe>",
        body='<p onclick="x()">Hi<script>alert(1)</script><iframe src="https://evil.test/">'
        '</iframe><img src="x.png" onerror="alert(2)"><a href="javascript:alert(3)">'
        'click</a><style>p{}</style><object data="x"></object><svg onload="y()"></svg>'
        '<embed src="e"></p>',
    )
    # Rows written around the service (an import bug, a manual fix) must not get through either.
    article.body_html = (
        article.body_html + '<script>alert(4)</script><a href="javascript:z()">z</a>'
    )
    session.commit()
    for name in ("rss.xml", "atom.xml", "feed.json"):
        lowered = " ".join(_item_texts(_get(client, f"/feeds/{name}").data, name)).lower()
        for bad in (
            "<script",
            "iframe",
            "onerror",
            "onclick",
            "onload",
            "javascript:",
            "<style",
            "<object",
            "<embed",
            "<svg",
            "alert(",
        ):
            assert bad not in lowered, (name, bad)
    titles = [e.title for e in feedparser.parse(_get(client, "/feeds/atom.xml").data).entries]
    assert "Breaking" in titles


def _item_texts(raw: bytes, name: str) -> list[str]:
    """Every title, summary and content an item carries, unescaped once (what readers render)."""
    if name.endswith(".json"):
        return [
            str(item.get(f, ""))
            for item in json.loads(raw)["items"]
            for f in ("title", "summary", "content_html")
        ]
    root = etree.fromstring(raw)
    wanted = {
        "title",
        "description",
        "summary",
        "content",
        "{http://purl.org/rss/1.0/modules/content/}encoded",
        "{http://www.w3.org/2005/Atom}title",
        "{http://www.w3.org/2005/Atom}summary",
        "{http://www.w3.org/2005/Atom}content",
    }
    return [el.text or "" for el in root.iter() if el.tag in wanted]


def test_feeds_hold_the_newest_items_not_yet_archived(
    app,
    client,
    make_article,
    clock,  # noqa: ANN001
    session,
) -> None:
    app.config["FEED_ITEMS"] = 3
    made = []
    for _ in range(8):
        clock.advance(timedelta(minutes=1))
        made.append(make_article(published_at=clock.now()))
    session.commit()
    newest_first = [f"urn:uuid:{a.public_id}" for a in reversed(made)]
    # Eight in pages of three: one page could be archived, but a lone archive page links
    # nowhere, so the current feed holds all eight.
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert _ids(client, f"/feeds/{name}") == newest_first
        assert client.get(f"/feeds/archive/1/{name}").status_code == 404
    # A ninth: the oldest six fill two archive pages, the newest three are current.
    clock.advance(timedelta(minutes=1))
    made.append(make_article(published_at=clock.now()))
    session.commit()
    newest_first = [f"urn:uuid:{a.public_id}" for a in reversed(made)]
    for name in ("rss.xml", "atom.xml", "feed.json"):
        assert _ids(client, f"/feeds/{name}") == newest_first[:3]
        assert _ids(client, f"/feeds/archive/2/{name}") == newest_first[3:6]
        assert _ids(client, f"/feeds/archive/1/{name}") == newest_first[6:]


def test_unknown_subjects_answer_404(client, seeded) -> None:  # noqa: ANN001
    for path in (
        "/feeds/category/nope/rss.xml",
        "/feeds/tag/nope/atom.xml",
        "/feeds/author/nope/feed.json",
        "/feeds/category/BAD%20slug/rss.xml",
        "/feeds/category/" + "a" * 300 + "/rss.xml",
        "/feeds/archive/1/rss.xml",
        "/feeds/archive/99999999999/rss.xml",
        "/feeds/rss.json",
        "/feeds/person/ada-writer/rss.xml",
    ):
        assert client.get(path).status_code == 404, path


def test_opml_lists_every_feed_url(client, seeded) -> None:  # noqa: ANN001
    response = _get(client, "/feeds/opml.xml")
    root = etree.fromstring(response.data)
    urls = {o.get("xmlUrl") for o in root.iter("outline") if o.get("xmlUrl")}
    for template in FEEDS:
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert SITE + template.format(name) in urls


def test_discovery_links_list_site_and_article_category_feeds(app, seeded) -> None:  # noqa: ANN001
    with app.test_request_context("/"):
        html = render_template_string(
            '{% include "feeds/_discovery.html" %}', article=seeded["first"]
        )
        plain = render_template_string('{% include "feeds/_discovery.html" %}')
    assert f'href="{SITE}/feeds/rss.xml"' in html
    assert f'href="{SITE}/feeds/category/world/atom.xml"' in html
    assert 'type="application/feed+json"' in html
    assert "category/world" not in plain and f"{SITE}/feeds/atom.xml" in plain
    links = discovery_links(FeedSettings.from_config(app.config))
    assert len(links) == 3
