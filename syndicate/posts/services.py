"""Composing and scheduling posts. Functions take a session first and never commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from syndicate.articles.models import Article
from syndicate.db import Page, paginate
from syndicate.errors import DomainError
from syndicate.linkedin.models import LinkedInTarget
from syndicate.linkedin.text import MAX_COMMENTARY, escape_little_text, linkedin_length
from syndicate.posts.models import (
    EDITABLE_STATES,
    TROUBLE_STATES,
    AutoPostRule,
    Post,
    PostHistory,
    PostState,
)
from syndicate.staff.models import User

DEFAULT_TEMPLATE = "{title}\n\n{summary}\n\n{link}\n\n{hashtags}"
PLACEHOLDERS = ("title", "summary", "link", "hashtags", "authors")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
SLOT_SEARCH_DAYS = 62


class PostError(DomainError):
    """Bad input for a post; the message is fit to show and names the field when it can."""


class PostExists(PostError):
    """The article already has a post for this target."""

    status = 409
    code = "post_exists"

    def __init__(self, existing: Post | None) -> None:
        super().__init__(
            "This article already has a post for that target. Edit it, or re-share deliberately."
        )
        self.existing = existing

    def details(self) -> dict[str, int | None]:
        return {"existing_post_id": self.existing.id if self.existing is not None else None}


class NotEditable(PostError):
    """The post has been claimed for sending or has finished."""

    status = 409
    code = "not_editable"


class NotAllowed(PostError):
    """The staff member's role does not allow this."""

    status = 403
    code = "forbidden"


# --- composing -------------------------------------------------------------------------


def article_url(article: Article, site_url: str) -> str:
    return article.canonical_url or f"{site_url}/articles/{article.slug}"


def with_utm(url: str, *, campaign: str, content: str | None = None) -> str:
    """The URL with LinkedIn UTM parameters added (existing ones for other keys kept)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    query += [("utm_source", "linkedin"), ("utm_medium", "social"), ("utm_campaign", campaign)]
    if content:
        query.append(("utm_content", content))
    return urlunsplit(parts._replace(query=urlencode(query)))


def hashtag(name: str) -> str:
    words = re.findall(r"\w+", name)
    return "#" + "".join(w[:1].upper() + w[1:] for w in words) if words else ""


def render_template(template: str, article: Article, *, link: str) -> str:
    """Fill a target's template; unknown placeholders are an error, not silent text."""
    template = template or DEFAULT_TEMPLATE
    unknown = sorted({m for m in _PLACEHOLDER.findall(template) if m not in PLACEHOLDERS})
    if unknown:
        raise PostError(
            "Unknown placeholder(s) in the template: "
            + ", ".join("{" + u + "}" for u in unknown)
            + ". Use "
            + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            + ".",
            "template",
        )
    values = {
        "title": article.title,
        "summary": article.summary,
        "link": link,
        "hashtags": " ".join(h for h in (hashtag(t.name) for t in article.tags) if h),
        "authors": ", ".join(a.name for a in article.authors),
    }
    text = _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@dataclass(frozen=True)
class Preview:
    """What LinkedIn will receive and how long it is by LinkedIn's count."""

    commentary: str
    sent: str
    length: int
    too_long: bool


def preview(commentary: str) -> Preview:
    sent = escape_little_text(commentary)
    length = linkedin_length(sent)
    return Preview(commentary, sent, length, length > MAX_COMMENTARY)


def typed_preview(commentary: str) -> Preview:
    """The preview of text as a form sent it (CRLF line ends, stray spaces), as it will be saved."""
    return preview(commentary.replace("\r\n", "\n").strip())


def check_commentary(commentary: str) -> str:
    commentary = commentary.replace("\r\n", "\n").strip()
    if not commentary:
        raise PostError("Write the text of the post.", "commentary")
    shown = preview(commentary)
    if shown.too_long:
        raise PostError(
            f"LinkedIn allows {MAX_COMMENTARY} characters; this is {shown.length} "
            "once escaped. Shorten it.",
            "commentary",
        )
    return commentary


# --- time ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalTime:
    """An instant chosen as local wall time, with a note when DST bent it."""

    instant: datetime
    note: str = ""


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
    if round_trip != naive:
        # Skipped: fold=0 keeps the offset from before the change, which lands past the gap.
        moved = first.astimezone(ZoneInfo("UTC"))
        shown = moved.astimezone(tz)
        return LocalTime(
            moved,
            f"{naive:%H:%M} does not exist on {day:%Y-%m-%d} in {zone} "
            f"(clocks go forward); it will go out at {shown:%H:%M %Z}.",
        )
    return LocalTime(
        first.astimezone(ZoneInfo("UTC")),
        f"{naive:%H:%M} happens twice on {day:%Y-%m-%d} in {zone}; "
        f"the first one ({first:%Z}) is used.",
    )


