"""How posts did: the analytics page, its CSV, and the figures on post and article pages."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from syndicate.linkedin.models import (
    PostStatSample,
    PostStatState,
    StatRefresh,
    StatSource,
    TargetKind,
)
from tests import factories

FIGURES = ("impressions", "clicks", "reactions", "comments", "reposts")


@pytest.fixture
def editor(staff_user):
    return staff_user(email="editor@example.test", time_zone="Europe/Berlin")


@pytest.fixture
def page_target(make_target):
    return make_target(
        urn="urn:li:organization:1001",
        kind=TargetKind.ORGANIZATION,
        display_name="Sandbox Magazine",
    )


@pytest.fixture
def published_with_figures(app, session, clock, make_article):
    """A published post with samples taken at `hours` after publishing (figures grow)."""

    def make(
        target,
        *,
        title="An article",
        ago=timedelta(days=3),
        figures=(1000, 30, 50, 5, 2),
        hours=(1, 2, 24),
        source=StatSource.ORGANIZATION,
    ):
        article = make_article(title=title)
        post = factories.make_post(
            session,
            article=article,
            target=target,
            now=clock.now(),
            site_url=app.config["SITE_URL"],
        )
        published_at = clock.now() - ago
        factories.record_published(
            session,
            post,
            now=clock.now(),
            published_at=published_at,
            urn=f"urn:li:share:{7000 + post.id}",
        )
        values = dict(zip(FIGURES, figures, strict=True))
        if source is StatSource.SOCIAL_ACTIONS:
            values.update(impressions=None, clicks=None, reposts=None)
        for n, hour in enumerate(hours, start=1):
            share = n / len(hours)
            session.add(
                PostStatSample(
                    post_id=post.id,
                    taken_at=published_at + timedelta(hours=hour),
                    source=source,
                    **{k: None if v is None else int(v * share) for k, v in values.items()},
                )
            )
        last = published_at + timedelta(hours=hours[-1]) if hours else None
        session.add(
            PostStatState(
                post_id=post.id,
                state=StatRefresh.WAITING,
                next_at=clock.now() + timedelta(hours=1),
                claims=len(hours),
                failures=0,
                last_error="",
                taken_at=last,
                source=source if hours else None,
                **(values if hours else {}),
            )
        )
        session.commit()
        return post

    return make


def test_the_analytics_page_shows_each_posts_figures_totals_and_the_zone(
    client, editor, page_target, published_with_figures
):
    published_with_figures(page_target, title="Harbour towns", figures=(1000, 30, 50, 5, 2))
    published_with_figures(
        page_target, title="Repair cafés", figures=(500, 10, 20, 4, 1), ago=timedelta(days=10)
    )
    response = client.get("/dashboard/posts/analytics")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Harbour towns" in html and "Repair cafés" in html
    assert "1,000" in html and "500" in html
    assert "8.7 %" in html  # (30 + 50 + 5 + 2) / 1000
    assert "1,500" in html  # the total impressions
    assert "Europe/Berlin" in html  # days and times in the viewer's zone
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d Europe/Berlin", html)  # one time format
    assert 'aria-labelledby="weeks-chart-title weeks-chart-desc"' in html
    assert '<title id="targets-chart-title">Impressions per target</title>' in html
    assert "The same numbers as a table" in html
    assert "Sandbox Magazine" in html
    assert 'href="/dashboard/posts/analytics"' in html and 'aria-current="page"' in html


def test_member_posts_without_impressions_show_dashes_not_zeros(
    client, editor, make_target, published_with_figures
):
    member = make_target()
    published_with_figures(member, title="Social only", source=StatSource.SOCIAL_ACTIONS)
    html = client.get("/dashboard/posts/analytics").get_data(as_text=True)
    assert "LinkedIn does not give this figure" in html


def test_the_date_range_filters_by_publication_day(
    client, editor, clock, page_target, published_with_figures
):
    published_with_figures(page_target, title="Recent one", ago=timedelta(days=2))
    published_with_figures(page_target, title="Old one", ago=timedelta(days=40))
    day = (clock.now() - timedelta(days=5)).date().isoformat()
    html = client.get(f"/dashboard/posts/analytics?from={day}").get_data(as_text=True)
    assert "Recent one" in html and "Old one" not in html


def test_the_list_paginates_and_keeps_the_range(
    app, client, editor, page_target, published_with_figures
):
    app.config["PAGE_SIZE"] = 2
    for n in range(3):
        published_with_figures(page_target, title=f"Post number {n}", ago=timedelta(days=n + 1))
    first = client.get("/dashboard/posts/analytics?from=2026-01-01&to=2026-03-02")
    html = first.get_data(as_text=True)
    assert "Page 1 of 2" in html
    assert "from=2026-01-01" in html and "page=2" in html
    second = client.get("/dashboard/posts/analytics?from=2026-01-01&to=2026-03-02&page=2")
    assert "Post number 2" in second.get_data(as_text=True)


def test_no_published_posts_says_what_to_do(client, editor):
    html = client.get("/dashboard/posts/analytics").get_data(as_text=True)
    assert "No published posts in this range" in html
    assert "schedule a post" in html


@pytest.mark.parametrize(
    "query",
    [
        "from=yesterday",
        "to=2026-13-01",
        "from=2026-03-02&to=2026-03-01",
        "to=0001-01-01",
        "from=9999-12-31&to=9999-12-31",
        "from=" + "9" * 5000,
    ],
)
def test_bad_ranges_are_a_400_not_a_500(client, editor, query):
    for path in ("/dashboard/posts/analytics", "/dashboard/posts/analytics.csv"):
        assert client.get(f"{path}?{query}").status_code == 400


@pytest.mark.parametrize("page", ["0", "%EF%BC%91", "-1", "9" * 40])
def test_bad_page_numbers_are_a_400(client, editor, page):
    assert client.get(f"/dashboard/posts/analytics?page={page}").status_code == 400


def test_the_csv_has_every_post_and_cannot_run_formulas(
    client, editor, page_target, published_with_figures
):
    published_with_figures(page_target, title='=HYPERLINK("http://evil.example","x")')
    published_with_figures(page_target, title='+1, "quoted", and more', ago=timedelta(days=4))
    published_with_figures(page_target, title="@SUM(A1) -2", ago=timedelta(days=5))
    response = client.get("/dashboard/posts/analytics.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["post_id", "published_at_utc", "article"]
    titles = [row[2] for row in rows[1:]]
    assert titles == [
        '\'=HYPERLINK("http://evil.example","x")',
        '\'+1, "quoted", and more',
        "'@SUM(A1) -2",
    ]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["impressions"], first["clicks"], first["engagement_rate"]) == (
        "1000",
        "30",
        "0.0870",
    )
    assert first["figures_from"] == "organization"
    assert first["published_at_utc"].endswith("+00:00")


def test_the_post_page_shows_the_latest_figures_and_a_chart_over_time(
    client, editor, page_target, published_with_figures
):
    post = published_with_figures(page_target)
    html = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert "How it did" in html
    assert "1,000" in html and "8.7 %" in html
    assert '<svg class="bars line"' in html and "<polyline" in html
    assert '<title id="post-chart-title">Impressions over time</title>' in html
    assert "3 samples" in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d Europe/Berlin", html)
    assert "LinkedIn page statistics" in html


def test_a_post_without_figures_yet_says_when_they_come(
    client, editor, page_target, published_with_figures
):
    post = published_with_figures(page_target, hours=())
    html = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert "No figures from LinkedIn yet" in html


def test_the_article_page_shows_its_posts_totals_beside_share_link_visits(
    client, editor, page_target, make_target, published_with_figures
):
    post = published_with_figures(page_target, figures=(1000, 30, 50, 5, 2))
    html = client.get(f"/dashboard/articles/{post.article_id}").get_data(as_text=True)
    assert "Its 1 post on LinkedIn so far" in html
    assert "1000 impressions" in html and "50 reactions" in html
    assert "Tracked share links" in html and "0 visits" in html


def test_engagement_by_weekday_and_hour_in_the_targets_zone(
    session, clock, make_target, published_with_figures
):
    from syndicate.linkedin.statistics import engagement_by_weekday_hour

    target = make_target(time_zone="Europe/Berlin")
    # The clock is Monday 2026-03-02 09:00 UTC; three days back is Friday 10:00 in Berlin.
    published_with_figures(target, title="One", figures=(1000, 30, 50, 5, 2))
    published_with_figures(target, title="Two", figures=(500, 10, 20, 4, 1))
    published_with_figures(target, title="Old", ago=timedelta(days=60))
    slots = engagement_by_weekday_hour(session, target.id, clock.now() - timedelta(days=30))
    assert list(slots) == [(4, 10)]
    slot = slots[(4, 10)]
    assert (slot.posts, slot.impressions, slot.engagements) == (2, 1500, 87 + 35)
    assert slot.rate == pytest.approx(122 / 1500)
    utc = engagement_by_weekday_hour(
        session, target.id, clock.now() - timedelta(days=30), zone="UTC"
    )
    assert list(utc) == [(4, 9)]
