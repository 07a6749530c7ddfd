"""How posts did: the analytics page, its CSV, and the figures on a post's and an article's page.

The figures are LinkedIn's, fetched on a schedule by ``linkedin/stats_fetch.py`` and stored by
``linkedin/statistics.py``; these pages only read them. Dates in the filter are days in the
viewer's time zone; a post belongs to the day and week it was published.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, render_template, request
from werkzeug.wrappers import Response

from syndicate.clock import app_now
from syndicate.db import Page, get_session
from syndicate.linkedin import statistics as stats
from syndicate.linkedin.models import StatSource
from syndicate.posts.models import Post
from syndicate.staff.access import current_user, login_required
from syndicate.web.charts import BarChart, LineChart, bar_chart, line_chart
from syndicate.web.params import page_number
from syndicate.web.spreadsheet import csv_response
from syndicate.web.templating import format_time

bp = Blueprint("posts_analytics", __name__, url_prefix="/dashboard/posts")

DEFAULT_DAYS = 90
SMALL_WIDTH, SMALL_HEIGHT = 480, 160
MAX_WEEKS_CHARTED = 60
CSV_COLUMNS = (
    "post_id",
    "published_at_utc",
    "article",
    "target",
    "linkedin_urn",
    "impressions",
    "clicks",
    "reactions",
    "comments",
    "reposts",
    "engagement_rate",
    "figures_taken_at_utc",
    "figures_from",
)
SOURCE_WORDS = {
    StatSource.ORGANIZATION: "LinkedIn page statistics",
    StatSource.MEMBER_ANALYTICS: "LinkedIn member post analytics",
    StatSource.SOCIAL_ACTIONS: "LinkedIn social actions (reactions and comments only)",
}


def _zone() -> str:
    user = current_user()
    return user.time_zone if user is not None else str(current_app.config["TIME_ZONE"])


@dataclass(frozen=True)
class Range:
    """Days ``first`` to ``last`` in ``zone``, as the UTC instants [start, end)."""

    first: date
    last: date
    zone: str

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), ZoneInfo(self.zone))

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), ZoneInfo(self.zone))

    def args(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "to": self.last.isoformat()}


def _day(name: str, default: date) -> date:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        abort(400, f"{name} must be a date such as 2026-03-01.")


EARLIEST = date(1970, 1, 2)
LATEST = date(9998, 12, 31)


def _range() -> Range:
    """?from= and ?to= (days in the viewer's zone, both included); the last 90 days unless
    given. Anything else is a 400."""
    zone = _zone()
    today = app_now().astimezone(ZoneInfo(zone)).date()
    last = _day("to", today)
    if not EARLIEST + timedelta(days=DEFAULT_DAYS) <= last <= LATEST:
        abort(400, "to must be a day from 1970 to 9998.")
    first = _day("from", last - timedelta(days=DEFAULT_DAYS - 1))
    if not EARLIEST <= first <= LATEST:
        abort(400, "from must be a day from 1970 to 9998.")
    if first > last:
        abort(400, "from must not be after to.")
    return Range(first, last, zone)


def weekly_chart(groups: list[stats.Group], span: Range) -> BarChart:
    """Impressions per week over the whole range, weeks without posts included (the newest
    60 weeks at most)."""
    first = span.first - timedelta(days=span.first.weekday())
    last = span.last - timedelta(days=span.last.weekday())
    first = max(first, last - timedelta(weeks=MAX_WEEKS_CHARTED - 1))
    by_week = {g.key: g for g in groups}
    weeks = []
    week = first
    while week <= last:
        found = by_week.get(week)
        weeks.append((week, week.isoformat(), (found.figures.impressions or 0) if found else 0))
        week += timedelta(weeks=1)
    return bar_chart(weeks)


def target_chart(groups: list[stats.Group]) -> BarChart:
    return bar_chart([(g.key, g.label, g.figures.impressions or 0) for g in groups])


@bp.get("/analytics")
@login_required
def analytics() -> str:
    span = _range()
    db = get_session()
    size = current_app.config["PAGE_SIZE"]
    number = page_number()
    rows = stats.post_rows(db, start=span.start, end=span.end)
    listed = rows[(number - 1) * size : number * size]
    weeks = stats.by_week(rows, span.zone)
    targets = stats.by_target(rows)
    total = sum((row.figures for row in rows), stats.Figures())
    return render_template(
        "posts/analytics.html",
        span=span,
        page=Page(listed, number, size, len(rows)),
        rows=rows,
        total=total,
        weeks=weeks,
        targets=targets,
        weekly=weekly_chart(weeks, span),
        per_target=target_chart(targets),
        zone=span.zone,
        now=app_now(),
    )


def _csv_rows(rows: list[stats.PostRow]) -> Iterator[list[Any]]:
    yield list(CSV_COLUMNS)
    for row in rows:
        figures = row.figures
        rate = figures.engagement_rate
        yield [
            row.post_id,
            row.published_at.isoformat(),
            row.article_title,
            row.target_name,
            row.linkedin_urn,
            figures.impressions,
            figures.clicks,
            figures.reactions,
            figures.comments,
            figures.reposts,
            "" if rate is None else f"{rate:.4f}",
            row.taken_at.isoformat() if row.taken_at else "",
            row.source.value if row.source else "",
        ]


@bp.get("/analytics.csv")
@login_required
def analytics_csv() -> Response:
    span = _range()
    rows = stats.post_rows(get_session(), start=span.start, end=span.end)
    name = f"post-analytics-{span.first.isoformat()}-to-{span.last.isoformat()}.csv"
    return csv_response(_csv_rows(rows), name)


# --- on other pages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PostStatistics:
    state: Any
    figures: stats.Figures
    chart: LineChart | None
    source: str


@bp.app_template_global()
def post_statistics(post: Post) -> PostStatistics | None:
    """A published post's latest figures and impressions (or reactions) over time."""
    db = get_session()
    state = stats.refresh_state(db, post.id)
    if state is None:
        return None
    samples = stats.series(db, post.id)
    zone = _zone()
    chart = None
    if samples:
        measure = "impressions" if samples[-1].impressions is not None else "reactions"
        chart = line_chart(
            [
                (
                    s.taken_at.timestamp(),
                    format_time(s.taken_at, zone),
                    getattr(s, measure) or 0,
                )
                for s in samples
            ],
            width=SMALL_WIDTH,
            height=SMALL_HEIGHT,
        )
    return PostStatistics(
        state=state,
        figures=stats.Figures.of(state),
        chart=chart,
        source=SOURCE_WORDS.get(state.source, "") if state.source else "",
    )


@dataclass(frozen=True)
class ArticleReach:
    posts: int
    figures: stats.Figures
    visits: int


@bp.app_template_global()
def article_reach(article_id: int) -> ArticleReach:
    """The article's posts' latest figures summed, beside its tracked share-link visits."""
    from syndicate.sharing.visits import visits_by_day

    db = get_session()
    posts, figures = stats.totals_for_article(db, article_id)
    visits = sum(visits_by_day(db, start=date.min, end=date.max, article_id=article_id).values())
    return ArticleReach(posts, figures, visits)