def parse_local(value: str, zone: str) -> LocalTime:
    """'2026-03-29T02:30' (what <input type=datetime-local> sends) in the given zone."""
    try:
        naive = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PostError("Give the date and time as YYYY-MM-DD HH:MM.", "scheduled_at") from None
    if naive.tzinfo is not None:
        raise PostError("Give a local date and time without a zone.", "scheduled_at")
    if not 1900 <= naive.year <= 2999:
        raise PostError("Give a date between the years 1900 and 2999.", "scheduled_at")
    return from_local(naive.date(), naive.time().replace(second=0, microsecond=0), zone)


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


# --- state changes ---------------------------------------------------------------------


def record(
    session: Session,
    post: Post,
    to_state: PostState,
    *,
    now: datetime,
    actor: str,
    detail: str = "",
    http_status: int | None = None,
) -> None:
    """Move the post to a state and write the history row that says so."""
    session.add(
        PostHistory(
            post=post,
            at=now,
            from_state=post.state.value if post.state else None,
            to_state=to_state.value,
            attempt=post.attempt,
            actor=actor[:200],
            http_status=http_status,
            detail=detail[:4000],
        )
    )
    post.state = to_state
    post.updated_at = now


@dataclass
class PostInput:
    commentary: str
    card_title: str
    card_description: str = ""
    when: datetime | None = None  # None: the next free queue slot
    as_draft: bool = False


def compose_defaults(
    article: Article, target: LinkedInTarget, *, site_url: str, campaign: str
) -> PostInput:
    link = with_utm(article_url(article, site_url), campaign=campaign)
    return PostInput(
        commentary=render_template(target.template, article, link=link),
        card_title=article.title,
        card_description=article.summary,
    )


def create_post(
    session: Session,
    article: Article,
    target: LinkedInTarget,
    data: PostInput,
    *,
    user: User | None,
    now: datetime,
    site_url: str,
    campaign: str,
    reshare: bool = False,
    source: str = "manual",
) -> Post:
    """Schedule (or draft) a post; raises PostExists when the pair has one already."""
    if not article.is_published:
        raise PostError("Only published articles can be posted.", "article")
    if not target.is_active:
        raise PostError(
            f"{target.display_name} cannot be posted to right now "
            "(its connection is gone or lost the page role).",
            "target",
        )
    commentary = check_commentary(data.commentary)
    card_title = data.card_title.strip()[:400] or article.title[:400]
    if data.as_draft:
        state = PostState.DRAFT
        due = None
    else:
        due = data.when or next_free_slot(session, target, after=now)
        if due <= now - timedelta(minutes=1):
            raise PostError("That time is in the past.", "scheduled_at")
        needs_ok = target.needs_approval and (user is None or not user.is_admin)
        state = PostState.AWAITING_APPROVAL if needs_ok else PostState.SCHEDULED
    post = Post(
        article=article,
        target=target,
        is_reshare=reshare,
        commentary=commentary,
        link_url=with_utm(article_url(article, site_url), campaign=campaign),
        card_title=card_title,
        card_description=data.card_description.strip()[:2000],
        thumbnail_url=article.hero_image_url,
        state=PostState.DRAFT,
        scheduled_at=due,
        due_at=due,
        source=source,
        created_by_id=user.id if user else None,
        created_at=now,
        updated_at=now,
    )
    if state is PostState.SCHEDULED and user is not None:
        post.approved_by_id = user.id
    try:
        with session.begin_nested():
            session.add(post)
            session.flush()
    except IntegrityError:
        existing = session.scalar(
            select(Post).where(
                Post.article_id == article.id,
                Post.target_id == target.id,
                Post.is_reshare.is_(False),
                Post.state != PostState.CANCELLED,
            )
        )
        raise PostExists(existing) from None
    actor = user.email if user else source
    record(
        session,
        post,
        state,
        now=now,
        actor=actor,
        detail=f"for {due.isoformat()}" if due else "draft",
    )
    session.flush()
    return post


def _editable(post: Post) -> None:
    if post.state not in EDITABLE_STATES:
        raise NotEditable(
            f"This post is {post.state.value.replace('_', ' ')}; it can no longer be changed."
        )


