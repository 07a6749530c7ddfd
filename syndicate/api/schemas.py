"""Request and response schemas: they validate the API and generate its OpenAPI document.

Request models are strict and forbid unknown fields, so what the document promises is what
validation enforces. Every string refuses NUL (PostgreSQL cannot store it). Every integer
carries ``WHOLE_NUMBER``: JSON Schema's "integer" is any number without a fraction, 6964.0
too, which pydantic's strict mode alone would refuse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from syndicate.articles.models import ArticleStatus, BodyFormat
from syndicate.linkedin.models import ConnectionState, StatRefresh, StatSource, TargetKind
from syndicate.posts.models import PostState
from syndicate.sharing.models import PermissionState, RequestState, ShareKind, ShareWhere

NO_NUL = r"^[^\x00]*$"
MAX_ID = 2_147_483_647


def _text(max_length: int, min_length: int = 0, pattern: str = NO_NUL) -> StringConstraints:
    """The constraints of a string field: ``Annotated[str, _text(...)]``."""
    return StringConstraints(min_length=min_length, max_length=max_length, pattern=pattern)


def _unset_means_unchanged(schema: dict[str, Any]) -> None:
    """PATCH fields: absent keeps the value; the document shows no default (null is refused)."""
    schema.pop("default", None)


UNCHANGED: Any = Field(None, json_schema_extra=_unset_means_unchanged)


def _whole_number(value: Any) -> Any:
    """6964.0 is 6964, as JSON Schema's "integer" says; 6964.5, "6964" and true stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# After the bounds in an integer's Annotated, so that the bounds reach the document as
# minimum/maximum: Annotated[int, Field(ge=..., le=...), WHOLE_NUMBER].
WHOLE_NUMBER = BeforeValidator(_whole_number)

