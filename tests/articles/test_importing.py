"""Importing from the publisher's site, against a real site served on 127.0.0.1."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.http import http_date

from syndicate import create_app
from syndicate.articles import importing, jobs
from syndicate.articles.import_fetch import SourceError
from syndicate.articles.import_match import ArticleIndex
from syndicate.articles.import_parse import parse_feed
from syndicate.articles.import_store import ArticleCreator, ImportFailure, ImportSummary
from syndicate.articles.models import Article, ArticleStatus, Source, SourceKind
from syndicate.clock import FixedClock
from syndicate.db import get_database
from syndicate.fetch import FetchedResponse, Fetcher
from syndicate.models import Event
from tests.articles.publisher_site import PublisherSite, Response
from tests.conftest import START, app_config


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"FETCH_MAX_BYTES": 200_000, "FETCH_TIMEOUT": 5}


@pytest.fixture
def fetcher(app: Flask) -> Fetcher:
    return app.extensions["fetcher"]


@pytest.fixture
def run_import(session: Session, fetcher: Fetcher, clock: FixedClock):  # noqa: ANN201
    def run(url: str, **options: object) -> ImportSummary:
        summary = importing.import_url(session, url, fetcher=fetcher, now=clock.now(), **options)
        session.flush()
        return summary

    return run


def articles(session: Session) -> list[Article]:
    session.expire_all()
    return list(session.scalars(select(Article).order_by(Article.published_at)))


def events(session: Session, kind: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))


def by_title(session: Session, title: str) -> Article:
    return session.scalars(select(Article).where(Article.title == title)).one()


# --- feeds --------------------------------------------------------------------------------


def test_feed_import_creates_published_articles_with_their_metadata(
    session, run_import, publisher_site: PublisherSite
):
    summary = run_import(f"{publisher_site.url}/feed.xml")

    assert (summary.new, summary.updated, summary.unchanged, summary.failed) == (3, 0, 0, 1)
    assert str(summary) == "3 new, 0 updated, 0 unchanged, 1 failed"
    quiet = by_title(session, "The “quiet” revolution — how feeds came back")
    assert quiet.status is ArticleStatus.PUBLISHED
    assert quiet.published_at == datetime(2026, 2, 2, 7, 30, tzinfo=UTC)
    assert [a.name for a in quiet.authors] == ["Zoë Šimić", "Łukasz Nowak"]
    assert [c.name for c in quiet.categories] == ["Culture"]
    assert sorted(t.name for t in quiet.tags) == ["feeds", "web"]
    assert quiet.slug == "quiet-revolution"
    assert quiet.canonical_url == publisher_site.link("quiet-revolution")
    assert quiet.source_guid == "urn:site:quiet-revolution"
    assert quiet.summary == "Why feeds matter again."
    assert "“I never left,” says Zoë." in quiet.body_html
    # Relative links in the content point at the publisher's site.
    assert f'href="{publisher_site.url}/articles/older-piece"' in quiet.body_html
    assert (
        f'srcset="{publisher_site.url}/images/inline.jpg 1x, '
        f'{publisher_site.url}/images/inline-2x.jpg 2x"'
    ) in quiet.body_html
    assert quiet.hero_image_url == f"{publisher_site.url}/images/quiet.jpg"
    # RSS has no alt text for media; the title stands in (services require one).
    assert quiet.hero_image_alt == quiet.title
    source = session.get(Source, summary.source_id)
    assert source.kind is SourceKind.FEED and quiet.source_id == source.id
    assert len(events(session, "article.published")) == 3


def test_feed_broken_item_is_reported_and_the_rest_imported(session, run_import, publisher_site):
    summary = run_import(f"{publisher_site.url}/feed.xml")

    assert summary.failures == [
        ImportFailure("urn:site:broken", "it has neither a title nor a link")
    ]
    assert len(articles(session)) == 3
    assert session.scalar(select(Article).where(Article.source_guid == "urn:site:broken")) is None


def test_feed_reimport_unchanged_changes_nothing_and_emits_nothing(
    session, run_import, publisher_site
):
    run_import(f"{publisher_site.url}/feed.xml")
    before = {a.id: (a.updated_at, a.content_hash) for a in articles(session)}
    event_count = session.scalar(select(func.count()).select_from(Event))

    summary = run_import(f"{publisher_site.url}/feed.xml")

    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 3)
    assert {a.id: (a.updated_at, a.content_hash) for a in articles(session)} == before
    assert session.scalar(select(func.count()).select_from(Event)) == event_count
    assert session.scalar(select(func.count()).select_from(Source)) == 1


def test_feed_changed_item_updates_its_article_with_one_event(
    session, run_import, publisher_site, clock
):
    run_import(f"{publisher_site.url}/feed.xml")
    publisher_site.articles["sailing-north"].body = "<p>Day one, rewritten.</p>"
    publisher_site.articles["budget-2026"].keywords = ["budget", "tax", "households"]
    clock.advance(timedelta(hours=1))

    summary = run_import(f"{publisher_site.url}/feed.xml")

    assert (summary.new, summary.updated, summary.unchanged) == (0, 2, 1)
    sailing = by_title(session, "Sailing north: a journal")
    assert sailing.body_html == "<p>Day one, rewritten.</p>"
    assert sailing.updated_at == clock.now()
    budget = by_title(session, "Budget 2026 explained")
    assert sorted(t.slug for t in budget.tags) == ["budget", "households", "tax"]
    updated = events(session, "article.updated")
    assert sorted(e.subject for e in updated) == sorted([sailing.public_id, budget.public_id])
    assert len(articles(session)) == 3


def test_feed_without_guids_matches_by_canonical_url(session, run_import, publisher_site):
    run_import(f"{publisher_site.url}/noguid.xml")
    publisher_site.articles["sailing-north"].title = "Sailing north: the whole journal"

    summary = run_import(f"{publisher_site.url}/noguid.xml")

    assert (summary.new, summary.updated, summary.unchanged) == (0, 1, 2)
    assert [a.title for a in articles(session)] == [
        "The “quiet” revolution — how feeds came back",
        "Sailing north: the whole journal",
        "Budget 2026 explained",
    ]
    assert all(a.source_guid is None for a in articles(session))


def test_feed_item_matches_an_article_written_here_by_canonical_url(
    session, run_import, publisher_site, make_article
):
    mine = make_article(
        title="Draft of sailing", canonical_url=publisher_site.link("sailing-north")
    )

    summary = run_import(f"{publisher_site.url}/feed.xml")

    assert (summary.new, summary.updated) == (2, 1)
    session.refresh(mine)
    assert mine.title == "Sailing north: a journal"
    assert mine.source_id == summary.source_id
    assert mine.source_guid == "urn:site:sailing-north"
    assert len(articles(session)) == 3


def test_feed_repeating_a_guid_makes_no_duplicate(session, run_import, publisher_site):
    feed = publisher_site.rss(broken=False)
    doubled = feed.replace(
        b"</channel>", feed[feed.index(b"<item>") : feed.index(b"</item>") + 7] + b"</channel>"
    )
    publisher_site.extra["/doubled.xml"] = Response(
        content_type="application/rss+xml", body=doubled
    )

    summary = run_import(f"{publisher_site.url}/doubled.xml")

    assert (summary.new, summary.unchanged, summary.failed) == (3, 1, 0)
    assert len(articles(session)) == 3


def test_feed_item_with_unreadable_date_or_overlong_title_is_skipped(
    session, run_import, publisher_site
):
    publisher_site.articles["sailing-north"].published = "the day after tomorrow"
    publisher_site.articles["budget-2026"].title = "B" * 501

    summary = run_import(f"{publisher_site.url}/feed.xml")

    reasons = {f.item: f.reason for f in summary.failures}
    assert reasons["urn:site:sailing-north"] == "its date 'the day after tomorrow' is not a date"
    assert reasons["urn:site:budget-2026"] == "A title has at most 500 characters."
    assert [a.slug for a in articles(session)] == ["quiet-revolution"]


def test_atom_feed_entries_inherit_the_feed_author(session, run_import, publisher_site):
    summary = run_import(f"{publisher_site.url}/atom.xml")

    assert (summary.new, summary.failed) == (3, 0)
    budget = by_title(session, "Budget 2026 explained")
    assert [a.name for a in budget.authors] == ["Redaktion Ünterwegs"]
    assert [c.name for c in budget.categories] == ["Politics"]
    assert budget.body_html == "<p>Numbers, plainly.</p><ul><li>One</li><li>Two</li></ul>"
    assert budget.source_guid == "tag:example.test,2026:budget-2026"


def test_feed_body_naming_a_local_file_is_parsed_not_opened(
    session, run_import, publisher_site, tmp_path
):
    local_feed = tmp_path / "local.xml"
    local_feed.write_bytes(publisher_site.rss())
    publisher_site.extra["/path.xml"] = Response(
        content_type="application/rss+xml", body=str(local_feed).encode()
    )

    with pytest.raises(SourceError, match="is not an RSS or Atom feed"):
        run_import(f"{publisher_site.url}/path.xml", kind="feed")
    assert articles(session) == []


def test_feed_followed_through_a_redirect_is_imported(session, run_import, publisher_site):
    summary = run_import(f"{publisher_site.url}/feed-moved")

    assert summary.new == 3
    assert session.get(Source, summary.source_id).url == f"{publisher_site.url}/feed-moved"


def test_feed_without_content_takes_the_page_body_only_when_asked(
    session, run_import, publisher_site
):
    feed = re.sub(
        rb"<content:encoded>.*?</content:encoded>",
        b"",
        publisher_site.rss(broken=False),
        flags=re.S,
    )
    publisher_site.extra["/summaries.xml"] = Response(content_type="application/rss+xml", body=feed)

    run_import(f"{publisher_site.url}/summaries.xml")

    assert by_title(session, "Sailing north: a journal").body_html == "A week on the water."
    assert publisher_site.requests == ["/summaries.xml"]

    summary = run_import(f"{publisher_site.url}/summaries.xml", fetch_pages=True)

    assert (summary.updated, summary.failed) == (3, 0)
    sailing = by_title(session, "Sailing north: a journal")
    assert sailing.body_html == "<p>Day one. The wind — finally — turned.</p>"
    assert sailing.summary == "A week on the water."


def test_batch_refused_by_the_database_is_stored_item_by_item(
    session, publisher_site, make_article, clock
):
    # Another writer took a slug after it was looked up: the batch insert fails.
    make_article(title="Someone else's", slug="sailing-north")
    source = Source(
        url=f"{publisher_site.url}/feed.xml", kind=SourceKind.FEED, created_at=clock.now()
    )
    session.add(source)
    session.flush()
    summary = ImportSummary(source_id=source.id)
    index = ArticleIndex(session, source)
    creator = ArticleCreator(session, index, summary, source=source, now=clock.now(), actor_id=None)
    creator.slugs.checked.add("sailing-north")
    items = parse_feed(publisher_site.rss(broken=False), url=source.url)

    for item in items:
        creator.add(item)
    creator.flush()

    assert (summary.new, summary.failed) == (3, 0)
    slugs = session.scalars(select(Article.slug).where(Article.source_id == source.id)).all()
    assert sorted(slugs) == ["budget-2026", "quiet-revolution", "sailing-north-2"]
    assert len(events(session, "article.published")) == 4


# --- refusals -----------------------------------------------------------------------------


def test_redirect_to_metadata_address_is_refused_and_stores_nothing(
    session, run_import, publisher_site
):
    with pytest.raises(SourceError) as refused:
        run_import(f"{publisher_site.url}/to-metadata")

    assert str(refused.value) == ("169.254.169.254 is not a public address; fetching it is refused")
    assert articles(session) == []
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_oversized_body_is_refused_and_stores_nothing(session, run_import, publisher_site):
    with pytest.raises(SourceError, match="more than 200000"):
        run_import(f"{publisher_site.url}/huge.xml")

    assert articles(session) == []
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_unrecognised_document_is_refused(session, run_import, publisher_site):
    publisher_site.extra["/data.json"] = Response(
        content_type="application/json", body=b'{"items": []}'
    )

    with pytest.raises(SourceError, match="not an RSS or Atom feed, a sitemap"):
        run_import(f"{publisher_site.url}/data.json")


# --- sitemaps and pages -------------------------------------------------------------------


def test_sitemap_imports_pages_with_json_ld_and_open_graph(session, run_import, publisher_site):
    summary = run_import(f"{publisher_site.url}/sitemap.xml")

    assert (summary.new, summary.failed) == (4, 0)
    assert session.get(Source, summary.source_id).kind is SourceKind.SITEMAP
    quiet = by_title(session, "The “quiet” revolution — how feeds came back")
    assert quiet.summary == "Why feeds matter again."
    assert [a.name for a in quiet.authors] == ["Zoë Šimić", "Łukasz Nowak"]
    assert [c.name for c in quiet.categories] == ["Culture"]
    assert sorted(t.name for t in quiet.tags) == ["feeds", "web"]
    assert quiet.published_at == datetime(2026, 2, 2, 7, 30, tzinfo=UTC)
    assert quiet.canonical_url == publisher_site.link("quiet-revolution")
    assert quiet.hero_image_url == f"{publisher_site.url}/images/quiet.jpg"
    assert quiet.hero_image_alt == "A reader holding a tablet"
    # The readable body: the article's text without page chrome, scripts or forms.
    assert "“I never left,” says Zoë." in quiet.body_html
    assert f'src="{publisher_site.url}/images/inline.jpg"' in quiet.body_html
    assert f'{publisher_site.url}/images/inline-2x.jpg 2x"' in quiet.body_html
    for chrome in ("Home", "Related", "Share this", "alert", "subscribe", "By someone"):
        assert chrome not in quiet.body_html
    og_only = by_title(session, "Only OpenGraph here")
    assert og_only.summary == "Described by OpenGraph alone."
    assert [a.name for a in og_only.authors] == ["Mira Čolak"]
    assert [c.name for c in og_only.categories] == ["Science"]
    assert sorted(t.name for t in og_only.tags) == ["rockets", "space"]
    assert og_only.published_at == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    assert og_only.body_html == "<h2>Launch day</h2><p>The rocket rose at dawn.</p>"


def test_sitemap_index_follows_its_child_sitemaps(session, run_import, publisher_site):
    summary = run_import(f"{publisher_site.url}/sitemap_index.xml")

    assert (summary.new, summary.failed) == (3, 0)
    assert {"/sitemap-1.xml", "/sitemap-2.xml"} <= set(publisher_site.requests)


def test_sitemap_reimport_skips_pages_not_modified_since(
    session, run_import, publisher_site, clock
):
    run_import(f"{publisher_site.url}/sitemap.xml")
    publisher_site.requests.clear()

    summary = run_import(f"{publisher_site.url}/sitemap.xml")

    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 4)
    assert publisher_site.requests == ["/sitemap.xml"]
    publisher_site.sitemap_lastmod = (clock.now() + timedelta(minutes=5)).isoformat()
    publisher_site.articles["budget-2026"].body = "<p>Numbers, corrected.</p>"
    clock.advance(timedelta(minutes=10))

    summary = run_import(f"{publisher_site.url}/sitemap.xml")

    assert (summary.updated, summary.unchanged) == (1, 3)
    assert by_title(session, "Budget 2026 explained").body_html == "<p>Numbers, corrected.</p>"


def test_sitemap_and_feed_of_one_site_share_articles(session, run_import, publisher_site):
    run_import(f"{publisher_site.url}/sitemap.xml")

    summary = run_import(f"{publisher_site.url}/feed.xml")

    assert summary.new == 0
    assert len(articles(session)) == 4


def test_single_page_is_recognised_and_imported(session, run_import, publisher_site):
    url = publisher_site.link("sailing-north")

    summary = run_import(url)

    assert summary.new == 1
    assert session.get(Source, summary.source_id).kind is SourceKind.PAGE
    article = by_title(session, "Sailing north: a journal")
    assert article.body_html == "<p>Day one. The wind — finally — turned.</p>"
    assert run_import(url).unchanged == 1


def test_sitemap_page_that_cannot_be_fetched_is_reported(session, run_import, publisher_site):
    publisher_site.extra["/articles/sailing-north"] = Response(status=500, body=b"oops")

    summary = run_import(f"{publisher_site.url}/sitemap.xml")

    assert summary.new == 3
    assert [f.reason for f in summary.failures] == [
        f"{publisher_site.link('sailing-north')} answered HTTP 500"
    ]


# --- the command --------------------------------------------------------------------------


def test_cli_import_prints_the_summary_and_failures(runner, session, publisher_site):
    result = runner.invoke(args=["import", f"{publisher_site.url}/feed.xml"])

    assert result.exit_code == 0, result.output
    assert "3 new, 0 updated, 0 unchanged, 1 failed" in result.output
    assert "urn:site:broken: it has neither a title nor a link" in result.output
    assert len(articles(session)) == 3


def test_cli_import_refused_fetch_exits_with_the_guard_message(runner, session, publisher_site):
    result = runner.invoke(args=["import", f"{publisher_site.url}/to-metadata"])

    assert result.exit_code == 1
    assert "169.254.169.254 is not a public address; fetching it is refused" in result.output
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_cli_import_every_schedules_the_source(runner, session, publisher_site, clock):
    result = runner.invoke(args=["import", f"{publisher_site.url}/feed.xml", "--every", "30"])

    assert result.exit_code == 0, result.output
    source = session.scalars(select(Source)).one()
    assert source.interval_minutes == 30
    assert source.next_sync_at == clock.now() + timedelta(minutes=30)
    assert source.last_result["new"] == 3


# --- periodic sync ------------------------------------------------------------------------


def add_source(session: Session, url: str, *, due_at: datetime, every: int = 60) -> Source:
    source = Source(
        url=url,
        kind=SourceKind.FEED,
        interval_minutes=every,
        next_sync_at=due_at,
        created_at=due_at,
    )
    session.add(source)
    session.commit()
    return source


def test_sync_due_imports_a_due_source_and_schedules_the_next(app, session, publisher_site, clock):
    source = add_source(
        session, f"{publisher_site.url}/feed.xml", due_at=clock.now() - timedelta(minutes=1)
    )

    report = jobs.sync_due_sources(app)

    assert report == f"{source.url}: 3 new, 0 updated, 0 unchanged, 1 failed"
    session.expire_all()
    assert source.last_synced_at == clock.now()
    assert source.next_sync_at == clock.now() + timedelta(minutes=60)
    assert source.last_result["failures"] == [
        {"item": "urn:site:broken", "reason": "it has neither a title nor a link"}
    ]
    assert len(articles(session)) == 3


def test_sync_due_leaves_a_source_that_is_not_due(app, session, publisher_site, clock):
    later = clock.now() + timedelta(minutes=5)
    source = add_source(session, f"{publisher_site.url}/feed.xml", due_at=later)

    assert jobs.sync_due_sources(app) == "no source due"

    session.expire_all()
    assert source.next_sync_at == later and source.last_synced_at is None
    assert publisher_site.requests == []


def test_sync_due_records_a_source_that_fails(app, session, publisher_site, clock):
    source = add_source(session, f"{publisher_site.url}/to-metadata", due_at=clock.now())

    report = jobs.sync_due_sources(app)

    assert "failed: 169.254.169.254 is not a public address" in report
    session.expire_all()
    assert source.last_result["error"].startswith("169.254.169.254 is not a public address")
    assert source.next_sync_at == clock.now() + timedelta(minutes=60)


def test_cli_sources_sync_runs_the_due_sources(runner, session, publisher_site, clock):
    source = add_source(session, f"{publisher_site.url}/feed.xml", due_at=clock.now())

    result = runner.invoke(args=["sources", "sync"])

    assert result.exit_code == 0, result.output
    assert f"{source.url}: 3 new, 0 updated, 0 unchanged, 1 failed" in result.output


def test_a_due_source_is_claimed_by_one_scheduler_only(app, session, publisher_site, clock):
    source = add_source(session, f"{publisher_site.url}/feed.xml", due_at=clock.now())

    assert jobs._claim(app, source.id, clock.now()) is True
    assert jobs._claim(app, source.id, clock.now()) is False
    # Claimed elsewhere meanwhile: this scheduler's tick finds nothing left to do.
    assert jobs.sync_due_sources(app) == "no source due"


# --- the Sources page ---------------------------------------------------------------------


def test_sources_page_sends_anonymous_visitors_to_login(client):
    response = client.get("/dashboard/sources/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_sources_page_lists_sources_with_their_last_result(
    client, login, make_user, session, fetcher, clock, publisher_site
):
    importing.import_source(
        session, f"{publisher_site.url}/feed.xml", fetcher=fetcher, now=clock.now()
    )
    session.commit()
    login(make_user())

    page = client.get("/dashboard/sources/").get_data(as_text=True)

    assert f"{publisher_site.url}/feed.xml" in page
    assert "3 new, 0 updated, 0 unchanged, 1 failed" in page
    assert "Sync now" in page


def test_sources_page_empty_says_what_to_do(client, login, make_user):
    login(make_user())

    page = client.get("/dashboard/sources/").get_data(as_text=True)

    assert "No sources yet" in page


def test_editor_adds_a_source_and_its_articles_are_imported(
    client, login, make_user, session, publisher_site
):
    login(make_user())

    response = client.post(
        "/dashboard/sources/",
        data={"url": f"{publisher_site.url}/feed.xml", "kind": "auto", "interval": "120"},
    )

    assert response.status_code == 303
    source = session.scalars(select(Source)).one()
    assert (source.kind, source.interval_minutes) == (SourceKind.FEED, 120)
    assert len(articles(session)) == 3
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Imported" in detail and "it has neither a title nor a link" in detail


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.test/feed.xml", "Give the absolute http(s) address"),
        ("/to-metadata", "169.254.169.254 is not a public address"),
    ],
)
def test_adding_a_bad_source_answers_422_and_stores_nothing(
    client, login, make_user, session, publisher_site, url, message
):
    login(make_user())
    if url.startswith("/"):
        url = publisher_site.url + url

    response = client.post("/dashboard/sources/", data={"url": url, "kind": "auto"})

    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_adding_a_source_with_a_bad_interval_answers_422(
    client, login, make_user, session, publisher_site
):
    login(make_user())

    response = client.post(
        "/dashboard/sources/",
        data={"url": f"{publisher_site.url}/feed.xml", "kind": "auto", "interval": "1"},
    )

    assert response.status_code == 422
    assert session.scalar(select(func.count()).select_from(Source)) == 0


def test_sync_now_imports_and_shows_the_summary(
    client, login, make_user, session, publisher_site, clock
):
    source = add_source(
        session, f"{publisher_site.url}/feed.xml", due_at=clock.now() + timedelta(days=1)
    )
    login(make_user())

    response = client.post(f"/dashboard/sources/{source.id}/sync", follow_redirects=True)

    assert response.status_code == 200
    assert f"Synced {source.url}: 3 new, 0 updated, 0 unchanged, 1 failed." in response.get_data(
        as_text=True
    )
    assert len(articles(session)) == 3


def test_sync_now_of_a_failing_source_shows_why(
    client, login, make_user, session, publisher_site, clock
):
    source = add_source(session, f"{publisher_site.url}/huge.xml", due_at=clock.now())
    login(make_user())

    page = client.post(f"/dashboard/sources/{source.id}/sync", follow_redirects=True).get_data(
        as_text=True
    )

    assert "Could not sync" in page and "more than 200000" in page
    session.expire_all()
    assert "more than 200000" in source.last_result["error"]


def test_deleting_a_source_keeps_its_articles(
    client, login, make_user, session, run_import, publisher_site
):
    summary = run_import(f"{publisher_site.url}/feed.xml")
    session.commit()
    login(make_user())

    response = client.post(f"/dashboard/sources/{summary.source_id}/delete")

    assert response.status_code == 303
    assert session.scalar(select(func.count()).select_from(Source)) == 0
    assert [a.source_id for a in articles(session)] == [None, None, None]


def test_unknown_source_is_404(client, login, make_user):
    login(make_user())

    assert client.get("/dashboard/sources/999").status_code == 404
    assert client.post("/dashboard/sources/999/sync").status_code == 404


class RecordingFetcher(Fetcher):
    """The real URL guard, remembering every URL it was asked to get."""

    def __init__(self) -> None:
        super().__init__(allow_private=True, timeout=5)
        self.asked: list[str] = []

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> FetchedResponse:
        self.asked.append(url)
        return super().get(url, headers=headers)


def test_the_import_command_and_the_sync_job_fetch_through_the_fetcher_the_app_was_given(
    fresh_database, tmp_path, publisher_site
):
    fetcher, clock = RecordingFetcher(), FixedClock(START)
    app = create_app(
        app_config(
            fresh_database,
            INSTANCE_PATH=str(tmp_path / "instance"),
            CLOCK=clock,
            FETCHER_OBJECT=fetcher,
        )
    )
    url = f"{publisher_site.url}/feed.xml"

    imported = app.test_cli_runner().invoke(args=["import", url, "--every", "30"])
    clock.advance(timedelta(minutes=30))
    report = jobs.sync_due_sources(app)
    get_database(app).engine.dispose()

    assert imported.exit_code == 0, imported.output
    assert report == f"{url}: 0 new, 0 updated, 3 unchanged, 1 failed"
    assert fetcher.asked == [url, url]


def test_two_schedulers_ticking_at_once_sync_a_due_source_once(
    fresh_database, tmp_path, publisher_site
):
    app = create_app(
        app_config(
            fresh_database, INSTANCE_PATH=str(tmp_path / "instance"), CLOCK=FixedClock(START)
        )
    )
    database = get_database(app)
    url = f"{publisher_site.url}/feed.xml"
    with database.sessions() as session:
        add_source(session, url, due_at=START)
    start_together = threading.Barrier(2)
    reports: list[str] = []

    def tick() -> None:
        start_together.wait()
        reports.append(jobs.sync_due_sources(app))

    schedulers = [threading.Thread(target=tick) for _ in range(2)]
    for scheduler in schedulers:
        scheduler.start()
    for scheduler in schedulers:
        scheduler.join(timeout=60)

    assert sorted(reports) == sorted(
        ["no source due", f"{url}: 3 new, 0 updated, 0 unchanged, 1 failed"]
    )
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 3
    database.engine.dispose()


# --- dates, repeats and links as feed readers see them -----------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"


def atom_feeds(client) -> dict[str, bytes]:  # noqa: ANN001
    """Every Atom feed the OPML lists, fetched as a feed reader would."""
    opml = etree.fromstring(client.get("/feeds/opml.xml").data)
    urls = [
        o.get("xmlUrl")
        for o in opml.iter("outline")
        if (o.get("xmlUrl") or "").endswith("atom.xml")
    ]
    feeds = {}
    for url in urls:
        response = client.get(url.removeprefix("https://news.example.test"))
        assert response.status_code == 200, url
        feeds[url] = response.data
    return feeds


def entry_dates(feed: bytes, name: str) -> list[str]:
    return [e.findtext(f"{ATOM}{name}") for e in etree.fromstring(feed).iter(f"{ATOM}entry")]


def test_feeds_after_an_import_never_repeat_an_entry_updated_time(
    client, session, run_import, publisher_site, make_article, clock
):
    make_article(title="Written here", authors=["Ada Writer"])
    # Items published in the same second, and one without any date.
    for slug in ("quiet-revolution", "sailing-north"):
        publisher_site.articles[slug].published = "Wed, 18 Feb 2026 07:00:00 +0000"
    publisher_site.articles["budget-2026"].published = ""
    clock.advance(timedelta(minutes=5))

    summary = run_import(f"{publisher_site.url}/feed.xml")
    session.commit()

    assert summary.new == 3
    feeds = atom_feeds(client)
    assert len(feeds) >= 12  # the site, and per category, tag and author
    for url, feed in feeds.items():
        updated = entry_dates(feed, "updated")
        assert len(updated) == len(set(updated)), (url, updated)
    # The source's own times, not the import's; entries of one second keep that second.
    site = entry_dates(feeds["https://news.example.test/feeds/atom.xml"], "updated")
    assert sorted(site)[0].startswith("2026-02-18T07:00:00.")
    assert sum(u.startswith("2026-02-18T07:00:00") for u in site) == 3
    feed_updated = etree.fromstring(feeds["https://news.example.test/feeds/atom.xml"])
    assert feed_updated.findtext(f"{ATOM}updated") == clock.now().isoformat()


def test_importing_older_articles_still_moves_the_feeds_last_modified(
    client, session, run_import, publisher_site, make_article, clock
):
    make_article(title="Written here")
    session.commit()
    before = client.get("/feeds/atom.xml")
    clock.advance(timedelta(hours=1))

    run_import(f"{publisher_site.url}/feed.xml")
    session.commit()

    again = client.get(
        "/feeds/atom.xml", headers={"If-Modified-Since": before.headers["Last-Modified"]}
    )
    assert again.status_code == 200
    assert again.headers["Last-Modified"] == http_date(clock.now())


def test_syncing_an_unchanged_feed_that_repeats_a_guid_changes_nothing(
    client, runner, session, publisher_site, clock
):
    # WordPress after a migration: two different posts under one guid.
    feed = publisher_site.rss(broken=False).replace(
        b"urn:site:sailing-north", b"urn:site:quiet-revolution"
    )
    publisher_site.extra["/wp.xml"] = Response(content_type="application/rss+xml", body=feed)
    source = add_source(session, f"{publisher_site.url}/wp.xml", due_at=clock.now())
    first = runner.invoke(args=["sources", "sync"])
    assert f"{source.url}: 3 new, 0 updated, 0 unchanged, 0 failed" in first.output

    def state() -> tuple[object, ...]:
        session.expire_all()
        rows = [(a.id, a.title, a.updated_at, a.content_hash) for a in articles(session)]
        feed = client.get("/feeds/atom.xml")
        return (
            rows,
            session.scalar(select(func.count()).select_from(Event)),
            feed.headers["ETag"],
            feed.headers["Last-Modified"],
        )

    before = state()
    clock.advance(timedelta(hours=1))

    second = runner.invoke(args=["sources", "sync"])

    assert f"{source.url}: 0 new, 0 updated, 3 unchanged, 0 failed" in second.output
    assert state() == before
    assert sorted(title for _, title, _, _ in before[0]) == [
        "Budget 2026 explained",
        "Sailing north: a journal",
        "The “quiet” revolution — how feeds came back",
    ]


def test_entity_encoded_links_in_imported_content_are_decoded_before_resolving(
    client, session, run_import, publisher_site
):
    publisher_site.articles["sailing-north"].body = (
        '<p><a href="&#106;avascript:alert(1)">trap</a> '
        '<a href="http&#58;//example.com/x">elsewhere</a> '
        "<a href='&#x2F;path?a=1&amp;b=2'>here</a> "
        '<img src="&#x2F;pics/a.png" alt="A"></p>'
    )

    run_import(f"{publisher_site.url}/feed.xml")
    session.commit()

    page = client.get("/articles/sailing-north").get_data(as_text=True)
    feed = client.get("/feeds/feed.json").get_json()
    content = next(i["content_html"] for i in feed["items"] if "trap" in i["content_html"])
    for html in (page, content):
        assert "javascript" not in html
        assert '<a rel="noopener noreferrer">trap</a>' in html
        assert 'href="http://example.com/x"' in html
        assert f'href="{publisher_site.url}/path?a=1&amp;b=2"' in html
        assert f'src="{publisher_site.url}/pics/a.png"' in html


def test_undated_items_take_their_pages_date_or_their_place_in_the_source(
    runner, client, login, make_user, make_article, session, publisher_site, clock
):
    newest_here = make_article(title="Written here")
    site = publisher_site.articles
    # Newest first, as feeds are: budget, then sailing and quiet without a date.
    publisher_site.articles = {
        slug: site[slug] for slug in ("budget-2026", "sailing-north", "quiet-revolution")
    }
    site["sailing-north"].published = site["quiet-revolution"].published = ""
    # Quiet's page has a date (JSON-LD); sailing's page has none.
    publisher_site.extra["/articles/sailing-north"] = Response(
        body=b"<html><head><title>Sailing</title></head><body><p>Day one.</p></body></html>"
    )
    clock.advance(timedelta(hours=1))

    result = runner.invoke(args=["import", f"{publisher_site.url}/feed.xml"])

    assert result.exit_code == 0, result.output
    assert (
        "3 new, 0 updated, 0 unchanged, 1 failed; 1 item had no date; placed by their "
        "order in the source."
    ) in result.output
    budget = by_title(session, "Budget 2026 explained")
    sailing = by_title(session, "Sailing north: a journal")
    quiet = by_title(session, "The “quiet” revolution — how feeds came back")
    assert quiet.published_at == datetime(2026, 2, 2, 7, 30, tzinfo=UTC)
    assert budget.published_at - timedelta(seconds=1) == sailing.published_at
    feed = client.get("/feeds/feed.json").get_json()
    assert [i["id"] for i in feed["items"]] == [
        f"urn:uuid:{a.public_id}" for a in (newest_here, budget, sailing, quiet)
    ]
    login(make_user())
    sources = client.get("/dashboard/sources/").get_data(as_text=True)
    assert "1 item had no date; placed by their order in the source" in sources


@pytest.mark.parametrize("every", ["4", "10081"])
def test_cli_import_every_outside_five_minutes_to_a_week_is_refused(
    runner, session, publisher_site, every
):
    result = runner.invoke(args=["import", f"{publisher_site.url}/feed.xml", "--every", every])

    assert result.exit_code == 1
    assert "The interval is 5 to 10080 minutes (a week), or empty to sync only by hand." in (
        result.output
    )
    assert session.scalar(select(func.count()).select_from(Source)) == 0
    assert publisher_site.requests == []
