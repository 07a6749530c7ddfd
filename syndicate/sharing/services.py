"""Share requests from asking to deciding: functions take a session first and never commit.

The path: a reader submits a request (``unverified``), confirms it from an emailed, signed,
single-use link (``pending``, or granted at once by the publisher's rules), staff ask for
more, approve with conditions, deny or revoke; jobs remind, close and expire. Every change
is one conditional UPDATE (so two people or processes cannot both make it), one audit row
and one email to the reader with their private link.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Flask, current_app
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse as parse_limit
from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, lazyload, load_only, selectinload

from syndicate import events, wording
from syndicate.articles.models import Article, ArticleStatus
from syndicate.articles.services import Page, find_public_by_slug
from syndicate.config import _as_bool, _as_duration, derived, site_name
from syndicate.db import UTCDateTime, new_public_id
from syndicate.errors import DomainError
from syndicate.mail.models import MAIL_KIND, Mail
from syndicate.mail.services import MailError, check_address, queue_mail
from syndicate.outbox import enqueue_statement
from syndicate.sharing import emails
from syndicate.sharing.models import (
    INBOX_STATES,
    OPEN_STATES,
    ActorKind,
    Permission,
    PermissionState,
    RequestState,
    ShareKind,
    ShareLink,
    ShareRequest,
    ShareRequestEvent,
    ShareWhere,
    StandingPermission,
)
from syndicate.sharing.signing import Signer, canonical_json, signer_for
from syndicate.staff.models import User
from syndicate.web.services import raise_alert, resolve_alert

MAX_NAME = 200
MAX_EMAIL = 320
MAX_URL = 2000
MAX_MESSAGE = 5000
MAX_NOTE = 5000
MAX_CREDIT = 500
MAX_WORDS = 1_000_000
MAX_AUDIENCE = 1_000_000_000
MAX_FORM_AGE = timedelta(days=2)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LANGUAGE = re.compile(r"[^\W\d_][\w .()'-]{0,62}", re.UNICODE)
_LINKEDIN_HOSTS = ("linkedin.com", "www.linkedin.com", "lnkd.in")

# --- settings and context -----------------------------------------------------------------

DEFAULTS: dict[str, Any] = {
    "SHARING_PUBLISHER_NAME": "",
    "SHARING_CONTACT_EMAIL": "",
    "SHARING_AUTO_GRANT_LINKS": True,
    "SHARING_AUTO_GRANT_EXCERPT_WORDS": 0,
    "SHARING_MIN_FILL_SECONDS": 3.0,
    "SHARING_VERIFY_TTL": timedelta(hours=48),
    "SHARING_UNVERIFIED_TTL": timedelta(days=7),
    "SHARING_REMIND_AFTER": timedelta(days=7),
    "SHARING_CLOSE_AFTER": timedelta(days=30),
    "SHARING_WARN_BEFORE": timedelta(days=14),
    "SHARING_NOTIFY_CORRECTIONS": True,
    "SHARING_RATE_LIMIT_IP": "5 per hour",
    "SHARING_RATE_LIMIT_EMAIL": "3 per day",
}


def setting(config: Any, name: str) -> Any:
    value = config.get(name)
    return DEFAULTS[name] if value is None or value == "" else value


@dataclass(frozen=True)
class SharingSettings:
    """The publisher's rules and the feature's time limits (SYNDICATE_SHARING_* settings)."""

    publisher_name: str
    contact_email: str | None
    auto_grant_links: bool
    auto_grant_excerpt_words: int
    min_fill: timedelta
    verify_ttl: timedelta
    unverified_ttl: timedelta
    remind_after: timedelta
    close_after: timedelta
    warn_before: timedelta
    notify_corrections: bool
    # How many requests one email address may send, and over how long.
    email_allowance: tuple[int, timedelta]

    @classmethod
    def from_config(cls, config: Any) -> SharingSettings:
        return cls(
            publisher_name=str(setting(config, "SHARING_PUBLISHER_NAME") or site_name(config)),
            contact_email=str(setting(config, "SHARING_CONTACT_EMAIL")) or None,
            auto_grant_links=_as_bool(setting(config, "SHARING_AUTO_GRANT_LINKS")),
            auto_grant_excerpt_words=max(
                0, int(setting(config, "SHARING_AUTO_GRANT_EXCERPT_WORDS"))
            ),
            min_fill=_as_duration(setting(config, "SHARING_MIN_FILL_SECONDS")),
            verify_ttl=_as_duration(setting(config, "SHARING_VERIFY_TTL")),
            unverified_ttl=_as_duration(setting(config, "SHARING_UNVERIFIED_TTL")),
            remind_after=_as_duration(setting(config, "SHARING_REMIND_AFTER")),
            close_after=_as_duration(setting(config, "SHARING_CLOSE_AFTER")),
            warn_before=_as_duration(setting(config, "SHARING_WARN_BEFORE")),
            notify_corrections=_as_bool(setting(config, "SHARING_NOTIFY_CORRECTIONS")),
            email_allowance=_allowance(str(setting(config, "SHARING_RATE_LIMIT_EMAIL"))),
        )


# Every setting Sharing.for_app reads; a change to any of them builds a new context.
_CONTEXT_SETTINGS = (*DEFAULTS, "SITE_NAME", "FEED_TITLE", "SITE_URL", "SECRET_KEY", "TIME_ZONE")


def _allowance(text: str) -> tuple[int, timedelta]:
    """'3 per day' as (3, one day), in the rate-limit notation Flask-Limiter uses."""
    item = parse_limit(text)
    return item.amount, timedelta(seconds=item.get_expiry())


@dataclass(frozen=True)
class Sharing:
    """What the services need beside the session: rules, the public base URL, keys."""

    settings: SharingSettings
    site_url: str
    secret_key: str
    signer: Signer
    time_zone: str = "UTC"

    @classmethod
    def for_app(cls, app: Flask | None = None) -> Sharing:
        """The app's context, built again only when one of the settings it reads changed.

        Settings are read per request (tests and benchmarks change them on a running app);
        comparing them is cheaper than parsing durations and rate limits every time.
        """
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]

        def build(config: Mapping[str, Any]) -> Sharing:
            return cls(
                settings=SharingSettings.from_config(config),
                site_url=str(config["SITE_URL"]).rstrip("/"),
                secret_key=str(config["SECRET_KEY"]),
                signer=signer_for(app),
                time_zone=str(config.get("TIME_ZONE") or "UTC"),
            )

        return derived(app, "sharing_context", _CONTEXT_SETTINGS, build)

    def url(self, path: str) -> str:
        return self.site_url + path

    def private_token(self, request: ShareRequest) -> str:
        """The reader's private key to their request: derived, so emails can repeat it.

        Only its SHA-256 is stored; without SECRET_KEY the database alone reveals nothing.
        """
        digest = hmac.new(
            self.secret_key.encode(), f"sharing-private:{request.public_id}".encode(), "sha256"
        ).digest()
        return _b64(digest)

    def private_url(self, request: ShareRequest) -> str:
        return self.url(f"/sharing/r/{self.private_token(request)}")

    def record_url(self, permission: Permission) -> str:
        return self.url(f"/permissions/{permission.public_id}")

    def share_url(self, link: ShareLink) -> str:
        return self.url(f"/s/{link.code}")

    def form_url(self, article: Article) -> str:
        return self.url(f"/articles/{article.slug}/share")

    def when(self, moment: datetime | None) -> str:
        return emails.when(moment, self.time_zone)

    def valid_until(self, ends_at: datetime) -> str:
        """A permission's end for its reader (the site's zone); see emails.valid_until."""
        return emails.valid_until(ends_at, self.time_zone)


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def canonical_url(article: Article, site_url: str) -> str:
    """Where the article lives: its canonical URL if it has one, else its page here."""
    return article.canonical_url or f"{site_url}/articles/{article.slug}"


# --- errors ---------------------------------------------------------------------------------


class SharingError(DomainError):
    """Bad input or a refused action; the message is fit to show and names the field."""


class RequestRefused(SharingError):
    """A submission that looks automated (honeypot, too fast, altered form): nothing stored."""

    status = 400


class LinkProblem(SharingError):
    """A verification link that was altered (400), has expired or was used already (410)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, status=status)