def update_post(
    session: Session, post: Post, data: PostInput, *, user: User, now: datetime
) -> None:
    """Edit text and time of a post not yet claimed for sending.

    On a target that needs approval, an edit by someone who needs it sends an approved post
    back to the administrators: what they approved is no longer what would go out.
    """
    _editable(post)
    commentary = check_commentary(data.commentary)
    card_title = data.card_title.strip()[:400] or post.card_title
    card_description = data.card_description.strip()[:2000]
    moved = data.when is not None and data.when != post.scheduled_at
    if moved and data.when <= now - timedelta(minutes=1):
        raise PostError("That time is in the past.", "scheduled_at")
    changed = moved or (commentary, card_title, card_description) != (
        post.commentary,
        post.card_title,
        post.card_description,
    )
    post.commentary = commentary
    post.card_title = card_title
    post.card_description = card_description
    if moved:
        post.scheduled_at = post.due_at = data.when
    needs_ok = post.target.needs_approval and not user.is_admin
    when = f"for {post.scheduled_at.isoformat()}" if post.scheduled_at else ""
    if post.state is PostState.DRAFT and moved:
        record(
            session,
            post,
            PostState.AWAITING_APPROVAL if needs_ok else PostState.SCHEDULED,
            now=now,
            actor=user.email,
            detail=when,
        )
    elif post.state is PostState.SCHEDULED and changed and needs_ok:
        post.approved_by_id = None
        record(
            session,
            post,
            PostState.AWAITING_APPROVAL,
            now=now,
            actor=user.email,
            detail=f"edited{' and rescheduled ' + when if moved else ''}; "
            "an administrator must approve it again",
        )
    elif moved:
        record(session, post, post.state, now=now, actor=user.email, detail=f"rescheduled {when}")
    post.updated_at = now
    session.flush()


def cancel_post(session: Session, post: Post, *, user: User, now: datetime) -> None:
    _editable(post)
    record(session, post, PostState.CANCELLED, now=now, actor=user.email, detail="cancelled")
    post.due_at = None
    session.flush()


def approve_post(session: Session, post: Post, *, user: User, now: datetime) -> None:
    if not user.is_admin:
        raise NotAllowed("Only an administrator can approve posts.")
    if post.state is not PostState.AWAITING_APPROVAL:
        raise NotEditable("This post is not waiting for approval.")
    if post.due_at is None or post.due_at <= now:
        post.due_at = post.scheduled_at = next_free_slot(session, post.target, after=now)
    post.approved_by_id = user.id
    record(session, post, PostState.SCHEDULED, now=now, actor=user.email, detail="approved")
    session.flush()


def dismiss_post(session: Session, post: Post, *, now: datetime) -> None:
    """Stop showing a failed, unknown or missed post as a problem."""
    if post.state in TROUBLE_STATES:
        post.dismissed_at = now
        session.flush()


def posts_needing_attention(session: Session) -> list[Post]:
    return list(
        session.scalars(
            select(Post)
            .options(selectinload(Post.article))
            .where(Post.state.in_(TROUBLE_STATES), Post.dismissed_at.is_(None))
            .order_by(Post.updated_at.desc())
            .limit(50)
        )
    )


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


# --- auto-post rules -------------------------------------------------------------------


def rules_matching(session: Session, category_slugs: list[str]) -> list[AutoPostRule]:
    rules = session.scalars(select(AutoPostRule).where(AutoPostRule.is_active)).all()
    return [r for r in rules if not r.category_slugs or set(r.category_slugs) & set(category_slugs)]


def auto_post(
    session: Session, article: Article, *, now: datetime, site_url: str, campaign: str
) -> list[Post]:
    """Apply the auto-post rules to a newly published article (never to an edit)."""
    created = []
    for rule in rules_matching(session, [c.slug for c in article.categories]):
        for target_id in rule.target_ids:
            target = session.get(LinkedInTarget, int(target_id))
            if target is None or not target.is_active:
                continue
            data = compose_defaults(article, target, site_url=site_url, campaign=campaign)
            try:
                data.when = next_free_slot(session, target, after=now)
            except PostError:
                data.when = now + timedelta(minutes=5)
            try:
                post = create_post(
                    session,
                    article,
                    target,
                    data,
                    user=None,
                    now=now,
                    site_url=site_url,
                    campaign=campaign,
                    source="auto",
                )
            except PostExists:
                continue
            if not rule.publish_directly and post.state is PostState.SCHEDULED:
                record(
                    session,
                    post,
                    PostState.AWAITING_APPROVAL,
                    now=now,
                    actor=f"rule {rule.name}",
                    detail="held for approval by the rule",
                )
            created.append(post)
    session.flush()
    return created