Name = Annotated[str, _text(200, 1)]
# Url and Slug hold what the article services accept, so that the document says it: an
# absolute http(s) URL ("" for none); lower-case words joined by single hyphens.
Url = Annotated[str, _text(2000, pattern=r"^(?:\s*[Hh][Tt][Tt][Pp][Ss]?://[^/?#\s\x00][^\x00]*)?$")]
Title = Annotated[str, _text(500, 1)]
Body = Annotated[str, _text(1_000_000)]
Summary = Annotated[str, _text(5000)]
Slug = Annotated[str, _text(200, 1, pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]
Alt = Annotated[str, _text(500)]
Names = Annotated[list[Name], Field(max_length=50)]
PublicId = Annotated[str, StringConstraints(min_length=1, max_length=36, pattern=NO_NUL)]
Cursor = Annotated[
    str, StringConstraints(min_length=1, max_length=500, pattern=r"^[A-Za-z0-9_.\-]+$")
]
Limit = Annotated[int, Field(ge=1, le=100), WHOLE_NUMBER]
RowId = Annotated[int, Field(ge=1, le=MAX_ID), WHOLE_NUMBER]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmptyBody(RequestModel):
    """No fields: the action needs none (an empty body or {})."""


# --- errors ----------------------------------------------------------------------------


class FieldProblem(ResponseModel):
    field: str = Field(description="Dotted path of the field in the request, e.g. `authors.0`.")
    message: str
    type: str


class ErrorInfo(ResponseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `validation_failed`.")
    message: str = Field(description="What went wrong, fit to show a person.")
    details: list[FieldProblem] | dict[str, Any] | None = Field(
        None, description="The fields at fault (validation) or facts about a conflict."
    )


class ErrorBody(ResponseModel):
    """Every error has this shape."""

    error: ErrorInfo


# --- articles --------------------------------------------------------------------------


class ArticleCreate(RequestModel):
    """A new article; it starts as a draft."""

    title: Title
    body: Body = ""
    body_format: BodyFormat = BodyFormat.HTML
    summary: Summary = ""
    slug: Slug | None = Field(None, description="Made from the title when absent.")
    canonical_url: Url | None = None
    hero_image_url: Url | None = None
    hero_image_alt: Alt = ""
    authors: Names = Field(default_factory=list)
    categories: Names = Field(default_factory=list)
    tags: Names = Field(default_factory=list)


class ArticleUpdate(RequestModel):
    """Only the fields sent change; null clears the URL fields."""

    title: Title = UNCHANGED
    body: Body = UNCHANGED
    body_format: BodyFormat = UNCHANGED
    summary: Summary = UNCHANGED
    slug: Slug = UNCHANGED
    canonical_url: Url | None = UNCHANGED
    hero_image_url: Url | None = UNCHANGED
    hero_image_alt: Alt = UNCHANGED
    authors: Names = UNCHANGED
    categories: Names = UNCHANGED
    tags: Names = UNCHANGED


class ArticleListQuery(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    limit: Limit = 20
    cursor: Cursor | None = Field(None, description="`next_cursor` of the previous page.")
    status: ArticleStatus | None = None


class ArticleSummaryOut(ResponseModel):
    public_id: str
    slug: str
    url: str = Field(description="The public page (the canonical URL when the article has one).")
    title: str
    summary: str
    status: ArticleStatus
    canonical_url: str | None
    hero_image_url: str | None
    hero_image_alt: str
    authors: list[str]
    categories: list[str]
    tags: list[str]
    published_at: datetime | None
    updated_at: datetime
    created_at: datetime


class ArticleOut(ArticleSummaryOut):
    body_format: BodyFormat
    body: str = Field(description="As written (HTML or Markdown).")
    body_html: str = Field(description="Sanitised HTML, as readers see it.")


class ArticleList(ResponseModel):
    items: list[ArticleSummaryOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


# --- posts -----------------------------------------------------------------------------


class LocalTimeIn(RequestModel):
    """A wall-clock time in a zone; DST gaps move forward, repeated times take the first."""

    local: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")] = Field(
        examples=["2026-03-29T09:00"]
    )
    time_zone: Annotated[
        str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_+\-/]+$")
    ] = Field(examples=["Europe/Berlin"])


When = AwareDatetime | LocalTimeIn


class ScheduleIn(RequestModel):
    scheduled_at: When | None = Field(
        None,
        description="RFC 3339 with an offset (2026-03-29T09:00:00+02:00) or "
        '{"local": "2026-03-29T09:00", "time_zone": "Europe/Berlin"}.',
    )
    queue: bool = Field(False, description="true: the target's next free queue slot.")


class PostCreate(ScheduleIn):
    """Give exactly one of `scheduled_at`, `queue: true` or `draft: true`."""

    article: PublicId = Field(description="The article's public_id.")
    target: RowId | Annotated[str, _text(100, 1)] = Field(
        description="The target's id, or its URN (urn:li:person:… / urn:li:organization:…)."
    )
    commentary: Annotated[str, _text(10_000, 1)] | None = Field(
        None, description="The post's text; default: the target's template filled in."
    )
    card_title: Annotated[str, _text(400)] | None = None
    card_description: Annotated[str, _text(2000)] | None = None
    draft: bool = False
    reshare: bool = Field(False, description="Post an article again to a target it went to.")


class RescheduleIn(ScheduleIn):
    """Give exactly one of `scheduled_at` or `queue: true`."""


class PostListQuery(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    limit: Limit = 20
    cursor: Cursor | None = None
    state: PostState | None = None


class TargetRef(ResponseModel):
    id: int
    urn: str
    display_name: str


class HistoryOut(ResponseModel):
    at: datetime
    from_state: str | None
    to_state: str
    attempt: int
    actor: str
    http_status: int | None
    detail: str


class HistoryList(ResponseModel):
    items: list[HistoryOut]


class PostOut(ResponseModel):
    id: int
    article: str = Field(description="The article's public_id.")
    article_title: str
    target: TargetRef
    state: PostState
    commentary: str
    card_title: str
    card_description: str
    link_url: str
    thumbnail_url: str | None
    is_reshare: bool
    source: str
    scheduled_at: datetime | None
    due_at: datetime | None
    published_at: datetime | None
    linkedin_urn: str | None
    last_error: str
    attempt: int
    created_at: datetime
    updated_at: datetime
    schedule_note: str | None = Field(
        None, description="Set when a local time fell into a DST change."
    )
    history: list[HistoryOut] | None = Field(None, description="Only on GET /posts/{post_id}.")


class PostList(ResponseModel):
    items: list[PostOut]
    next_cursor: str | None


class FiguresOut(ResponseModel):
    """LinkedIn's lifetime counts at one moment; null where the API that gave them has none
    (socialActions gives only reactions and comments, member analytics no clicks)."""

    taken_at: datetime
    source: StatSource = Field(
        description="organization: page statistics; member_analytics: memberCreatorPostAnalytics;"
        " social_actions: socialActions."
    )
    impressions: int | None
    clicks: int | None
    reactions: int | None
    comments: int | None
    reposts: int | None
    engagement_rate: float | None = Field(
        description="(clicks + reactions + comments + reposts) / impressions; null without "
        "impressions."
    )


class StatsRefreshOut(ResponseModel):
    state: StatRefresh = Field(
        description="waiting (next_at says when), fetching, done (past the schedule) or gone "
        "(LinkedIn no longer has the post)."
    )
    next_at: datetime | None
    last_error: str
    last_error_at: datetime | None


class PostStatsOut(ResponseModel):
    post_id: int
    linkedin_urn: str | None
    latest: FiguresOut | None = Field(description="null until the first fetch succeeded.")
    refresh: StatsRefreshOut | None = Field(
        description="null for a post that is not published (nothing to fetch)."
    )
    series: list[FiguresOut] = Field(description="Every sample, oldest first (at most 500).")


class BestTimeOut(ResponseModel):
    weekday: int = Field(description="0 is Monday.")
    time: str = Field(description="HH:00 in the target's time zone.")
    engagement_rate: float = Field(description="The slot's engagements ÷ impressions.")
    score: float = Field(description="The smoothed rate the slots are ranked by.")
    posts: int
    impressions: int
    engagements: int


class BestTimesOut(ResponseModel):
    target_id: int
    time_zone: str
    days: int = Field(description="Only posts published in the last this many days count.")
    min_posts: int = Field(description="The posts a slot needs before it is suggested.")
    posts: int = Field(description="Posts with impressions in the period, all slots.")
    suggestions: list[BestTimeOut] = Field(description="Best first; empty without enough data.")
    message: str = Field(description="Why there are no suggestions; empty when there are.")


# --- connections and feeds -------------------------------------------------------------


class QueueSlot(ResponseModel):
    weekday: int = Field(description="0 is Monday.")
    time: str = Field(description="HH:MM in the target's time zone.")


class TargetOut(ResponseModel):
    id: int
    urn: str
    kind: TargetKind
    display_name: str
    time_zone: str
    is_active: bool
    needs_approval: bool
    daily_cap: int | None
    queue_slots: list[QueueSlot]


class ConnectionOut(ResponseModel):
    id: int
    name: str
    member_urn: str
    state: ConnectionState
    state_reason: str
    expires_at: datetime | None
    expires_in_days: int | None = Field(description="Whole days until the access token expires.")
    refresh_expires_at: datetime | None
    last_refreshed_at: datetime | None
    scopes: list[str]
    targets: list[TargetOut]


class ConnectionList(ResponseModel):
    items: list[ConnectionOut]


class FeedOut(ResponseModel):
    kind: Literal["site", "category", "tag", "author"]
    slug: str | None
    name: str
    format: Literal["rss", "atom", "json"]
    content_type: str
    url: str


class FeedList(ResponseModel):
    items: list[FeedOut]
    opml_url: str


# --- share requests --------------------------------------------------------------------


class ShareRequestListQuery(RequestModel):
    model_config = ConfigDict(extra="forbid", strict=False)

    limit: Limit = 20
    cursor: Cursor | None = None
    state: RequestState | None = Field(None, description="Unverified requests are never listed.")
    kind: ShareKind | None = None


class PermissionOut(ResponseModel):
    public_id: str
    record_url: str = Field(description="The public, signed permission record.")
    state: PermissionState
    granted_at: datetime
    expires_at: datetime | None


class ShareEventOut(ResponseModel):
    at: datetime
    actor: str = Field(description="staff, reader or system, with the staff member's name.")
    from_state: str | None
    to_state: str
    note: str


class ShareRequestOut(ResponseModel):
    public_id: str
    article: str = Field(description="The article's public_id.")
    article_title: str
    requester_name: str
    requester_email: str
    where: ShareWhere
    where_url: str | None
    audience_size: int | None
    kind: ShareKind
    excerpt_words: int | None
    language: str | None
    message: str
    state: RequestState
    decision_note: str
    credit_line: str | None
    link_required: bool
    excerpt_limit: int | None
    expires_at: datetime | None
    verified_at: datetime | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime
    permission: PermissionOut | None
    history: list[ShareEventOut] | None = Field(
        None, description="Only on GET /share-requests/{public_id}."
    )


class ShareRequestList(ResponseModel):
    items: list[ShareRequestOut]
    next_cursor: str | None


class DecisionIn(RequestModel):
    """grant (with conditions), deny (with a reason) or ask (a question for the reader)."""

    decision: Literal["grant", "deny", "ask"]
    note: Annotated[str, _text(5000)] = Field(
        "", description="The reason (deny, required), the question (ask, required), or a note."
    )
    credit_line: Annotated[str, _text(500, 1)] | None = Field(
        None, description="grant; default: the usual one."
    )
    link_required: bool = True
    excerpt_limit: Annotated[int, Field(ge=1, le=1_000_000), WHOLE_NUMBER] | None = Field(
        None, description="grant; default: the words the reader asked for (excerpts)."
    )
    expires_at: AwareDatetime | None = Field(None, description="grant; default: never.")