class TooManyRequests(SharingError):
    """This email address has sent as many requests as the publisher allows for now."""

    status = 429


class InvalidTransition(SharingError):
    """The request is no longer in a state that allows this (someone else acted first)."""

    status = 409
    code = "invalid_transition"


# --- who acts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user_id: int | None = None
    label: str = ""

    @classmethod
    def staff(cls, user: User) -> Actor:
        return cls(ActorKind.STAFF, user.id, user.label[:200])


READER = Actor(ActorKind.READER, label="reader")
SYSTEM = Actor(ActorKind.SYSTEM, label="system")


# --- the form: input, fill time ------------------------------------------------------------


@dataclass
class RequestInput:
    """What a reader puts in the share form."""

    name: str
    email: str
    where: str
    where_url: str | None = None
    audience_size: int | None = None
    kind: str = ShareKind.LINK.value
    excerpt_words: int | None = None
    language: str | None = None
    message: str = ""


@dataclass(frozen=True)
class CleanInput:
    name: str
    email: str
    where: ShareWhere
    where_url: str | None
    audience_size: int | None
    kind: ShareKind
    excerpt_words: int | None
    language: str | None
    message: str


def _text(value: str | None, limit: int, field_name: str, label: str, *, required: bool) -> str:
    value = _CONTROL.sub("", value or "").strip()
    if required and not value:
        raise SharingError(f"Please fill in {label}.", field_name)
    if len(value) > limit:
        raise SharingError(
            f"{label[0].upper() + label[1:]} has at most {limit} characters.", field_name
        )
    return value


def check_http_url(value: str | None, field_name: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(value) > MAX_URL:
        raise SharingError("Give a full web address starting with https://.", field_name)
    if _CONTROL.search(value) or " " in value:
        raise SharingError("A web address cannot contain spaces.", field_name)
    return value


def clean_input(data: RequestInput) -> CleanInput:
    """Check and normalise a submission; SharingError names the first bad field."""
    name = _text(data.name, MAX_NAME, "name", "your name", required=True)
    try:
        email = check_address(_text(data.email, MAX_EMAIL, "email", "your email", required=True))
    except MailError:
        raise SharingError("That is not an email address we can write to.", "email") from None
    email = email.lower()
    try:
        where = ShareWhere(data.where)
    except ValueError:
        raise SharingError("Choose where you will share the article.", "where") from None
    where_url = check_http_url(data.where_url, "where_url")
    if where_url is None and where is not ShareWhere.OTHER:
        raise SharingError(f"Give the address of your {where.label.lower()}.", "where_url")
    if where in {ShareWhere.LINKEDIN_PROFILE, ShareWhere.LINKEDIN_PAGE} and where_url:
        host = (urlsplit(where_url).hostname or "").lower()
        if host not in _LINKEDIN_HOSTS and not host.endswith(".linkedin.com"):
            raise SharingError("Give the address of your page on linkedin.com.", "where_url")
    audience = data.audience_size
    if audience is not None and not 0 <= audience <= MAX_AUDIENCE:
        raise SharingError(
            "Give your audience as a number of people, or leave it empty.", "audience_size"
        )
    try:
        kind = ShareKind(data.kind)
    except ValueError:
        raise SharingError("Choose what you would like to do.", "kind") from None
    words = None
    language = None
    if kind is ShareKind.EXCERPT:
        words = data.excerpt_words
        if words is None or not 1 <= words <= MAX_WORDS:
            raise SharingError("Say how many words you would like to quote.", "excerpt_words")
    if kind is ShareKind.TRANSLATION:
        language = _text(data.language, 64, "language", "the language", required=True)
        if not _LANGUAGE.fullmatch(language):
            raise SharingError("Name the language in words, e.g. German.", "language")
    message = _text(data.message, MAX_MESSAGE, "message", "your message", required=False)
    return CleanInput(name, email, where, where_url, audience, kind, words, language, message)


@functools.lru_cache(maxsize=16)
def _serializer(secret_key: str, salt: str) -> URLSafeSerializer:
    # Built once per key and purpose: the forms and links of every request share it.
    return URLSafeSerializer(secret_key, salt=salt)


def form_started_token(ctx: Sharing, article: Article, *, now: datetime) -> str:
    """A signed stamp of the form: when it was shown (for the minimum fill time), for which
    article, and under which title (the one the confirmation email then names)."""
    return _serializer(ctx.secret_key, "sharing-form").dumps(
        {"a": article.public_id, "h": article.title, "t": int(now.timestamp())}
    )


@dataclass(frozen=True)
class ShownForm:
    """What a form's stamp says about the article it was shown for."""

    article_id: str  # the public id
    # None in stamps made before titles were stamped: store_request then looks it up.
    title: str | None


_ALTERED_FORM = (
    "The form was altered or is incomplete. Please reload the page and fill it in again."
)


def check_fill_time(ctx: Sharing, token: str, *, now: datetime) -> ShownForm:
    """Refuse forms sent faster than a person fills them, or whose stamp was altered.

    Returns the article the form was shown for (``check_form_article`` compares it once the
    article is loaded): the check needs no database.
    """
    try:
        stamp = _serializer(ctx.secret_key, "sharing-form").loads(token or "")
        shown_at = datetime.fromtimestamp(int(stamp["t"]), UTC)
        shown = ShownForm(str(stamp["a"]), None if stamp.get("h") is None else str(stamp["h"]))
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError, AttributeError):
        raise RequestRefused(_ALTERED_FORM) from None
    if now - shown_at < ctx.settings.min_fill:
        raise RequestRefused(
            "That was quicker than a person fills in this form. Please check your answers, "
            "wait a few seconds and send it again."
        )
    if now - shown_at > MAX_FORM_AGE:
        raise RequestRefused("This form is too old. Please reload the page and send it again.")
    return shown


def check_form_article(article: Article, shown: ShownForm) -> None:
    """Refuse a form whose stamp was made for another article's form."""
    if shown.article_id != article.public_id:
        raise RequestRefused(_ALTERED_FORM)


# --- asking ---------------------------------------------------------------------------------


def _log(
    session: Session,
    request: ShareRequest,
    actor: Actor,
    from_state: RequestState | None,
    to_state: RequestState,
    *,
    now: datetime,
    note: str = "",
) -> None:
    session.add(
        ShareRequestEvent(
            request_id=request.id,
            at=now,
            actor_kind=actor.kind,
            actor_user_id=actor.user_id,
            actor_label=actor.label,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            note=note,
        )
    )


def _mail(
    session: Session, ctx: Sharing, request: ShareRequest, letter: emails.Letter, *, now: datetime
) -> None:
    private_url = ctx.private_url(request) if request.verified_at else None
    queue_mail(
        session,
        _email(ctx, letter, request.requester_email, request.requester_name, private_url, now=now),
    )


