"""The best weekly queue slots of a target, from how its own recent posts did, and adding them.

Posts are bucketed by the weekday and hour they went out in the target's time zone (each post
by its own local time, so a post at 09:00 Europe/Berlin is in the 09:00 slot in winter and in
summer), from their latest figures (``statistics.engagement_by_weekday_hour``). Only posts
published in the last ``DAYS`` days count, and a slot needs ``MIN_POSTS`` of them before it is
suggested. Slots are ranked by a smoothed rate: the slot's engagements and impressions plus
``PRIOR_POSTS`` imaginary average posts at the target's overall rate, so a slot with one lucky
post cannot beat a slot that did well many times (docs/linkedin.md explains the rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from syndicate.linkedin.models import LinkedInTarget
from syndicate.linkedin.statistics import SlotEngagement, engagement_by_weekday_hour
from syndicate.posts.context import PostError
from syndicate.posts.scheduling import format_slots
from syndicate.wording import count

DAYS = 90
MIN_POSTS = 3
PRIOR_POSTS = 3
LIMIT = 5
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Suggestion:
    """A weekday and hour in the target's zone, how its posts did, and the rate it ranks by."""

    weekday: int  # 0 is Monday
    hour: int
    posts: int
    impressions: int
    engagements: int
    score: float

    @property
    def rate(self) -> float | None:
        return self.engagements / self.impressions if self.impressions else None

    @property
    def time(self) -> str:
        return f"{self.hour:02d}:00"

    @property
    def slot_text(self) -> str:
        """The slot as staff type it: 'Tue 09:00'."""
        return f"{WEEKDAYS[self.weekday]} {self.time}"

    @property
    def day_name(self) -> str:
        return WEEKDAY_NAMES[self.weekday]

    def as_slot(self) -> dict[str, object]:
        return {"weekday": self.weekday, "time": self.time}


@dataclass(frozen=True)
class BestTimes:
    """The suggestions for a target and what they were drawn from."""

    zone: str
    days: int
    min_posts: int
    posts: int  # posts with figures in the period, all slots
    suggestions: list[Suggestion]
    best_slot_posts: int  # the most posts any one slot has

    @property
    def shortage(self) -> str:
        """Why there is nothing to suggest, or '' when there is."""
        if self.suggestions:
            return ""
        have = self.best_slot_posts
        if self.posts == 0:
            return (
                f"Not enough published posts yet: none with figures in the last {self.days} "
                f"days. A slot is suggested once {count(self.min_posts, 'post')} published "
                "at that weekday and hour have figures."
            )
        return (
            f"Not enough published posts yet: {have} of the {self.min_posts} needed per slot "
            f"(the busiest weekday and hour of the last {self.days} days). Keep posting; "
            "suggestions appear as soon as a slot has enough."
        )


def rank(
    slots: dict[tuple[int, int], SlotEngagement],
    *,
    min_posts: int = MIN_POSTS,
    prior_posts: int = PRIOR_POSTS,
) -> list[Suggestion]:
    """Slots with at least ``min_posts`` posts and some impressions, best smoothed rate first."""
    posts = sum(s.posts for s in slots.values())
    impressions = sum(s.impressions for s in slots.values())
    engagements = sum(s.engagements for s in slots.values())
    if not posts or not impressions:
        return []
    overall = engagements / impressions
    prior_impressions = prior_posts * impressions / posts
    ranked = [
        Suggestion(
            weekday=weekday,
            hour=hour,
            posts=s.posts,
            impressions=s.impressions,
            engagements=s.engagements,
            score=(s.engagements + overall * prior_impressions)
            / (s.impressions + prior_impressions),
        )
        for (weekday, hour), s in slots.items()
        if s.posts >= min_posts and s.impressions > 0
    ]
    return sorted(ranked, key=lambda s: (-s.score, -s.posts, s.weekday, s.hour))


def best_times(
    session: Session,
    target: LinkedInTarget,
    *,
    now: datetime,
    days: int = DAYS,
    min_posts: int = MIN_POSTS,
    limit: int = LIMIT,
) -> BestTimes:
    """The target's best weekly slots from its posts of the last ``days`` days, best first."""
    slots = engagement_by_weekday_hour(session, target.id, now - timedelta(days=days))
    return BestTimes(
        zone=target.time_zone,
        days=days,
        min_posts=min_posts,
        posts=sum(s.posts for s in slots.values()),
        suggestions=rank(slots, min_posts=min_posts)[:limit],
        best_slot_posts=max((s.posts for s in slots.values()), default=0),
    )


def parse_suggestion(text: str) -> tuple[int, int]:
    """'2-9' (weekday-hour, what the page's buttons send) into (weekday, hour)."""
    weekday, sep, hour = text.strip().partition("-")
    if (
        not sep
        or not weekday.isascii()
        or not weekday.isdigit()
        or not hour.isascii()
        or not hour.isdigit()
        or len(weekday) > 1
        or len(hour) > 2
        or int(weekday) > 6
        or int(hour) > 23
    ):
        raise PostError("That is not a suggested slot; reload the page and try again.", "slot")
    return int(weekday), int(hour)


def add_suggested_slots(
    session: Session,
    target: LinkedInTarget,
    wanted: list[tuple[int, int]],
    *,
    now: datetime,
    days: int = DAYS,
    min_posts: int = MIN_POSTS,
) -> list[Suggestion]:
    """Add suggested slots (weekday, hour) to the target's queue slots; the ones newly added.

    Only current suggestions are accepted (a stale page is refused, not guessed at), and a slot
    already among the queue slots is left as it is, so pressing twice adds it once.
    """
    current = {
        (s.weekday, s.hour): s
        for s in rank(
            engagement_by_weekday_hour(session, target.id, now - timedelta(days=days)),
            min_posts=min_posts,
        )
    }
    chosen = []
    for key in wanted:
        suggestion = current.get(key)
        if suggestion is None:
            raise PostError(
                "That slot is no longer suggested; the page shows the current suggestions.",
                "slot",
                status=409,
            )
        chosen.append(suggestion)
    existing = {(str(s["weekday"]), str(s["time"])) for s in _slots(target)}
    added = []
    slots = list(_slots(target))
    for suggestion in chosen:
        slot_key = (str(suggestion.weekday), suggestion.time)
        if slot_key in existing:
            continue
        existing.add(slot_key)
        slots.append(suggestion.as_slot())
        added.append(suggestion)
    if added:
        target.queue_slots = sorted(slots, key=lambda s: (int(str(s["weekday"])), str(s["time"])))
        target.updated_at = now
        session.flush()
    return added


def _slots(target: LinkedInTarget) -> list[dict[str, object]]:
    return [s for s in target.queue_slots or [] if isinstance(s, dict)]


def added_message(target: LinkedInTarget, added: list[Suggestion]) -> str:
    """What the page says after adding: the slots added, or that they were there already."""
    if not added:
        return f"Those slots were already among the queue slots of {target.display_name}."
    names = ", ".join(s.slot_text for s in added)
    return (
        f"Added {names} ({target.time_zone}) to the queue slots of {target.display_name}: "
        f"{format_slots(target.queue_slots)}."
    )
