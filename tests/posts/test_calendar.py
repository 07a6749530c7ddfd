"""The calendar: whole local days in the staff member's zone, right across DST changes."""

from datetime import UTC, datetime

import pytest
from lxml import html as lxml_html

from tests import factories


@pytest.fixture
def berliner(staff_user):
    return staff_user(time_zone="Europe/Berlin")


@pytest.fixture
def schedule(make_post, target, make_article):
    def make(when: datetime, title: str):
        return make_post(article=make_article(title=title), target=target, when=when)

    return make


def calendar(client, query):
    response = client.get("/dashboard/posts/calendar" + query)
    assert response.status_code == 200
    return lxml_html.fromstring(response.get_data(as_text=True))


def chips(page, day: str) -> list[str]:
    """'HH:MM title' of each chip in the day's cell."""
    cells = page.xpath(f'//td[@data-day="{day}"]')
    assert len(cells) == 1, f"{day} is not shown"
    shown = []
    for chip in cells[0].xpath('.//li[contains(@class, "chip")]'):
        time = chip.xpath(".//time")[0].text_content()
        title = chip.xpath(".//a")[0].text_content().split(": ", 1)[1].strip()
        shown.append(f"{time} {title}")
    return shown


def test_week_across_spring_dst_places_local_times_on_their_days(client, berliner, schedule):
    schedule(datetime(2026, 3, 22, 23, 0, tzinfo=UTC), "Monday midnight")  # 00:00 CET
    schedule(datetime(2026, 3, 28, 8, 0, tzinfo=UTC), "Saturday nine")  # 09:00 CET
    schedule(datetime(2026, 3, 29, 7, 0, tzinfo=UTC), "Sunday nine")  # 09:00 CEST
    schedule(datetime(2026, 3, 29, 21, 30, tzinfo=UTC), "Sunday late")  # 23:30 CEST
    schedule(datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "Next Monday early")  # 00:30 CEST

    page = calendar(client, "?view=week&start=2026-03-25")
    days = page.xpath("//table[contains(@class, 'calendar')]/tbody/tr/td/@data-day")
    assert days == [f"2026-03-{d}" for d in range(23, 30)]
    assert chips(page, "2026-03-23") == ["00:00 Monday midnight"]
    assert chips(page, "2026-03-28") == ["09:00 Saturday nine"]
    # Sunday has 23 hours; both of its posts are there, the 00:30 one is not.
    assert chips(page, "2026-03-29") == ["09:00 Sunday nine", "23:30 Sunday late"]
    assert "Next Monday early" not in page.text_content()
    assert "times in Europe/Berlin" in " ".join(page.xpath("//caption")[0].text_content().split())

    following = calendar(client, "?view=week&start=2026-03-30")
    assert chips(following, "2026-03-30") == ["00:30 Next Monday early"]


def test_the_same_instant_lands_on_the_viewers_own_day(client, make_user, login, schedule):
    schedule(datetime(2026, 3, 29, 2, 30, tzinfo=UTC), "Small hours")
    login(make_user(time_zone="America/New_York"))
    page = calendar(client, "?view=week&start=2026-03-23")
    assert chips(page, "2026-03-28") == ["22:30 Small hours"]  # EDT, the evening before
    assert "times in America/New_York" in page.xpath("//caption")[0].text_content()


def test_month_across_autumn_dst(client, berliner, schedule):
    schedule(datetime(2026, 10, 24, 7, 0, tzinfo=UTC), "Before")  # 09:00 CEST
    schedule(datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "First half past two")  # 02:30 CEST
    schedule(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "Second half past two")  # 02:30 CET
    schedule(datetime(2026, 10, 26, 8, 0, tzinfo=UTC), "After")  # 09:00 CET
    schedule(datetime(2026, 11, 1, 8, 0, tzinfo=UTC), "Spill-over")  # shown, outside the month

    page = calendar(client, "?view=month&start=2026-10-15")
    rows = page.xpath("//table[contains(@class, 'calendar')]/tbody/tr")
    assert len(rows) == 5 and all(len(r.xpath("./td")) == 7 for r in rows)
    assert rows[0].xpath("./td/@data-day")[0] == "2026-09-28"
    assert chips(page, "2026-10-24") == ["09:00 Before"]
    assert chips(page, "2026-10-25") == ["02:30 First half past two", "02:30 Second half past two"]
    assert chips(page, "2026-10-26") == ["09:00 After"]
    assert chips(page, "2026-11-01") == ["09:00 Spill-over"]
    assert "outside" in page.xpath('//td[@data-day="2026-11-01"]/@class')[0]
    assert "October 2026" in page.xpath("//caption")[0].text_content()


def test_chips_link_to_the_post_and_published_ones_to_the_live_post(
    client, session, berliner, schedule, clock, linkedin_sandbox
):
    waiting = schedule(datetime(2026, 3, 3, 8, 0, tzinfo=UTC), "Still waiting")
    done = schedule(datetime(2026, 3, 2, 9, 5, tzinfo=UTC), "Out already")
    factories.record_published(
        session,
        done,
        now=clock.now(),
        urn="urn:li:share:42",
        published_at=datetime(2026, 3, 2, 9, 6, tzinfo=UTC),
    )
    session.commit()

    page = calendar(client, "")  # this week, by the app's clock: Monday 2026-03-02
    assert "today" in page.xpath('//td[@data-day="2026-03-02"]/@class')[0]
    [published] = page.xpath('//td[@data-day="2026-03-02"]//li')
    assert "published" in published.get("class")
    assert published.xpath(".//a/@href") == [
        f"/dashboard/posts/{done.id}",
        f"{linkedin_sandbox.base_url}/sandbox/",
    ]
    [scheduled] = page.xpath('//td[@data-day="2026-03-03"]//li')
    assert "scheduled" in scheduled.get("class")
    assert scheduled.xpath(".//a/@href") == [f"/dashboard/posts/{waiting.id}"]


def test_navigation_moves_by_whole_weeks_and_months(client, berliner):
    week = calendar(client, "?view=week&start=2026-03-25")
    assert week.xpath('//a[@rel="prev"]/@href') == [
        "/dashboard/posts/calendar?view=week&start=2026-03-16"
    ]
    assert week.xpath('//a[@rel="next"]/@href') == [
        "/dashboard/posts/calendar?view=week&start=2026-03-30"
    ]
    month = calendar(client, "?view=month&start=2026-12-31")
    assert month.xpath('//a[@rel="prev"]/@href') == [
        "/dashboard/posts/calendar?view=month&start=2026-11-01"
    ]
    assert month.xpath('//a[@rel="next"]/@href') == [
        "/dashboard/posts/calendar?view=month&start=2027-01-01"
    ]


def test_empty_calendar_says_what_to_do(client, berliner):
    page = calendar(client, "?view=month")
    assert "Nothing is scheduled or published" in page.text_content()


@pytest.mark.parametrize(
    "query",
    [
        "?view=year",
        "?start=2026-13-01",
        "?start=20260301",
        "?start=2026-W13-1",
        "?start=0001-01-01",
        "?start=9999-12-31",
        "?start=" + "9" * 5000,
    ],
)
def test_bad_view_or_start_is_400(client, berliner, query):
    assert client.get("/dashboard/posts/calendar" + query).status_code == 400