def _email(
    ctx: Sharing,
    letter: emails.Letter,
    to: str,
    name: str,
    private_url: str | None,
    *,
    now: datetime,
) -> Mail:
    """The letter to one sharer, from this publisher, replies going to its contact address."""
    return emails.compose(
        letter,
        to=to,
        name=name,
        publisher=ctx.settings.publisher_name,
        private_url=private_url,
        now=now,
        reply_to=ctx.settings.contact_email,
    )


@dataclass(frozen=True)
class NewRequest:
    """A checked submission, built in memory: its row (all but the article) and the link
    that confirms it. ``store_request`` writes it for an article."""

    row: dict[str, Any]
    scope: str
    verify_url: str


def prepare_request(clean: CleanInput, *, now: datetime, ctx: Sharing) -> NewRequest:
    """Build a checked submission's row and verification link; nothing is stored."""
    nonce = secrets.token_urlsafe(16)
    public_id = new_public_id()
    row = {
        "public_id": public_id,
        "requester_name": clean.name,
        "requester_email": clean.email,
        "where": clean.where,
        "where_url": clean.where_url,
        "audience_size": clean.audience_size,
        "kind": clean.kind,
        "excerpt_words": clean.excerpt_words,
        "language": clean.language,
        "message": clean.message,
        "state": RequestState.UNVERIFIED,
        "decision_note": "",
        "link_required": True,
        "verify_nonce_hash": token_hash(nonce),
        "created_at": now,
        "updated_at": now,
    }
    token = _serializer(ctx.secret_key, "sharing-verify").dumps(
        {"r": public_id, "n": nonce, "e": int((now + ctx.settings.verify_ttl).timestamp())}
    )
    return NewRequest(row, describe_scope(clean), ctx.url(f"/sharing/verify/{token}"))


_REQUESTS = ShareRequest.__table__
_ARTICLES = Article.__table__
_ROW = (
    "public_id",
    "requester_name",
    "requester_email",
    "where",
    "where_url",
    "audience_size",
    "kind",
    "excerpt_words",
    "language",
    "message",
    "state",
    "decision_note",
    "link_required",
    "verify_nonce_hash",
    "created_at",
    "updated_at",
)
# Requests this address sent within the allowance period. SQLite: a plain count, since the
# caller holds the write lock, so no other submission comes between it and the insert.
_SENT_SINCE = (
    select(func.count())
    .select_from(_REQUESTS)
    .where(
        _REQUESTS.c.requester_email == bindparam("requester_email"),
        _REQUESTS.c.created_at > bindparam("since", type_=UTCDateTime()),
    )
    .scalar_subquery()
)
# PostgreSQL: the same count after a lock on the address, held until the statement commits
# (migration 0009). A count in the statement itself would read the snapshot taken when the
# statement began and miss requests that simultaneous forms are storing, lock or not; the
# function's count reads a fresh one once the lock is granted. One round trip still.
_SENT_SINCE_IN_TURN = func.share_requests_sent_since(
    bindparam("requester_email"), bindparam("since", type_=UTCDateTime())
)


def _insert_request(sent_since: Any) -> Any:
    """One statement checks and stores: the article at this address is published and is the
    one whose form was filled in, and the sender's address is within its allowance; then the
    row goes in and its id comes back (nothing comes back when a check fails). Each value is
    typed, so that PostgreSQL knows the type of a NULL."""
    return (
        insert(_REQUESTS)
        .from_select(
            ("article_id", *_ROW),
            select(
                _ARTICLES.c.id,
                *(bindparam(name, type_=_REQUESTS.c[name].type) for name in _ROW),
            ).where(
                _ARTICLES.c.slug == bindparam("slug"),
                _ARTICLES.c.public_id == bindparam("form_for"),
                _ARTICLES.c.status == ArticleStatus.PUBLISHED,
                sent_since < bindparam("allowance"),
            ),
        )
        .returning(_REQUESTS.c.id)
    )


_INSERT_REQUEST = _insert_request(_SENT_SINCE)
_INSERT_MAIL = enqueue_statement(MAIL_KIND)
# PostgreSQL: both in one statement (a data-modifying WITH), atomic on its own: the
# verification email is queued exactly when the request row went in.
_STORED_REQUEST = _insert_request(_SENT_SINCE_IN_TURN).cte("stored_request")
_INSERT_REQUEST_AND_MAIL = select(_STORED_REQUEST.c.id).add_cte(
    enqueue_statement(MAIL_KIND, for_each=_STORED_REQUEST).cte("verification_mail")
)
_TITLE_OF = select(_ARTICLES.c.title).where(_ARTICLES.c.public_id == bindparam("public_id"))


def store_request(
    connection: Connection,
    new: NewRequest,
    *,
    slug: str,
    shown: ShownForm,
    now: datetime,
    ctx: Sharing,
) -> int | None:
    """Store an unverified request and queue its verification email; returns the row's id.

    The request is for the published article at ``slug``, whose form was shown for the
    article ``shown`` names. None, with nothing stored, when that is not so or when the
    sender's address has used up its allowance: at most N requests per address per period
    (SYNDICATE_SHARING_RATE_LIMIT_EMAIL), counted in the database so that every worker
    agrees and refused forms cost nothing, and never exceeded however many forms from one
    address arrive at once: their checks take turns (a lock on the address on PostgreSQL,
    the write lock on SQLite). The per-client limit, which must stop floods before any
    work, is the view's.

    Core statements on the caller's connection: nothing reads the rows back as objects, and
    every submission would pay for the ORM's bookkeeping otherwise. On PostgreSQL this is
    one statement, atomic by itself, so the caller needs no transaction around it
    (``Database.statement_connection``). SQLite has no data-modifying WITH: there it is two
    statements, and the caller holds the write lock (BEGIN IMMEDIATE), so that no other
    submission comes between the count and the insert.
    """
    title = shown.title or connection.scalar(_TITLE_OF, {"public_id": shown.article_id})
    if title is None:
        return None  # no such article: the insert would find none either
    # The audit log of a request starts when it is confirmed (see _confirmed): most
    # unconfirmed requests are bots' and are deleted unseen, so they cost one row here.
    letter = emails.verify(
        title,
        new.scope,
        new.verify_url,
        works_for=ctx.settings.verify_ttl,
        deleted_after=ctx.settings.unverified_ttl,
    )
    # No private link yet: it comes with confirming the address.
    mail = _email(ctx, letter, new.row["requester_email"], new.row["requester_name"], None, now=now)
    amount, period = ctx.settings.email_allowance
    values = {
        **new.row,
        "slug": slug,
        "form_for": shown.article_id,
        "since": now - period,
        "allowance": amount,
        "message_payload": mail.to_payload(),
        "message_at": now,
    }
    if connection.dialect.name == "postgresql":
        return connection.scalar(_INSERT_REQUEST_AND_MAIL, values)
    request_id = connection.scalar(_INSERT_REQUEST, values)
    if request_id is not None:
        connection.execute(_INSERT_MAIL, values)
    return request_id


