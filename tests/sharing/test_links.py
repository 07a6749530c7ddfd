"""Tracked share links: redirect with UTM, count people once a day, never bots or caches."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from syndicate.sharing import jobs, visits
from syndicate.sharing.context import SYSTEM, Sharing
from syndicate.sharing.deciding import revoke
from syndicate.sharing.models import ShareVisitDay, ShareVisitor
from tests.sharing.conftest import CANONICAL, pending_request

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE_LINKEDIN_APP = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15"
    " (KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.8730"
)


@pytest.fixture
def link(session, app, article, clock):  # noqa: ANN001, ANN201
    request = pending_request(session, app, article, clock, kind="link")
    return request.permission.link


def _visit(client, link, agent=FIREFOX, ip="203.0.113.7", method="get"):  # noqa: ANN001, ANN202
    return getattr(client, method)(
        f"/s/{link.code}", headers={"User-Agent": agent}, environ_base={"REMOTE_ADDR": ip}
    )


def _count(session, link) -> int:  # noqa: ANN001
    session.expire_all()
    return visits.visits_for_link(session, link.id)


def test_share_link_redirects_to_the_canonical_url_with_utm_and_no_store(client, link):
    response = _visit(client, link)
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == CANONICAL
    assert parse_qs(target.query) == {
        "utm_source": ["linkedin_profile"],
        "utm_medium": ["share"],
        "utm_campaign": [f"permission-{link.permission.public_id}"],
    }


def test_a_visitor_counts_once_a_day_and_bots_never(client, session, clock, link):
    assert _visit(client, link).status_code == 302
    assert _count(session, link) == 1
    _visit(client, link)  # the same person again today
    assert _count(session, link) == 1
    for bot in (
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "facebookexternalhit/1.1",
        "Slackbot-LinkExpanding 1.0",
        "Mozilla/5.0 (compatible; Googlebot/2.1)",
        "curl/8.5.0",
        "python-requests/2.32",
        "Mozilla/5.0 HeadlessChrome/126.0",
        "",
    ):
        assert _visit(client, link, agent=bot, ip="198.51.100.9").status_code == 302
    assert _count(session, link) == 1
    assert _visit(client, link, method="head", ip="198.51.100.10").status_code == 302
    assert _count(session, link) == 1
    # Another person, and a person in LinkedIn's in-app browser, count.
    _visit(client, link, ip="198.51.100.11")
    _visit(client, link, agent=IPHONE_LINKEDIN_APP, ip="198.51.100.12")
    assert _count(session, link) == 3
    # The next day the first person counts again.
    clock.advance(timedelta(days=1))
    _visit(client, link)
    assert _count(session, link) == 4


def test_no_ip_address_is_stored_and_hashes_change_daily(client, session, clock, link):
    _visit(client, link, ip="203.0.113.77")
    clock.advance(timedelta(days=1))
    _visit(client, link, ip="203.0.113.77")
    rows = session.scalars(select(ShareVisitor)).all()
    assert len(rows) == 2 and rows[0].visitor_hash != rows[1].visitor_hash
    assert all("203.0.113.77" not in r.visitor_hash for r in rows)
    assert len(rows[0].visitor_hash) == 32


def test_revoked_link_still_redirects_but_no_longer_counts(client, session, app, clock, link):
    ctx = Sharing.for_app(app)
    revoke(session, link.permission.request, "gone", actor=SYSTEM, now=clock.now(), ctx=ctx)
    session.commit()
    response = _visit(client, link)
    assert response.status_code == 302 and response.headers["Location"].startswith(CANONICAL)
    assert _count(session, link) == 0


def test_unknown_or_malformed_codes_are_404(client):
    for code in ("nope", "x" * 40, "bad%20code", "a.b"):
        assert client.get(f"/s/{code}").status_code == 404


def test_folding_keeps_totals_and_deletes_past_hashes(client, session, clock, link):
    _visit(client, link, ip="192.0.2.1")
    _visit(client, link, ip="192.0.2.2")
    clock.advance(timedelta(days=1))
    _visit(client, link, ip="192.0.2.1")
    assert visits.fold_visits(session, now=clock.now()) == 2
    session.commit()
    assert [(r.day, r.visits) for r in session.scalars(select(ShareVisitDay))] == [
        (date(2026, 3, 2), 2)
    ]
    assert {r.day for r in session.scalars(select(ShareVisitor))} == {date(2026, 3, 3)}
    assert _count(session, link) == 3
    assert visits.fold_visits(session, now=clock.now()) == 0
    clock.advance(timedelta(days=1))
    assert visits.fold_visits(session, now=clock.now()) == 1
    assert _count(session, link) == 3


def test_chart_and_top_sharers_for_grant_and_article(
    client, session, app, article, clock, link, staff_user
):
    second = pending_request(
        session, app, article, clock, kind="link", email="b@example.org", name="Bea Sharer"
    ).permission.link
    for i in range(3):
        _visit(client, second, ip=f"192.0.2.{i}")
    _visit(client, link, ip="192.0.2.50")
    clock.advance(timedelta(days=1))
    _visit(client, link, ip="192.0.2.50")

    chart = visits.recent_chart(session, now=clock.now(), article_id=article.id)
    assert chart.total == 5 and chart.peak == 4
    assert [b.value for b in chart.bars[-2:]] == [4, 1]
    assert chart.bars[-2].height > chart.bars[-1].height > 0
    sharers = visits.top_sharers(session, article_id=article.id)
    assert [(s.permission.grantee_name, s.visits) for s in sharers] == [
        ("Bea Sharer", 3),
        ("Ada Reader", 2),
    ]

    staff_user()
    page = client.get("/dashboard/sharing/stats", query_string={"article": article.id})
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in text and 'class="bar"' in text and "5 visits" in text
    assert text.index("Bea Sharer") < text.index("Ada Reader")
    detail = client.get(f"/dashboard/sharing/{link.permission.request_id}").get_data(as_text=True)
    assert "2 visits in all" in detail and "<svg" in detail
    assert client.get("/dashboard/sharing/stats?article=999999").status_code == 404
    private_page_count = client.get(
        Sharing.for_app(app).private_url(second.permission.request).split("news.example.test", 1)[1]
    ).get_data(as_text=True)
    assert "3 visits through your link" in private_page_count


def test_empty_stats_say_what_to_do(client, staff_user):
    staff_user()
    text = client.get("/dashboard/sharing/stats").get_data(as_text=True)
    assert "No visits through tracked links yet" in text


@pytest.mark.parametrize(
    "agent, bot",
    [
        ("LinkedInBot/1.0", True),
        ("Twitterbot/1.0", True),
        ("Mozilla/5.0 (compatible; bingbot/2.0)", True),
        ("WhatsApp/2.23.20.0", True),
        ("Wget/1.21", True),
        ("", True),
        (None, True),
        (FIREFOX, False),
        (IPHONE_LINKEDIN_APP, False),
    ],
)
def test_is_bot(agent, bot):
    assert visits.is_bot(agent) is bot


def test_buffered_recorder_writes_batches_once_per_visitor_across_processes(
    fresh_database, tmp_path
):
    """Web processes hand visits to a recorder that writes them each second; two processes
    seeing the same visitor still count them once (the database decides)."""
    import time

    from syndicate import create_app
    from syndicate.clock import FixedClock
    from tests import factories
    from tests.conftest import START, app_config
    from tests.sharing.conftest import count_visits_at_once

    clock = FixedClock(START)
    app = count_visits_at_once(
        create_app(app_config(fresh_database, INSTANCE_PATH=str(tmp_path / "i"), CLOCK=clock)),
        visit_flush_seconds=0.05,
    )
    database = app.extensions["database"]
    try:
        with database.sessions() as session:
            article = factories.make_article(session, now=clock.now())
            session.commit()
            link = pending_request(session, app, article, clock, kind="link").permission.link
            code, link_id = link.code, link.id
        client = app.test_client()
        for ip in ("192.0.2.1", "192.0.2.2", "192.0.2.1"):
            assert (
                client.get(
                    f"/s/{code}", headers={"User-Agent": FIREFOX}, environ_base={"REMOTE_ADDR": ip}
                ).status_code
                == 302
            )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with database.sessions() as session:
                if visits.visits_for_link(session, link_id) == 2:
                    break
            time.sleep(0.02)
        # Another process (its own recorder) sees the first visitor again, and a new one.
        other = jobs.VisitRecorder(database, clock.now, interval=0)
        day = clock.now().date()
        secret = app.config["SECRET_KEY"]
        other.add(link_id, day, visits.visitor_hash(secret, day, "192.0.2.1", FIREFOX))
        other.add(link_id, day, visits.visitor_hash(secret, day, "192.0.2.3", FIREFOX))
        with database.sessions() as session:
            assert visits.visits_for_link(session, link_id) == 3
    finally:
        jobs.tracking_for(app).recorder.close()
        database.engine.dispose()


def test_recorder_keeps_visits_when_the_database_fails_and_drops_beyond_its_bound(clock):
    class Down:
        def write_transaction(self):  # noqa: ANN202
            raise RuntimeError("database is away")

    recorder = jobs.VisitRecorder(Down(), clock.now, interval=0, max_pending=2)
    day = clock.now().date()
    for visitor in ("a", "b", "c"):
        recorder.add(1, day, visitor)  # each add tries to write, fails, keeps the visits
    assert recorder.dropped == 1
    assert sorted(recorder._pending) == [(1, day, "a"), (1, day, "b")]
