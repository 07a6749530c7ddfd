"""Asking: the public share form, the email address's confirmation, and the allowance.

A reader submits a request (``unverified``: one statement stores it and queues the email
with its signed, single-use confirmation link) and confirms it from that link (``pending``,
or granted at once by the publisher's rules, see ``deciding.apply_rules``).
"""

from __future__ import annotations

import functools
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.orm import Session, lazyload, load_only

from syndicate import events, wording
from syndicate.articles.models import Article, ArticleStatus
from syndicate.articles.services import find_public_by_slug
from syndicate.db import UTCDateTime, changed_rows, new_public_id
from syndicate.errors import Checks
from syndicate.mail.models import MAIL_KIND
from syndicate.mail.services import MailError, check_address
from syndicate.outbox import enqueue_statement
from syndicate.sharing import emails
from syndicate.sharing.context import (
    MAX_AUDIENCE,
    MAX_EMAIL,
    MAX_FORM_AGE,
    MAX_MESSAGE,
    MAX_NAME,
    MAX_URL,
    MAX_WORDS,
    READER,
    LinkProblem,
    RequestRefused,
    Sharing,
    SharingError,
    SharingErrors,
    TooManyRequests,
    check_http_url,
    clean_text,
    token_hash,
)
from syndicate.sharing.deciding import (
    apply_rules,
    compose_mail,
    describe_scope,
    event_payload,
    log_change,
    mail_reader,
)
from syndicate.sharing.models import RequestState, ShareKind, ShareRequest, ShareWhere

_LANGUAGE = re.compile(r"[^\W\d_][\w .()'-]{0,62}", re.UNICODE)
T = TypeVar("T")
_LINKEDIN_HOSTS = ("linkedin.com", "www.linkedin.com", "lnkd.in")


# --- the form: input, fill time -------------------------------------------------------------


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


def clean_input(data: RequestInput, checks: Checks | None = None) -> CleanInput:
    """Check and normalise a submission; every bad field is reported at once (SharingErrors
    when there are several). ``checks`` may hold problems found before (the numbers, as
    typed): a field with one gets no second message."""
    checks = checks or Checks()

    def check(field_name: str, test: Callable[[], T]) -> T | None:
        return None if checks.failed(field_name) else checks.run(test)

    name = check(
        "name", lambda: clean_text(data.name, MAX_NAME, "name", "your name", required=True)
    )
    email = check("email", lambda: _clean_email(data.email))
    where = check("where", lambda: _clean_where(data.where))
    where_url = check("where_url", lambda: _clean_where_url(data.where_url, where))
    audience = data.audience_size
    if audience is not None and not 0 <= audience <= MAX_AUDIENCE:
        checks.add(
            SharingError(
                "Give your audience as a number of people, or leave it empty.", "audience_size"
            )
        )
    kind = check("kind", lambda: _clean_kind(data.kind))
    words = None
    language = None
    if kind is ShareKind.EXCERPT and not checks.failed("excerpt_words"):
        words = data.excerpt_words
        if words is None or not 1 <= words <= MAX_WORDS:
            checks.add(SharingError("Say how many words you would like to quote.", "excerpt_words"))
    if kind is ShareKind.TRANSLATION:
        language = check("language", lambda: _clean_language(data.language))
    message = check(
        "message",
        lambda: clean_text(data.message, MAX_MESSAGE, "message", "your message", required=False),
    )
    checks.done(SharingErrors)
    assert name is not None and email is not None and where is not None and kind is not None
    return CleanInput(name, email, where, where_url, audience, kind, words, language, message or "")


def _clean_email(value: str) -> str:
    try:
        email = check_address(clean_text(value, MAX_EMAIL, "email", "your email", required=True))
    except MailError:
        raise SharingError("That is not an email address we can write to.", "email") from None
    return email.lower()


def _clean_where(value: str) -> ShareWhere:
    try:
        return ShareWhere(value)
    except ValueError:
        raise SharingError("Choose where you will share the article.", "where") from None


def _clean_where_url(value: str | None, where: ShareWhere | None) -> str | None:
    where_url = check_http_url(value, "where_url")
    if where is None:
        return where_url
    if where_url is None and where is not ShareWhere.OTHER:
        raise SharingError(f"Give the address of your {where.label.lower()}.", "where_url")
    if where in {ShareWhere.LINKEDIN_PROFILE, ShareWhere.LINKEDIN_PAGE} and where_url:
        host = (urlsplit(where_url).hostname or "").lower()
        if host not in _LINKEDIN_HOSTS and not host.endswith(".linkedin.com"):
            raise SharingError("Give the address of your page on linkedin.com.", "where_url")
    return where_url


def _clean_kind(value: str) -> ShareKind:
    try:
        return ShareKind(value)
    except ValueError:
        raise SharingError("Choose what you would like to do.", "kind") from None


def _clean_language(value: str | None) -> str:
    language = clean_text(value, 64, "language", "the language", required=True)
    if not _LANGUAGE.fullmatch(language):
        raise SharingError("Name the language in words, e.g. German.", "language")
    return language


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
    "The form was altered or is incomplete. Please check your answers and send it again."
)


class StaleForm(RequestRefused):
    """A form whose stamp cannot count (altered, missing or too old): shown again with a
    new stamp, the reader's answers kept."""


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
        raise StaleForm(_ALTERED_FORM) from None
    if now - shown_at < ctx.settings.min_fill:
        raise RequestRefused(
            "That was quicker than a person fills in this form. Please check your answers, "
            "wait a few seconds and send it again."
        )
    if now - shown_at > MAX_FORM_AGE:
        raise StaleForm("This form is too old. Please check your answers and send it again.")
    return shown


def check_form_article(article: Article, shown: ShownForm) -> None:
    """Refuse a form whose stamp was made for another article's form."""
    if shown.article_id != article.public_id:
        raise StaleForm(_ALTERED_FORM)


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
    # The audit log of a request starts when it is confirmed (see mark_confirmed): most
    # unconfirmed requests are bots' and are deleted unseen, so they cost one row here.
    letter = emails.verify(
        title,
        new.scope,
        new.verify_url,
        works_for=ctx.settings.verify_ttl,
        deleted_after=ctx.settings.unverified_ttl,
    )
    # No private link yet: it comes with confirming the address.
    mail = compose_mail(
        ctx, letter, new.row["requester_email"], new.row["requester_name"], None, now=now
    )
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
    request_id: int | None
    if connection.dialect.name == "postgresql":
        request_id = connection.scalar(_INSERT_REQUEST_AND_MAIL, values)
        return request_id
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
    if changed_rows(used) != 1:
        # Another click of the same link got there first.
        raise LinkProblem("This confirmation link was used already.", 410)
    session.refresh(request)
    mark_confirmed(session, request, now=now, ctx=ctx)
    events.emit(
        session, "share_request.created", request.public_id, event_payload(request), now=now
    )
    session.flush()
    if not apply_rules(session, request, now=now, ctx=ctx):
        mail_reader(session, ctx, request, emails.received(request.article.title), now=now)
    session.flush()
    return request


def mark_confirmed(session: Session, request: ShareRequest, *, now: datetime, ctx: Sharing) -> None:
    """Give the reader their private key and start the audit log with both first steps."""
    request.private_token_hash = token_hash(ctx.private_token(request))
    log_change(
        session,
        request,
        READER,
        None,
        RequestState.UNVERIFIED,
        now=request.created_at,
        note="Sent from the share form.",
    )
    log_change(
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


# --- the article a form is for --------------------------------------------------------------


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