def allowance_used_up(
    session: Session, email: str, *, now: datetime, ctx: Sharing
) -> TooManyRequests:
    """The refusal of a form whose address has used its allowance, saying when the reader
    may send again: when the Nth newest of its requests leaves the allowance period."""
    amount, period = ctx.settings.email_allowance
    nth_newest = session.scalar(
        select(ShareRequest.created_at)
        .where(ShareRequest.requester_email == email, ShareRequest.created_at > now - period)
        .order_by(ShareRequest.created_at.desc())
        .offset(max(0, amount - 1))
        .limit(1)
    )
    again_at = max(now, (nth_newest or now) + period)
    return TooManyRequests(
        f"You have sent {wording.count(amount, 'request')} from this email address within "
        f"{wording.duration(period)}, as many as we accept. You can send another in "
        f"{wording.duration(again_at - now)}, from {ctx.when(again_at)}. If you are waiting "
        "for a confirmation email, check your spam folder.",
        "email",
    )


def submit_request(
    session: Session, article: Article, data: RequestInput, *, now: datetime, ctx: Sharing
) -> ShareRequest:
    """Store an unverified request and email its verification link."""
    if not article.is_published:
        raise SharingError("This article is not published, so it cannot be shared.")
    new = prepare_request(clean_input(data), now=now, ctx=ctx)
    shown = ShownForm(article.public_id, article.title)
    request_id = store_request(
        session.connection(), new, slug=article.slug, shown=shown, now=now, ctx=ctx
    )
    if request_id is None:
        raise allowance_used_up(session, new.row["requester_email"], now=now, ctx=ctx)
    request = session.get(ShareRequest, request_id)
    assert request is not None
    return request


def check_verification(
    session: Session, token: str, *, now: datetime, ctx: Sharing
) -> tuple[ShareRequest, str]:
    """The request a verification link is for, and its nonce's hash; LinkProblem if unusable."""
    try:
        claims = _serializer(ctx.secret_key, "sharing-verify").loads(token)
        public_id, nonce, expires = str(claims["r"]), str(claims["n"]), int(claims["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise LinkProblem(
            "This confirmation link is not valid: it may have been cut short or altered. "
            "Copy the whole link from the email, or send the request again.",
            400,
        ) from None
    request = session.scalar(select(ShareRequest).where(ShareRequest.public_id == public_id))
    if request is None:
        raise LinkProblem(
            "This confirmation link has expired and its request was deleted. "
            "Please send the request again.",
            410,
        )
    if request.verified_at is not None or request.verify_nonce_hash is None:
        raise LinkProblem(
            "This confirmation link was used already. Your request is with the publisher; "
            "the email that confirmed it holds your private link.",
            410,
        )
    if not hmac.compare_digest(request.verify_nonce_hash, token_hash(nonce)):
        raise LinkProblem("This confirmation link is not valid.", 400)
    if now.timestamp() > expires:
        raise LinkProblem("This confirmation link has expired. Please send the request again.", 410)
    return request, request.verify_nonce_hash


def verify_request(session: Session, token: str, *, now: datetime, ctx: Sharing) -> ShareRequest:
    """Confirm the email address once: the request reaches the inbox or is granted by rule."""
    request, nonce_hash = check_verification(session, token, now=now, ctx=ctx)
    used = session.execute(
        update(ShareRequest)
        .where(
            ShareRequest.id == request.id,
            ShareRequest.verify_nonce_hash == nonce_hash,
            ShareRequest.state == RequestState.UNVERIFIED,
        )
        .values(
            verify_nonce_hash=None,
            verified_at=now,
            state=RequestState.PENDING,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        # Another click of the same link got there first.
        raise LinkProblem("This confirmation link was used already.", 410)
    session.refresh(request)
    _confirmed(session, request, now=now, ctx=ctx)
    events.emit(
        session, "share_request.created", request.public_id, _event_payload(request), now=now
    )
    session.flush()
    if not apply_rules(session, request, now=now, ctx=ctx):
        _mail(session, ctx, request, emails.received(request.article.title), now=now)
    session.flush()
    return request


def _confirmed(session: Session, request: ShareRequest, *, now: datetime, ctx: Sharing) -> None:
    """Give the reader their private key and start the audit log with both first steps."""
    request.private_token_hash = token_hash(ctx.private_token(request))
    _log(
        session,
        request,
        READER,
        None,
        RequestState.UNVERIFIED,
        now=request.created_at,
        note="Sent from the share form.",
    )
    _log(
        session,
        request,
        READER,
        RequestState.UNVERIFIED,
        RequestState.PENDING,
        now=now,
        note="Email address confirmed.",
    )


def find_by_private_token(session: Session, token: str) -> ShareRequest | None:
    """The request this private token opens; the token is the only key a reader has."""
    if not token or len(token) > 100:
        return None
    return session.scalar(
        select(ShareRequest).where(ShareRequest.private_token_hash == token_hash(token))
    )


# --- deciding: rules ------------------------------------------------------------------------


def describe_scope(request: ShareRequest | CleanInput) -> str:
    kind = request.kind
    if kind is ShareKind.LINK:
        return "a link to it"
    if kind is ShareKind.EXCERPT:
        return f"an excerpt of up to {wording.count(request.excerpt_words or 0, 'word')}"
    if kind is ShareKind.TRANSLATION:
        return f"a translation into {request.language}"
    return "full republication"


def apply_rules(session: Session, request: ShareRequest, *, now: datetime, ctx: Sharing) -> bool:
    """Grant at once what the publisher's rules allow; True when the request was granted."""
    rules = ctx.settings
    if request.kind is ShareKind.LINK and rules.auto_grant_links:
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=SYSTEM,
            now=now,
            ctx=ctx,
            note="Linking needs no permission; granted automatically with a record and a "
            "tracked link.",
        )
        return True
    if (
        request.kind is ShareKind.EXCERPT
        and rules.auto_grant_excerpt_words
        and (request.excerpt_words or 0) <= rules.auto_grant_excerpt_words
    ):
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=SYSTEM,
            now=now,
            ctx=ctx,
            note=f"Excerpts up to {wording.count(rules.auto_grant_excerpt_words, 'word')} are "
            "granted automatically.",
        )
        return True
    standing = _use_standing_permission(session, request, now=now)
    if standing is not None:
        request.standing_permission_id = standing.id
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=SYSTEM,
            now=now,
            ctx=ctx,
            note=f"Granted under the standing permission for {standing.who}.",
        )
        return True
    return False


