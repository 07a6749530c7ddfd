"""When posts go out: local wall times in a zone (DST resolved explicitly), weekly queue slots
under a daily cap, and the calendar."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from syndicate import wording
from syndicate.linkedin.models import LinkedInTarget
from syndicate.posts.context import PostError
from syndicate.posts.models import (
    Post,
    PostState,
)

SLOT_SEARCH_DAYS = 62


@dataclass(frozen=True)
class LocalTime:
    """An instant chosen as local wall time, with a note when DST bent it.

    ``dst`` says how: "skipped" (the time does not exist; moved forward by the gap),
    "repeated" (it happens twice; the first is used), or "" (neither).
    """

    instant: datetime
    note: str = ""
    dst: str = ""


def from_local(day: date, clock_time: time, zone: str) -> LocalTime:
    """The instant of a local date and time in ``zone``, resolving DST explicitly.

    A time that does not exist (the hour skipped in spring) moves forward by the gap, as
    a wall clock would; a time that happens twice (autumn) is the first occurrence.
    """
    tz = ZoneInfo(zone)
    naive = datetime.combine(day, clock_time)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return LocalTime(first.astimezone(ZoneInfo("UTC")))
    round_trip = first.astimezone(ZoneInfo("UTC")).astimezone(tz).replace(tzinfo=None)
    typed = naive.strftime(wording.TIME_FORMAT)
    if round_trip != naive:
        # Skipped: fold=0 keeps the offset from before the change, which lands past the gap.
        moved = first.astimezone(ZoneInfo("UTC"))
        return LocalTime(
            moved,
            f"{typed} does not exist in {zone} (clocks go forward); it will go out at "
            f"{wording.time_in_zone(moved, zone)}.",
            "skipped",
        )
    return LocalTime(
        first.astimezone(ZoneInfo("UTC")),
        f"{typed} happens twice in {zone}; the first one ({first:%Z}) is used.",
        "repeated",
    )


def parse_local(value: str, zone: str) -> LocalTime:
    """A typed wall time in ``zone``, or in the zone typed after it.

    Accepts what the pages show, '2026-03-29 02:30 Europe/Berlin', and '2026-03-29 02:30',
    '2026-03-29T02:30' (what <input type=datetime-local> sends) or any other local ISO 8601
    date and time, as before.
    """
    typed = _typed(value, zone)
    naive = typed.naive
    if not 1900 <= naive.year <= 2999:
        raise PostError("Give a date between the years 1900 and 2999.", "scheduled_at")
    clock_time = naive.time().replace(second=0, microsecond=0)
    return from_local(naive.date(), clock_time, typed.zone or zone)


def _typed(value: str, zone: str) -> wording.WallTime:
    try:
        return wording.parse_time(value)
    except ValueError as exc:
        if str(exc).endswith(" is not a time zone"):
            raise PostError(
                f"{exc}; write one such as {zone}, or leave it out.", "scheduled_at"
            ) from None
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PostError(
            f"Give the date and time as YYYY-MM-DD HH:MM, e.g. 2026-12-04 14:00 {zone}.",
            "scheduled_at",
        ) from None
    if naive.tzinfo is not None:
        raise PostError(
            f"Give a local date and time without a zone offset; a zone name such as {zone} "
            "may follow it.",
            "scheduled_at",
        )
    return wording.WallTime(naive, None)


def _slot_times(target: LinkedInTarget) -> list[tuple[int, time]]:
    slots = []
    for slot in target.queue_slots or []:
        try:
            hour, minute = (int(p) for p in str(slot["time"]).split(":"))
            slots.append((int(slot["weekday"]), time(hour, minute)))
        except (KeyError, TypeError, ValueError):
            continue
    return sorted(slots)


def parse_slots(text: str) -> list[dict[str, object]]:
    """'Mon 09:00, Wed 12:30' into stored slots; a clear error for anything else."""
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    slots = []
    for part in filter(None, (p.strip() for p in text.replace("\n", ",").split(","))):
        match = re.fullmatch(r"([A-Za-z]{3})\w*\s+(\d{1,2}):(\d{2})", part)
        if not match or match.group(1).lower() not in days:
            raise PostError(
                f"{part!r} is not a slot; write e.g. 'Mon 09:00, Thu 16:30'.", "queue_slots"
            )
        hour, minute = int(match.group(2)), int(match.group(3))
        if hour > 23 or minute > 59:
            raise PostError(f"{part!r} is not a time of day.", "queue_slots")
        slots.append(
            {"weekday": days.index(match.group(1).lower()), "time": f"{hour:02d}:{minute:02d}"}
        )
    unique = {(s["weekday"], s["time"]): s for s in slots}
    return [unique[k] for k in sorted(unique)]


def next_free_slot(session: Session, target: LinkedInTarget, *, after: datetime) -> datetime:
    """The first queue slot of the target after ``after`` with no post at it and room under
    the daily cap, in the target's zone (09:00 stays 09:00 across DST changes)."""
    slots = _slot_times(target)
    if not slots:
        raise PostError(
            f"{target.display_name} has no queue slots yet; add some on its "
            "settings page, or pick a time.",
            "queue",
        )
    zone = ZoneInfo(target.time_zone)
    start = after.astimezone(zone).date()
    taken = _taken_instants(session, target, after)
    for offset in range(SLOT_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if target.daily_cap and _count_on_day(taken, day, zone) >= target.daily_cap:
            continue
        for weekday, clock_time in slots:
            if weekday != day.weekday():
                continue
            instant = from_local(day, clock_time, target.time_zone).instant
            if instant > after and instant not in taken:
                return instant
    raise PostError(
        f"No free queue slot for {target.display_name} in the next {SLOT_SEARCH_DAYS} days.",
        "queue",
    )


def _taken_instants(session: Session, target: LinkedInTarget, after: datetime) -> set[datetime]:
    rows = session.scalars(
        select(Post.due_at).where(
            Post.target_id == target.id,
            Post.state.in_(
                [
                    PostState.SCHEDULED,
                    PostState.AWAITING_APPROVAL,
                    PostState.SENDING,
                    PostState.PUBLISHED,
                ]
            ),
            Post.due_at >= after - timedelta(days=1),
        )
    )
    return {r for r in rows if r is not None}


def _count_on_day(instants: set[datetime], day: date, zone: ZoneInfo) -> int:
    return sum(1 for i in instants if i.astimezone(zone).date() == day)


def format_slots(slots: list[object]) -> str:
    """Stored queue slots as the text staff type: 'Mon 09:00, Thu 16:30'."""
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    parts = []
    for slot in slots or []:
        try:
            parts.append(f"{days[int(slot['weekday'])]} {slot['time']}")  # type: ignore[index]
        except (KeyError, TypeError, ValueError, IndexError):
            continue
    return ", ".join(parts)


def posts_between(session: Session, start: datetime, end: datetime) -> list[Post]:
    """Posts due or published in [start, end), for the calendar."""
    moment = func.coalesce(Post.published_at, Post.due_at, Post.scheduled_at)
    return list(
        session.scalars(
            select(Post)
            .options(selectinload(Post.article))
            .where(moment >= start, moment < end, Post.state != PostState.CANCELLED)
            .order_by(moment)
        )
    )


def post_moment(post: Post) -> datetime | None:
    """When the post went out, or is due to: the instant the calendar places it at."""
    return post.published_at or post.due_at or post.scheduled_at


@dataclass(frozen=True)
class CalendarEntry:
    post: Post
    local: datetime  # post_moment in the viewer's zone


def calendar_entries(
    session: Session, first: date, last: date, zone: str
) -> dict[date, list[CalendarEntry]]:
    """Posts from local midnight of ``first`` to the end of ``last`` in ``zone``, by local day.

    Days are bounded by local midnights, so a day with a DST change has 23 or 25 hours.
    """
    start = from_local(first, time(0), zone).instant
    end = from_local(last + timedelta(days=1), time(0), zone).instant
    tz = ZoneInfo(zone)
    days: dict[date, list[CalendarEntry]] = {}
    for post in posts_between(session, start, end):
        moment = post_moment(post)
        if moment is None:
            continue
        local = moment.astimezone(tz)
        days.setdefault(local.date(), []).append(CalendarEntry(post, local))
    return days
