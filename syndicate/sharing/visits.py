"""Tracked share links: the redirect, honest visit counting, and the numbers staff see.

Counting rules (docs/sharing.md): one visit per visitor per link per UTC day, where a
visitor is a salted hash of IP address and user agent. The salt is derived from SECRET_KEY
and the day, so hashes of different days cannot be linked, and neither IPs nor cookies are
stored. Known bots and link-preview fetchers (LinkedInBot among them) are not counted, nor
HEAD requests. Visits are written in batches (``jobs.VisitRecorder``) and past days' hashes
are folded into daily totals and deleted by a job. A link of a revoked or expired permission
still redirects (readers' links never break) but no longer counts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from syndicate.sharing.models import (
    Permission,
    ShareLink,
    ShareVisitDay,
    ShareVisitor,
)
from syndicate.web.charts import BarChart, bar_chart

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.dialects import postgresql, sqlite

    from syndicate.sharing.jobs import Tracking

_CODE = re.compile(r"[A-Za-z0-9_-]{1,32}")
# Substrings of user agents that are not people: crawlers, link-preview fetchers (LinkedInBot
# among them), monitors, HTTP libraries and headless browsers. Not "linkedin" itself: people
# reading in LinkedIn's in-app browser send "LinkedInApp" and must count.
BOT_MARKERS = (
    "bot",
    "crawl",
    "spider",
    "slurp",
    "facebookexternalhit",
    "facebookcatalog",
    "preview",
    "embedly",
    "curl/",
    "wget",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "java/",
    "okhttp",
    "libwww",
    "httpclient",
    "node-fetch",
    "axios",
    "headless",
    "phantomjs",
    "lighthouse",
    "pingdom",
    "uptime",
    "monitor",
    "scanner",
    "fetcher",
    "whatsapp",
    "vkshare",
    "validator",
    "feedfetcher",
    "scrapy",
    "archive.org",
    "outbrain",
    "nuzzel",
    "mastodon",
    "akkoma",
    "pleroma",
    "misskey",
    "google-read-aloud",
    "apis-google",
    "http.rb",
    "ruby",
    "perl",
    "php/",
)
_BOT = re.compile("|".join(re.escape(m) for m in BOT_MARKERS), re.IGNORECASE)


def is_bot(user_agent: str | None) -> bool:
    """True for an empty user agent or one that names a known automated client."""
    return not user_agent or bool(_BOT.search(user_agent))


def visitor_hash(secret_key: str, day: date, ip: str, user_agent: str) -> str:
    """A salted daily hash of IP and user agent: same visitor, same day, same hash."""
    salt = hmac.new(
        secret_key.encode(), f"share-visit:{day.isoformat()}".encode(), hashlib.sha256
    ).digest()
    return hmac.new(
        salt, f"{ip}\n{user_agent}".encode("utf-8", "replace"), hashlib.sha256
    ).hexdigest()[:32]


@dataclass(frozen=True)
class Hop:
    target_url: str
    # True when the visit was handed to the recorder (a person, a link in force).
    recorded: bool


def follow_link(
    tracking: Tracking,
    code: str,
    *,
    ip: str,
    user_agent: str,
    method: str,
    now: datetime,
    secret_key: str,
) -> Hop | None:
    """Where /s/<code> leads; a person's visit goes to the recorder to be counted."""
    if not _CODE.fullmatch(code or ""):
        return None
    found = tracking.links.get(code)
    if found is None:
        return None
    link_id, target_url = found
    if method != "GET" or is_bot(user_agent):
        return Hop(target_url, False)
    day = now.astimezone(UTC).date()
    tracking.recorder.add(link_id, day, visitor_hash(secret_key, day, ip, user_agent))
    return Hop(target_url, True)


def fold_visits(session: Session, *, now: datetime) -> int:
    """Turn past days' visitor hashes into daily totals and delete the hashes."""
    today = now.astimezone(UTC).date()
    # DELETE ... RETURNING counts exactly the rows it removes, even while visits arrive.
    removed = session.execute(
        delete(ShareVisitor)
        .where(ShareVisitor.day < today)
        .returning(ShareVisitor.link_id, ShareVisitor.day)
        .execution_options(synchronize_session=False)
    )
    totals = Counter((link_id, day) for link_id, day in removed)
    if not totals:
        return 0
    # Both dialects' upserts take the same arguments.
    insert: Callable[..., postgresql.Insert | sqlite.Insert]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = ShareVisitDay.__table__
    for (link_id, day), count in totals.items():
        statement = insert(table).values(link_id=link_id, day=day, visits=count)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["link_id", "day"],
                set_={"visits": table.c.visits + statement.excluded.visits},
            )
        )
    return sum(totals.values())