def _use_standing_permission(
    session: Session, request: ShareRequest, *, now: datetime
) -> StandingPermission | None:
    """Take one use of a standing permission covering this request, if one has any left."""
    domain = request.requester_email.rpartition("@")[2]
    candidates = session.scalars(
        select(StandingPermission)
        .where(
            or_(
                StandingPermission.email == request.requester_email,
                StandingPermission.domain == domain,
            ),
            or_(StandingPermission.ends_at.is_(None), StandingPermission.ends_at > now),
        )
        .order_by(StandingPermission.email.is_(None), StandingPermission.id)
    ).all()
    for standing in candidates:
        if request.kind.value not in (standing.kinds or []):
            continue
        # Conditional, so two requests racing for the last use cannot both get it.
        taken = session.execute(
            update(StandingPermission)
            .where(
                StandingPermission.id == standing.id,
                or_(
                    StandingPermission.quota.is_(None),
                    StandingPermission.used < StandingPermission.quota,
                ),
            )
            .values(used=StandingPermission.used + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:
            session.refresh(standing)
            return standing
    return None


# --- deciding: staff actions ----------------------------------------------------------------


@dataclass(frozen=True)
class Conditions:
    credit_line: str
    link_required: bool = True
    excerpt_limit: int | None = None
    expires_at: datetime | None = None


def credit_line(article: Article, ctx: Sharing) -> str:
    return (
        f"First published by {ctx.settings.publisher_name} at "
        f"{canonical_url(article, ctx.site_url)}"
    )


def default_conditions(request: ShareRequest, ctx: Sharing) -> Conditions:
    return Conditions(
        credit_line=credit_line(request.article, ctx),
        link_required=True,
        excerpt_limit=request.excerpt_words if request.kind is ShareKind.EXCERPT else None,
    )


def check_conditions(conditions: Conditions, *, now: datetime) -> Conditions:
    credit = _text(
        conditions.credit_line, MAX_CREDIT, "credit_line", "the credit line", required=True
    )
    if conditions.excerpt_limit is not None and not 1 <= conditions.excerpt_limit <= MAX_WORDS:
        raise SharingError("An excerpt limit is a number of words from 1.", "excerpt_limit")
    if conditions.expires_at is not None and conditions.expires_at <= now:
        raise SharingError("The end date must be in the future.", "expires_on")
    return Conditions(
        credit, conditions.link_required, conditions.excerpt_limit, conditions.expires_at
    )


def _move(
    session: Session,
    request: ShareRequest,
    allowed: Iterable[RequestState],
    to_state: RequestState,
    *,
    actor: Actor,
    now: datetime,
    note: str = "",
    **values: Any,
) -> None:
    """Change the state if it is still one of ``allowed``; InvalidTransition otherwise."""
    allowed = frozenset(allowed)
    from_state = request.state
    changed = session.execute(
        update(ShareRequest)
        .where(ShareRequest.id == request.id, ShareRequest.state.in_(allowed))
        .values(state=to_state, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    if changed.rowcount != 1:
        raise InvalidTransition(
            f"This request is {request.state.label} now, so it cannot be {_verb(to_state)}."
        )
    _log(session, request, actor, from_state, to_state, now=now, note=note)
    if actor.kind is ActorKind.STAFF:
        resolve_alert(session, f"sharing.answer.{request.id}", now=now)


def _verb(state: RequestState) -> str:
    return {
        RequestState.APPROVED: "approved",
        RequestState.DENIED: "denied",
        RequestState.INFO_REQUESTED: "asked about",
        RequestState.PENDING: "answered",
        RequestState.WITHDRAWN: "withdrawn",
        RequestState.REVOKED: "revoked",
        RequestState.EXPIRED: "closed",
    }.get(state, "changed")


def _event_payload(request: ShareRequest) -> dict[str, Any]:
    return {
        "request_id": request.id,
        "article": request.article.public_id,
        "kind": request.kind.value,
        "where": request.where.value,
        "state": request.state.value,
    }


def _decided(session: Session, request: ShareRequest, *, now: datetime, actor: Actor) -> None:
    payload = _event_payload(request)
    if request.permission is not None:
        payload["permission"] = request.permission.public_id
    events.emit(
        session,
        "share_request.decided",
        request.public_id,
        payload,
        now=now,
        actor_id=actor.user_id,
    )


def grant(
    session: Session,
    request: ShareRequest,
    conditions: Conditions,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
    note: str = "",
) -> Permission:
    """Approve: a signed permission record, a tracked link and the good news by email."""
    conditions = check_conditions(conditions, now=now)
    _move(
        session,
        request,
        OPEN_STATES,
        RequestState.APPROVED,
        actor=actor,
        now=now,
        note=note,
        credit_line=conditions.credit_line,
        link_required=conditions.link_required,
        excerpt_limit=conditions.excerpt_limit,
        expires_at=conditions.expires_at,
        decided_at=now,
        decided_by_id=actor.user_id,
        decision_note=note,
    )
    article = request.article
    permission = Permission(
        request_id=request.id,
        article_id=article.id,
        grantee_name=request.requester_name,
        scope=_scope(request),
        conditions={
            "credit_line": conditions.credit_line,
            "link_required": conditions.link_required,
            "excerpt_limit": conditions.excerpt_limit,
        },
        state=PermissionState.ACTIVE,
        granted_at=now,
        expires_at=conditions.expires_at,
        document="",
        signature="",
        key_id="",
    )
    session.add(permission)
    session.flush()
    link = ShareLink(
        code=secrets.token_urlsafe(9),
        permission_id=permission.id,
        target_url=tracked_target(article, request, permission, ctx.site_url),
        created_at=now,
    )
    session.add(link)
    _sign(permission, _record(permission, request, article, ctx), ctx, now=now)
    session.flush()
    session.refresh(request)
    _decided(session, request, now=now, actor=actor)
    _mail(
        session,
        ctx,
        request,
        emails.granted(
            article.title,
            scope=describe_scope(request),
            conditions=describe_conditions(request, ctx),
            credit_line=conditions.credit_line,
            record_url=ctx.record_url(permission),
            share_url=ctx.share_url(link),
        ),
        now=now,
    )
    return permission


def deny(
    session: Session,
    request: ShareRequest,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> None:
    reason = _text(reason, MAX_NOTE, "note", "a reason", required=True)
    _move(
        session,
        request,
        OPEN_STATES,
        RequestState.DENIED,
        actor=actor,
        now=now,
        note=reason,
        decision_note=reason,
        decided_at=now,
        decided_by_id=actor.user_id,
    )
    _decided(session, request, now=now, actor=actor)
    _mail(session, ctx, request, emails.denied(request.article.title, reason), now=now)


def ask_for_information(
    session: Session,
    request: ShareRequest,
    question: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> None:
    question = _text(question, MAX_NOTE, "note", "your question", required=True)
    _move(
        session,
        request,
        OPEN_STATES,
        RequestState.INFO_REQUESTED,
        actor=actor,
        now=now,
        note=question,
    )
    _mail(session, ctx, request, emails.info_requested(request.article.title, question), now=now)


def answer(
    session: Session, request: ShareRequest, text: str, *, now: datetime, ctx: Sharing
) -> None:
    """The reader's answer to a question: the request goes back to the publisher."""
    text = _text(text, MAX_NOTE, "answer", "your answer", required=True)
    _move(
        session,
        request,
        {RequestState.INFO_REQUESTED},
        RequestState.PENDING,
        actor=READER,
        now=now,
        note=text,
    )
    raise_alert(
        session,
        f"sharing.answer.{request.id}",
        f"{request.requester_name} answered your question about sharing "
        f"{emails.quoted(request.article.title)}.",
        now=now,
        level="info",
        link=f"/dashboard/sharing/{request.id}",
    )
    _mail(session, ctx, request, emails.answered(request.article.title), now=now)


def withdraw(session: Session, request: ShareRequest, *, now: datetime, ctx: Sharing) -> None:
    _move(
        session,
        request,
        OPEN_STATES,
        RequestState.WITHDRAWN,
        actor=READER,
        now=now,
        note="Withdrawn by the reader.",
    )
    resolve_alert(session, f"sharing.answer.{request.id}", now=now)
    _mail(session, ctx, request, emails.withdrawn(request.article.title), now=now)


def revoke(
    session: Session,
    request: ShareRequest,
    reason: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> None:
    reason = _text(reason, MAX_NOTE, "note", "a reason", required=True)
    _move(
        session,
        request,
        {RequestState.APPROVED},
        RequestState.REVOKED,
        actor=actor,
        now=now,
        note=reason,
        decision_note=reason,
        decided_at=now,
        decided_by_id=actor.user_id,
    )
    permission = request.permission
    assert permission is not None  # every approved request has one
    permission.state = PermissionState.REVOKED
    permission.revoked_at = now
    _resign(permission, ctx, now=now)
    _decided(session, request, now=now, actor=actor)
    _mail(
        session,
        ctx,
        request,
        emails.revoked(request.article.title, reason, ctx.record_url(permission)),
        now=now,
    )


def _expire_grant(session: Session, permission: Permission, *, now: datetime, ctx: Sharing) -> bool:
    """End a grant whose end date passed; False when another process did it first."""
    request = permission.request
    try:
        _move(
            session,
            request,
            {RequestState.APPROVED},
            RequestState.EXPIRED,
            actor=SYSTEM,
            now=now,
            note="The permission reached its end date.",
        )
    except InvalidTransition:
        return False
    permission.state = PermissionState.EXPIRED
    permission.expired_at = now
    _resign(permission, ctx, now=now)
    _decided(session, request, now=now, actor=SYSTEM)
    _mail(
        session,
        ctx,
        request,
        emails.ended(request.article.title, ctx.record_url(permission)),
        now=now,
    )
    return True


def settle_expiry(session: Session, permission: Permission, *, now: datetime, ctx: Sharing) -> bool:
    """Expire the grant now if its end date has passed (a record must never say otherwise)."""
    if (
        permission.state is PermissionState.ACTIVE
        and permission.expires_at is not None
        and permission.expires_at <= now
    ):
        return _expire_grant(session, permission, now=now, ctx=ctx)
    return False


def describe_conditions(request: ShareRequest, ctx: Sharing) -> list[str]:
    lines = []
    if request.link_required:
        lines.append("Link to the original article wherever you share it.")
    if request.excerpt_limit:
        lines.append(f"Quote at most {wording.count(request.excerpt_limit, 'word')}.")
    if request.expires_at:
        lines.append(f"This permission is valid until {ctx.valid_until(request.expires_at)}.")
    else:
        lines.append("This permission has no end date.")
    return lines


# --- the permission record ------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def _scope(request: ShareRequest) -> dict[str, Any]:
    return {
        "kind": request.kind.value,
        "excerpt_words": request.excerpt_words,
        "language": request.language,
        "where": request.where.value,
        "where_url": request.where_url,
    }


def _record(
    permission: Permission, request: ShareRequest, article: Article, ctx: Sharing
) -> dict[str, Any]:
    """The public record as granted: a snapshot, so later edits cannot alter what was signed."""
    return {
        "type": "share-permission",
        "version": 1,
        "id": permission.public_id,
        "url": ctx.record_url(permission),
        "issuer": {"name": ctx.settings.publisher_name, "url": ctx.site_url},
        "article": {
            "id": article.public_id,
            "title": article.title,
            "url": canonical_url(article, ctx.site_url),
        },
        "grantee": {"name": permission.grantee_name},
        "scope": permission.scope,
        "conditions": permission.conditions,
        "granted_at": _iso(permission.granted_at),
        "expires_at": _iso(permission.expires_at),
        "state": permission.state.value,
        "revoked_at": None,
        "expired_at": None,
    }


def _signed(document: dict[str, Any], ctx: Sharing, *, now: datetime) -> dict[str, str]:
    """The columns that hold a record signed now with the current key."""
    document = {**document, "key_id": ctx.signer.key_id, "signed_at": _iso(now)}
    document.pop("signature", None)
    return {
        "document": canonical_json(document).decode("utf-8"),
        "signature": ctx.signer.sign(document),
        "key_id": ctx.signer.key_id,
    }


def _sign(permission: Permission, document: dict[str, Any], ctx: Sharing, *, now: datetime) -> None:
    for column, value in _signed(document, ctx, now=now).items():
        setattr(permission, column, value)


def _current_document(
    document: str,
    state: PermissionState,
    revoked_at: datetime | None,
    expired_at: datetime | None,
) -> dict[str, Any]:
    """A signed document brought up to the record's state."""
    return {
        **json.loads(document),
        "state": state.value,
        "revoked_at": _iso(revoked_at),
        "expired_at": _iso(expired_at),
    }


def _resign(permission: Permission, ctx: Sharing, *, now: datetime) -> None:
    """Sign again after a state change, so the signed record always tells the current state."""
    document = _current_document(
        permission.document, permission.state, permission.revoked_at, permission.expired_at
    )
    _sign(permission, document, ctx, now=now)


def records_by_key(db: Session | Connection, key_id: str) -> tuple[int, int]:
    """How many permission records the key ``key_id`` signed, and how many another key did
    (those no longer verify against the published key)."""
    on_key, on_other = db.execute(
        select(
            func.count().filter(Permission.key_id == key_id),
            func.count().filter(Permission.key_id != key_id),
        )
    ).one()
    return on_key, on_other


RESIGN_BATCH = 200


def resign_records(
    session: Session, *, ctx: Sharing, now: datetime, after_id: int = 0, limit: int = RESIGN_BATCH
) -> tuple[int, int | None]:
    """Sign again, with the current key, up to ``limit`` records that another key signed, in
    id order after ``after_id`` (after SYNDICATE_SHARING_SIGNING_KEY changed, their
    signatures no longer verify against the published key).

    Returns how many were signed again and the last id looked at, None when there was none.
    Each record is written only if its signature is still the one read: one whose state
    changed meanwhile was signed by the process that changed it, and keeps that.
    """
    rows = session.execute(
        select(
            Permission.id,
            Permission.document,
            Permission.signature,
            Permission.state,
            Permission.revoked_at,
            Permission.expired_at,
        )
        .where(Permission.key_id != ctx.signer.key_id, Permission.id > after_id)
        .order_by(Permission.id)
        .limit(limit)
    ).all()
    resigned = 0
    for row in rows:
        document = _current_document(row.document, row.state, row.revoked_at, row.expired_at)
        resigned += _write_if_unchanged(
            session, row.id, row.signature, _signed(document, ctx, now=now)
        )
    return resigned, (rows[-1].id if rows else None)


def _write_if_unchanged(
    session: Session, permission_id: int, signature_read: str, columns: dict[str, str]
) -> bool:
    written = session.execute(
        update(Permission)
        .where(Permission.id == permission_id, Permission.signature == signature_read)
        .values(**columns)
        .execution_options(synchronize_session=False)
    )
    return bool(written.rowcount)


def signed_record(permission: Permission) -> dict[str, Any]:
    """The record as served: the signed document plus its signature."""
    return {**json.loads(permission.document), "signature": permission.signature}


def find_permission(session: Session, public_id: str) -> Permission | None:
    if not public_id or len(public_id) > 36:
        return None
    return session.scalar(select(Permission).where(Permission.public_id == public_id))


def tracked_target(
    article: Article, request: ShareRequest, permission: Permission, site_url: str
) -> str:
    """The canonical article URL with this grant's UTM parameters (others' utm_* replaced)."""
    parts = urlsplit(canonical_url(article, site_url))
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    query += [
        ("utm_source", request.where.value),
        ("utm_medium", "share"),
        ("utm_campaign", f"permission-{permission.public_id}"),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def linkedin_share_url(share_url: str) -> str:
    return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": share_url})


# --- the inbox ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxFilter:
    state: RequestState | None = None
    kind: ShareKind | None = None
    article_id: int | None = None

    def query(self) -> Select[tuple[ShareRequest]]:
        conditions = [ShareRequest.state.in_(INBOX_STATES)]
        if self.state is not None:
            conditions.append(ShareRequest.state == self.state)
        if self.kind is not None:
            conditions.append(ShareRequest.kind == self.kind)
        if self.article_id is not None:
            conditions.append(ShareRequest.article_id == self.article_id)
        return select(ShareRequest).where(*conditions)

    def args(self) -> dict[str, Any]:
        """The filter as URL query arguments (for pager links and the export)."""
        args: dict[str, Any] = {}
        if self.state:
            args["state"] = self.state.value
        if self.kind:
            args["kind"] = self.kind.value
        if self.article_id:
            args["article"] = self.article_id
        return args


def inbox_page(session: Session, where: InboxFilter, number: int, size: int) -> Page:
    query = where.query()
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(ShareRequest.created_at.desc(), ShareRequest.id.desc())
        .limit(size)
        .offset((max(number, 1) - 1) * size)
    ).all()
    return Page(list(items), max(number, 1), size, total)


def inbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(ShareRequest.state, func.count())
        .where(ShareRequest.state.in_(INBOX_STATES))
        .group_by(ShareRequest.state)
    ).all()
    return {state.value: count for state, count in rows}


def requester_history(
    session: Session, request: ShareRequest, limit: int = 20
) -> list[ShareRequest]:
    """The same person's other verified requests, newest first."""
    return list(
        session.scalars(
            select(ShareRequest)
            .where(
                ShareRequest.requester_email == request.requester_email,
                ShareRequest.id != request.id,
                ShareRequest.state.in_(INBOX_STATES),
            )
            .order_by(ShareRequest.created_at.desc())
            .limit(limit)
        )
    )


def articles_with_requests(session: Session) -> list[Article]:
    ids = select(ShareRequest.article_id).where(ShareRequest.state.in_(INBOX_STATES)).distinct()
    return list(session.scalars(select(Article).where(Article.id.in_(ids)).order_by(Article.title)))


CSV_COLUMNS = (
    "id",
    "received_at",
    "state",
    "kind",
    "excerpt_words",
    "language",
    "article",
    "article_url",
    "requester_name",
    "requester_email",
    "where",
    "where_url",
    "audience_size",
    "message",
    "decision_note",
    "credit_line",
    "expires_at",
    "permission_url",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A spreadsheet cannot run it: text starting like a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_rows(session: Session, where: InboxFilter, ctx: Sharing) -> Iterator[list[Any]]:
    yield list(CSV_COLUMNS)
    query = (
        where.query()
        .options(selectinload(ShareRequest.permission))
        .order_by(ShareRequest.created_at.desc(), ShareRequest.id.desc())
    )
    for request in session.scalars(query.execution_options(yield_per=500)):
        permission = request.permission
        yield [
            safe_cell(v)
            for v in (
                request.id,
                _iso(request.verified_at or request.created_at),
                request.state.value,
                request.kind.value,
                request.excerpt_words,
                request.language,
                request.article.title,
                canonical_url(request.article, ctx.site_url),
                request.requester_name,
                request.requester_email,
                request.where.value,
                request.where_url,
                request.audience_size,
                request.message,
                request.decision_note,
                request.credit_line,
                _iso(request.expires_at),
                ctx.record_url(permission) if permission else None,
            )
        ]


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)


def bulk_decide(
    session: Session,
    request_ids: Sequence[int],
    action: str,
    note: str,
    *,
    actor: Actor,
    now: datetime,
    ctx: Sharing,
) -> BulkResult:
    """Approve (with the default conditions) or deny many requests; others are skipped."""
    if action not in {"approve", "deny"}:
        raise SharingError("Choose approve or deny.", "action")
    if action == "deny":
        note = _text(note, MAX_NOTE, "note", "a reason for denying", required=True)
    result = BulkResult()
    requests = session.scalars(
        select(ShareRequest).where(ShareRequest.id.in_(request_ids)).order_by(ShareRequest.id)
    ).all()
    for request in requests:
        try:
            with session.begin_nested():
                if action == "approve":
                    grant(
                        session,
                        request,
                        default_conditions(request, ctx),
                        actor=actor,
                        now=now,
                        ctx=ctx,
                        note=note,
                    )
                else:
                    deny(session, request, note, actor=actor, now=now, ctx=ctx)
        except InvalidTransition:
            result.skipped.append(request.id)
        else:
            result.done.append(request.id)
    missing = set(request_ids) - {r.id for r in requests}
    result.skipped.extend(sorted(missing))
    return result


# --- standing permissions -------------------------------------------------------------------

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")


def create_standing_permission(
    session: Session,
    *,
    who: str,
    kinds: Sequence[str],
    quota: int | None,
    ends_at: datetime | None,
    note: str,
    actor: Actor,
    now: datetime,
) -> StandingPermission:
    who = (who or "").strip().lower()
    email = domain = None
    if "@" in who:
        try:
            email = check_address(who).lower()
        except MailError:
            raise SharingError(
                "Give an email address or a domain such as example.org.", "who"
            ) from None
    else:
        domain = who.removeprefix("@")
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            domain = ""
        if not _DOMAIN.match(domain):
            raise SharingError("Give an email address or a domain such as example.org.", "who")
    chosen = [k for k in ShareKind if k.value in set(kinds)]
    if not chosen:
        raise SharingError("Choose at least one kind of sharing it covers.", "kinds")
    if quota is not None and not 1 <= quota <= 1_000_000:
        raise SharingError(
            "A quota is a number of requests from 1, or empty for no limit.", "quota"
        )
    if ends_at is not None and ends_at <= now:
        raise SharingError("The end date must be in the future.", "ends_on")
    standing = StandingPermission(
        email=email,
        domain=domain,
        kinds=[k.value for k in chosen],
        quota=quota,
        used=0,
        ends_at=ends_at,
        note=_text(note, 500, "note", "the note", required=False),
        created_by_id=actor.user_id,
        created_at=now,
    )
    session.add(standing)
    session.flush()
    return standing


def end_standing_permission(
    session: Session, standing: StandingPermission, *, now: datetime
) -> None:
    if standing.ends_at is None or standing.ends_at > now:
        standing.ends_at = now
        session.flush()


def standing_permissions(session: Session) -> list[StandingPermission]:
    return list(
        session.scalars(
            select(StandingPermission).order_by(
                StandingPermission.ends_at.is_(None).desc(),
                StandingPermission.ends_at.desc(),
                StandingPermission.id.desc(),
            )
        )
    )


# --- looking articles up --------------------------------------------------------------------


# Built once (the public form is the busiest write): an article's own columns, without its
# body, authors, categories or tags, which the form does not need.
_FORM_ARTICLE = (
    select(Article)
    .options(
        lazyload("*"),
        load_only(
            Article.id,
            Article.public_id,
            Article.slug,
            Article.title,
            Article.canonical_url,
            Article.status,
        ),
    )
    .where(Article.slug == bindparam("slug"))
)


def article_for_form(session: Session, slug: str) -> tuple[Article | None, str | None]:
    """The published article for a share form, or the slug it moved to."""
    # The form needs the article's own columns only, not its authors, categories and tags.
    article = session.scalar(_FORM_ARTICLE, {"slug": slug})
    if article is not None and article.is_published:
        return article, None
    found = find_public_by_slug(session, slug)
    return found.article, found.redirect_to


def latest_article(session: Session) -> Article | None:
    return session.scalars(
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.published_at.desc())
        .limit(1)
    ).first()


def article_by_url(session: Session, url: str, site_url: str) -> Article | None:
    """The published article at this canonical URL (or at its page on this site)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL:
        return None
    candidates = {url, url.rstrip("/"), url.rstrip("/") + "/"}
    article = session.scalar(
        select(Article)
        .where(Article.canonical_url.in_(candidates), Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.id)
        .limit(1)
    )
    if article is None:
        prefix = f"{site_url}/articles/"
        path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
        if path.startswith(prefix):
            article, _moved = article_for_form(session, path.removeprefix(prefix))
    return article


# --- housekeeping (the scheduler's jobs call these) -----------------------------------------


def delete_unverified(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """Unverified requests older than SHARING_UNVERIFIED_TTL disappear with their audit rows."""
    cutoff = now - ctx.settings.unverified_ttl
    result = session.execute(
        delete(ShareRequest)
        .where(ShareRequest.state == RequestState.UNVERIFIED, ShareRequest.created_at < cutoff)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def remind_waiting(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """One staff alert while any request has waited longer than SHARING_REMIND_AFTER."""
    waiting = (
        session.scalar(
            select(func.count())
            .select_from(ShareRequest)
            .where(
                ShareRequest.state == RequestState.PENDING,
                ShareRequest.updated_at < now - ctx.settings.remind_after,
            )
        )
        or 0
    )
    if waiting:
        raise_alert(
            session,
            "sharing.waiting",
            f"{wording.count(waiting, 'share request')} {wording.plural(waiting, 'has')} "
            f"waited more than {wording.whole_days(ctx.settings.remind_after)} for a decision.",
            now=now,
            link="/dashboard/sharing/?state=pending",
        )
    else:
        resolve_alert(session, "sharing.waiting", now=now)
    return waiting


def _due(session: Session, query: Select[Any], model: type) -> list[Any]:
    # Other scheduler processes skip rows this one holds (PostgreSQL; only the model's own
    # rows are locked, not the joined article); SQLite's BEGIN IMMEDIATE already serialises
    # the jobs. The conditional UPDATE in _move is the backstop.
    return list(session.scalars(query.limit(200).with_for_update(skip_locked=True, of=model)))


def close_stale(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """Requests with no decision for SHARING_CLOSE_AFTER are closed (expired), reader told."""
    stale = _due(
        session,
        select(ShareRequest).where(
            ShareRequest.state.in_(OPEN_STATES),
            ShareRequest.updated_at < now - ctx.settings.close_after,
        ),
        ShareRequest,
    )
    closed = 0
    for request in stale:
        try:
            _move(
                session,
                request,
                OPEN_STATES,
                RequestState.EXPIRED,
                actor=SYSTEM,
                now=now,
                note=f"No decision within {wording.whole_days(ctx.settings.close_after)}.",
            )
        except InvalidTransition:
            continue
        resolve_alert(session, f"sharing.answer.{request.id}", now=now)
        _decided(session, request, now=now, actor=SYSTEM)
        _mail(
            session,
            ctx,
            request,
            emails.closed(request.article.title, ctx.settings.close_after),
            now=now,
        )
        closed += 1
    return closed


def warn_expiring(session: Session, *, now: datetime, ctx: Sharing) -> int:
    """Tell grantees SHARING_WARN_BEFORE ahead that their permission ends; once each."""
    due = _due(
        session,
        select(Permission).where(
            Permission.state == PermissionState.ACTIVE,
            Permission.expires_at.is_not(None),
            Permission.expires_at > now,
            Permission.expires_at <= now + ctx.settings.warn_before,
            Permission.expiry_warned_at.is_(None),
        ),
        Permission,
    )
    for permission in due:
        permission.expiry_warned_at = now
        request = permission.request
        _mail(
            session,
            ctx,
            request,
            emails.expiring(
                request.article.title,
                ctx.valid_until(permission.expires_at),
                ctx.record_url(permission),
            ),
            now=now,
        )
    session.flush()
    return len(due)


def expire_grants(session: Session, *, now: datetime, ctx: Sharing) -> int:
    due = _due(
        session,
        select(Permission).where(
            Permission.state == PermissionState.ACTIVE,
            Permission.expires_at.is_not(None),
            Permission.expires_at <= now,
        ),
        Permission,
    )
    return sum(1 for permission in due if _expire_grant(session, permission, now=now, ctx=ctx))


# --- afterwards: corrections and retractions ------------------------------------------------


def handle_article_event(
    session: Session, event: events.Event, *, now: datetime, ctx: Sharing
) -> int:
    """Tell an article's active grantees it was corrected or retracted; refresh link targets."""
    article = session.scalar(select(Article).where(Article.public_id == event.subject))
    if article is None:
        return 0
    permissions = session.scalars(
        select(Permission).where(Permission.article_id == article.id)
    ).all()
    told = 0
    for permission in permissions:
        link = permission.link
        if link is not None:
            target = tracked_target(article, permission.request, permission, ctx.site_url)
            if link.target_url != target:
                link.target_url = target
        if (
            not ctx.settings.notify_corrections
            or permission.state is not PermissionState.ACTIVE
            # A grant made after the change already saw the corrected article.
            or permission.granted_at >= event.created_at
        ):
            continue
        request = permission.request
        if event.kind == "article.unpublished":
            letter = emails.retracted(article.title, ctx.record_url(permission))
        else:
            letter = emails.corrected(
                article.title, canonical_url(article, ctx.site_url), ctx.record_url(permission)
            )
        _mail(session, ctx, request, letter, now=now)
        _log(
            session,
            request,
            SYSTEM,
            request.state,
            request.state,
            now=now,
            note=f"The grantee was told that the article was "
            f"{'withdrawn' if event.kind == 'article.unpublished' else 'corrected'}.",
        )
        told += 1
    session.flush()
    return told


# --- the demo -------------------------------------------------------------------------------


def seed_demo_requests(
    session: Session, *, now: datetime, app: Flask | None = None
) -> list[ShareRequest]:
    """Two example requests for `make run`: one waiting (full republication), one granted link.

    They go through the real path (verified, rules applied, emails queued), so the inbox,
    the permission record and the tracked link all show real data.
    """
    ctx = Sharing.for_app(app)
    articles = session.scalars(
        select(Article)
        .where(Article.status == ArticleStatus.PUBLISHED)
        .order_by(Article.published_at.desc())
        .limit(2)
    ).all()
    if not articles:
        return []
    created = []
    examples = [
        (
            articles[-1],
            RequestInput(
                name="Mara Lindqvist",
                email="mara@coastal-weekly.example",
                where="newsletter",
                where_url="https://coastal-weekly.example/newsletter",
                audience_size=4200,
                kind="full",
                message="We run a weekly digest for harbour towns and would love to republish "
                "this piece in full, with your byline and a link back.",
            ),
            timedelta(days=2),
        ),
        (
            articles[0],
            RequestInput(
                name="Jonas Berg",
                email="jonas.berg@example.org",
                where="linkedin_profile",
                where_url="https://www.linkedin.com/in/jonas-berg-example",
                audience_size=1800,
                kind="link",
                message="My subscribers on LinkedIn would enjoy your article. "
                "May I link it to them?",
            ),
            timedelta(hours=5),
        ),
    ]
    for article, data, ago in examples:
        asked = now - ago
        request = submit_request(session, article, data, now=asked, ctx=ctx)
        request.verified_at = asked
        request.verify_nonce_hash = None
        request.state = RequestState.PENDING
        session.flush()
        _confirmed(session, request, now=asked, ctx=ctx)
        events.emit(
            session, "share_request.created", request.public_id, _event_payload(request), now=asked
        )
        apply_rules(session, request, now=asked, ctx=ctx)
        created.append(request)
    session.flush()
    return created