# --- dashboard -------------------------------------------------------------------------


def posts_page(session: Session, *, state: PostState | None, number: int, size: int) -> Page[Post]:
    query = select(Post).options(selectinload(Post.article))
    if state is not None:
        query = query.where(Post.state == state)
    return paginate(
        session, query.order_by(Post.updated_at.desc(), Post.id.desc()), number=number, size=size
    )


def posts_for_article(session: Session, article_id: int) -> list[Post]:
    """The article's posts that still count (not cancelled), newest first."""
    return list(
        session.scalars(
            select(Post)
            .options(selectinload(Post.article))
            .where(Post.article_id == article_id, Post.state != PostState.CANCELLED)
            .order_by(Post.created_at.desc(), Post.id.desc())
            .limit(100)
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


def example_article(session: Session) -> Article:
    """The newest published article, or an unsaved sample, to try templates on."""
    from syndicate.articles.models import ArticleStatus

    newest = session.scalar(
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(1)
    )
    return newest or Article(
        title="An example title (with parentheses)",
        summary="An example summary of the article.",
        slug="example",
    )


@dataclass
class TargetSettings:
    time_zone: str
    queue_slots: str
    daily_cap: int | None
    template: str
    needs_approval: bool | None = None  # None: leave as it is


def update_target_settings(
    session: Session,
    target: LinkedInTarget,
    settings: TargetSettings,
    *,
    user: User,
    now: datetime,
    example: Article,
) -> None:
    """Change a target's posting settings after checking every one of them."""
    from syndicate.staff.services import StaffError, check_time_zone

    try:
        zone = check_time_zone(settings.time_zone.strip())
    except StaffError as exc:
        raise PostError(str(exc), "time_zone") from None
    slots = parse_slots(settings.queue_slots)
    if settings.daily_cap is not None and not 1 <= settings.daily_cap <= 100:
        raise PostError("The daily cap is a number from 1 to 100, or empty for none.", "daily_cap")
    template = settings.template.replace("\r\n", "\n").strip()
    render_template(template, example, link="https://example.test/")
    if settings.needs_approval is not None and settings.needs_approval != target.needs_approval:
        if not user.is_admin:
            raise NotAllowed("Only an administrator can change whether posts need approval.")
        target.needs_approval = settings.needs_approval
    target.time_zone = zone
    target.queue_slots = slots
    target.daily_cap = settings.daily_cap
    target.template = template
    target.updated_at = now
    session.flush()


def rules_page(session: Session, *, number: int, size: int) -> Page[AutoPostRule]:
    return paginate(
        session,
        select(AutoPostRule).order_by(AutoPostRule.name, AutoPostRule.id),
        number=number,
        size=size,
    )


def create_rule(
    session: Session,
    *,
    name: str,
    category_slugs: list[str],
    target_ids: list[int],
    publish_directly: bool,
    is_active: bool,
    user: User,
    now: datetime,
) -> AutoPostRule:
    """Add an auto-post rule; only administrators may."""
    from syndicate.articles.models import Category

    if not user.is_admin:
        raise NotAllowed("Only an administrator can manage auto-post rules.")
    name = name.strip()
    if not name:
        raise PostError("Give the rule a name.", "name")
    known = set(session.scalars(select(Category.slug).where(Category.slug.in_(category_slugs))))
    unknown = sorted(set(category_slugs) - known)
    if unknown:
        raise PostError("Unknown categories: " + ", ".join(unknown) + ".", "categories")
    if not target_ids:
        raise PostError("Choose at least one target.", "targets")
    found = set(
        session.scalars(
            select(LinkedInTarget.id).where(
                LinkedInTarget.id.in_(target_ids), LinkedInTarget.is_active
            )
        )
    )
    if found != set(target_ids):
        raise PostError("Some of those targets cannot be posted to.", "targets")
    rule = AutoPostRule(
        name=name[:200],
        category_slugs=sorted(set(category_slugs)),
        target_ids=sorted(found),
        publish_directly=publish_directly,
        is_active=is_active,
        created_by_id=user.id,
        created_at=now,
    )
    session.add(rule)
    session.flush()
    return rule


def delete_rule(session: Session, rule: AutoPostRule, *, user: User) -> None:
    if not user.is_admin:
        raise NotAllowed("Only an administrator can manage auto-post rules.")
    session.delete(rule)
    session.flush()


def category_choices(session: Session) -> list[tuple[str, str]]:
    """(slug, name) of every category, for choosing in rules."""
    from syndicate.articles.models import Category

    return [(c.slug, c.name) for c in session.scalars(select(Category).order_by(Category.name))]