# --- what staff see -------------------------------------------------------------------------


def _links(article_id: int | None = None, permission_id: int | None = None) -> Select[Any]:
    query = select(ShareLink.id).join(Permission, Permission.id == ShareLink.permission_id)
    if article_id is not None:
        query = query.where(Permission.article_id == article_id)
    if permission_id is not None:
        query = query.where(Permission.id == permission_id)
    return query


def visits_by_day(
    session: Session,
    *,
    start: date,
    end: date,
    article_id: int | None = None,
    permission_id: int | None = None,
) -> dict[date, int]:
    """Visits per UTC day from ``start`` to ``end`` inclusive (folded and today's)."""
    links = _links(article_id, permission_id)
    counts: Counter[date] = Counter()
    for day, visits in session.execute(
        select(ShareVisitDay.day, func.sum(ShareVisitDay.visits))
        .where(ShareVisitDay.link_id.in_(links), ShareVisitDay.day.between(start, end))
        .group_by(ShareVisitDay.day)
    ):
        counts[day] += int(visits or 0)
    for day, visits in session.execute(
        select(ShareVisitor.day, func.count())
        .where(ShareVisitor.link_id.in_(links), ShareVisitor.day.between(start, end))
        .group_by(ShareVisitor.day)
    ):
        counts[day] += int(visits)
    return dict(counts)


def totals_by_link(
    session: Session, *, article_id: int | None = None, permission_id: int | None = None
) -> Counter[int]:
    links = _links(article_id, permission_id)
    totals: Counter[int] = Counter()
    for link_id, visits in session.execute(
        select(ShareVisitDay.link_id, func.sum(ShareVisitDay.visits))
        .where(ShareVisitDay.link_id.in_(links))
        .group_by(ShareVisitDay.link_id)
    ):
        totals[link_id] += int(visits or 0)
    for link_id, visits in session.execute(
        select(ShareVisitor.link_id, func.count())
        .where(ShareVisitor.link_id.in_(links))
        .group_by(ShareVisitor.link_id)
    ):
        totals[link_id] += int(visits)
    return totals


@dataclass(frozen=True)
class Sharer:
    permission: Permission
    visits: int


def top_sharers(
    session: Session, *, article_id: int | None = None, limit: int = 10
) -> list[Sharer]:
    """The grants whose links brought the most visits (ties: the newest grant first)."""
    totals = totals_by_link(session, article_id=article_id)
    best = sorted(totals.items(), key=lambda item: (-item[1], -item[0]))[:limit]
    if not best:
        return []
    links = {
        link.id: link
        for link in session.scalars(select(ShareLink).where(ShareLink.id.in_([i for i, _ in best])))
    }
    return [Sharer(links[i].permission, visits) for i, visits in best if visits and i in links]


def visits_for_link(session: Session, link_id: int) -> int:
    folded = session.scalar(
        select(func.sum(ShareVisitDay.visits)).where(ShareVisitDay.link_id == link_id)
    )
    live = session.scalar(
        select(func.count()).select_from(ShareVisitor).where(ShareVisitor.link_id == link_id)
    )
    return int(folded or 0) + int(live or 0)


# --- the chart ------------------------------------------------------------------------------


def chart(counts: dict[date, int], *, end: date, days: int = 30) -> BarChart:
    """Visits per UTC day for the ``days`` up to ``end``, as bars (see web/charts.py)."""
    start = end - timedelta(days=days - 1)
    series = [start + timedelta(days=i) for i in range(days)]
    return bar_chart([(day, day.isoformat(), counts.get(day, 0)) for day in series])


def recent_chart(
    session: Session,
    *,
    now: datetime,
    days: int = 30,
    article_id: int | None = None,
    permission_id: int | None = None,
) -> BarChart:
    end = now.astimezone(UTC).date()
    counts = visits_by_day(
        session,
        start=end - timedelta(days=days - 1),
        end=end,
        article_id=article_id,
        permission_id=permission_id,
    )
    return chart(counts, end=end, days=days)
