"""Share requests on public pages: the form, the email confirmation, the reader's private
page, permission records and tracked links. The staff's pages are in ``dashboard_views``.

Views parse input, call one service, render or redirect; ``web.actions`` owns the
transaction of every change, except the form's submission (one statement on its own
connection, see ``_send_request``).
"""

from __future__ import annotations

import functools
import logging
import time as pytime
from datetime import datetime
from typing import TYPE_CHECKING

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from sqlalchemy.orm import Session
from werkzeug.utils import redirect as werkzeug_redirect
from werkzeug.wrappers import Response as BaseResponse

from syndicate import wording
from syndicate.articles.models import Article
from syndicate.clock import app_now
from syndicate.db import get_database, get_session
from syndicate.errors import Checks, DomainError, DomainErrors
from syndicate.sharing import asking, deciding, emails, jobs, records, sweeps, visits
from syndicate.sharing.context import LinkProblem, Sharing, SharingError, setting
from syndicate.sharing.forms import AnswerForm, ShareRequestForm, request_input
from syndicate.sharing.models import Permission, ShareRequest
from syndicate.staff.access import current_user
from syndicate.staff.forms import ConfirmForm
from syndicate.web.actions import act, run, show_error, writing_session
from syndicate.web.errors import error_response, wants_json
from syndicate.web.fastpath import Answer, FastRoute
from syndicate.web.logging import REDACTED
from syndicate.web.security import limiter

log = logging.getLogger(__name__)
if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

public = Blueprint("sharing", __name__)

PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    # The private token is in the URL: never send it on to the sites this page links to.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


def _ctx() -> Sharing:
    return Sharing.for_app()


@public.app_template_filter("valid_until")
def _valid_until(ends_at: datetime, zone: str | None = None) -> str:
    """A permission's end on a page, in the viewer's zone like every time there: a signed-in
    staff member's, else the site's (the one the reader's emails use)."""
    user = current_user()
    viewer_zone = user.time_zone if user is not None else current_app.config["TIME_ZONE"]
    return emails.valid_until(ends_at, zone or viewer_zone)


public.add_app_template_filter(emails.quoted, "quoted")
# Counts and durations on sharing pages are worded as in its emails.
# Flask types template globals as callables; Jinja takes any value, a module included.
public.add_app_template_global(wording, "wording")  # type: ignore[arg-type]


def settle_before_showing(permission: Permission | None) -> None:
    """A grant whose end date passed is expired before any page shows it (a record must never
    say otherwise), and committed at once rather than left to the periodic sweep."""
    now = app_now()
    if permission is not None and sweeps.has_ended(permission, now=now):
        run(lambda db: sweeps.settle_expiry(db, permission, now=now, ctx=_ctx()))


# --- rate limits (settings, read per request so tests and benchmarks can change them) ------


def _ip_limit() -> str:
    return str(setting(current_app.config, "SHARING_RATE_LIMIT_IP"))


FLOOD_MESSAGE = (
    "You have sent this form too often. Please try again later; if you are waiting for a "
    "confirmation email, check your spam folder."
)
FLOOD_SCOPE = "sharing.request_form"


@functools.lru_cache(maxsize=8)
def _parsed(limit: str) -> RateLimitItem:
    return parse_limit(limit)


class _FloodCounter:
    """Counts form submissions per client address in the shared limiter's storage.

    While that storage cannot be reached, counts in this process instead (as Flask-Limiter
    does for its own limits) and tries the storage again after ``retry_after`` seconds, so
    that an unreachable Redis costs one failed call per interval, not one per request.
    """

    retry_after = 30.0

    def __init__(self) -> None:
        self.fallback = MovingWindowRateLimiter(MemoryStorage())
        self.down_since: float | None = None

    def strategy(self) -> RateLimiter:
        if self.down_since is not None and pytime.monotonic() - self.down_since < self.retry_after:
            return self.fallback
        return limiter.limiter

    def hit(self, item: RateLimitItem, address: str) -> tuple[bool, RateLimiter]:
        strategy = self.strategy()
        try:
            allowed = strategy.hit(item, address, FLOOD_SCOPE)
        except Exception:  # noqa: BLE001 (whatever the storage raised: count here for now)
            log.warning("rate limit storage unreachable: counting share forms in this process")
            self.down_since, strategy = pytime.monotonic(), self.fallback
            allowed = strategy.hit(item, address, FLOOD_SCOPE)
        else:
            if strategy is not self.fallback:
                self.down_since = None
        return allowed, strategy


_floods = _FloodCounter()


def _flood_refusal() -> Response | None:
    """SYNDICATE_SHARING_RATE_LIMIT_IP per client address: a 429 page, or None to go on.

    Counted in the limiter's storage (Redis: one count for every worker) under the key
    Flask-Limiter's decorator used, with one call per submission: the decorator made a
    second call on every answer only to write X-RateLimit headers, which a public form
    has no need to tell a bot. A refusal still carries them, and Retry-After.
    """
    if not limiter.enabled:  # RATELIMIT_ENABLED=false turns every limit off
        return None
    item, address = _parsed(_ip_limit()), get_remote_address()
    allowed, strategy = _floods.hit(item, address)
    if allowed:
        return None
    reset_at = int(strategy.get_window_stats(item, address, FLOOD_SCOPE).reset_time) + 1
    response = error_response(429, FLOOD_MESSAGE)
    response.headers["Retry-After"] = str(max(0, reset_at - int(pytime.time())))
    response.headers["X-RateLimit-Limit"] = str(item.amount)
    response.headers["X-RateLimit-Remaining"] = "0"
    response.headers["X-RateLimit-Reset"] = str(reset_at)
    return response


@limiter.request_filter
def _share_forms_skip_the_limiter_check() -> bool:
    """Flask-Limiter's per-request check finds no limit of its own on a sent share form
    (``_flood_refusal`` counts it, once), and costs as much as a count to find none.

    Nor on a share link: readers follow it from anywhere (LinkedIn's apps, offices behind
    one address), each visitor is counted once whatever they send, and the check would be
    a fifth of the redirect's cost."""
    endpoint = request.endpoint
    return endpoint == "sharing.follow" or (
        endpoint == "sharing.request_form" and request.method == "POST"
    )


# --- asking ---------------------------------------------------------------------------------


@public.route("/articles/<slug>/share", methods=["GET", "POST"])
def request_form(slug: str) -> ResponseReturnValue:
    if request.method == "POST":
        refused = _flood_refusal()
        return refused if refused is not None else _send_request(slug)
    article = _form_article(get_session(), slug)
    if isinstance(article, BaseResponse):
        return article
    ctx = _ctx()
    form = ShareRequestForm()
    form.started.data = asking.form_started_token(ctx, article, now=app_now())
    return render_template("sharing/form.html", form=form, article=article, ctx=ctx)


def _form_article(db: Session, slug: str) -> Article | BaseResponse:
    article, moved_to = asking.article_for_form(db, slug)
    if moved_to:
        code = 301 if request.method == "GET" else 308
        return redirect(url_for("sharing.request_form", slug=moved_to), code)
    if article is None:
        abort(404, "There is no published article at this address, so there is nothing to share.")
    return article


def _send_request(slug: str) -> ResponseReturnValue:
    """The busiest write: no session transaction, one statement on its own connection."""
    sent = request.form
    # CSRF was checked before the view (CSRFProtect); the services check every field.
    ctx, now = _ctx(), app_now()
    try:
        # Everything that needs no database first: SQLite's write lock is held for less.
        # Every problem at once: a form sent too fast with a bad address says both.
        checks = Checks()
        shown = checks.run(lambda: asking.check_fill_time(ctx, sent.get("started", ""), now=now))
        clean = asking.clean_input(request_input(sent, checks), checks)
        assert shown is not None  # clean_input raised whatever was found
        new = asking.prepare_request(clean, now=now, ctx=ctx)
        if sent.get("fax"):
            stored = _pretend_to_store(slug, shown)
        else:
            # One statement on PostgreSQL, two under SQLite's write lock (see store_request).
            # Not waiting for the disk: a form lost to a crash in the next half second is
            # sent again by its reader, whom no verification email reaches (docs/sharing.md).
            with get_database().statement_connection(durable=False) as connection:
                stored = asking.store_request(
                    connection, new, slug=slug, shown=shown, now=now, ctx=ctx
                )
    except SharingError as exc:
        return _form_again(_form_article(get_session(), slug), exc, ctx)
    if stored is not None:
        return redirect(url_for("sharing.sent", slug=slug), 303)
    return _not_stored(slug, new, shown, now=now, ctx=ctx)


def _not_stored(
    slug: str, new: asking.NewRequest, shown: asking.ShownForm, *, now: datetime, ctx: Sharing
) -> ResponseReturnValue:
    """Nothing was stored (rare): find out why, and answer accordingly."""
    # Nothing to roll back: the request session only read, and the store's own connection
    # committed or rolled back when its block ended.
    article = _form_article(get_session(), slug)  # 404, or 308 to where it moved
    if isinstance(article, BaseResponse):
        return article
    try:
        asking.check_form_article(article, shown)
        email = new.row["requester_email"]
        raise asking.allowance_used_up(get_session(), email, now=now, ctx=ctx)
    except SharingError as exc:
        return _form_again(article, exc, ctx)


def _form_again(
    article: Article | BaseResponse, exc: SharingError, ctx: Sharing
) -> ResponseReturnValue:
    """The form again, as it was sent, with the error beside its field (or where the article
    went instead: 404, or 308 to where it moved)."""
    if isinstance(article, BaseResponse):
        return article
    # Bound to what was sent: the reader's answers stay, and so does the stamp of the form
    # as first shown, so a correction does not restart the minimum fill time. Only a stamp
    # that cannot count (altered, or too old) is replaced, so that the form can be sent.
    form = ShareRequestForm()
    problems = exc.errors if isinstance(exc, DomainErrors) else (exc,)
    if any(isinstance(problem, asking.StaleForm) for problem in problems):
        form.started.data = asking.form_started_token(ctx, article, now=app_now())
    show_error(form, exc)
    return render_template("sharing/form.html", form=form, article=article, ctx=ctx), exc.status


def _pretend_to_store(slug: str, shown: asking.ShownForm) -> int | None:
    """The honeypot, a field people never see, was filled in: a bot. It gets the answer a
    person's form would get (told which field gave it away, it would learn to leave it
    empty), but nothing is stored and nothing is sent. None where a person's form would not
    be stored either, so that the answer is theirs too (404, 308, 400)."""
    article, moved_to = asking.article_for_form(get_session(), slug)
    if article is None or moved_to or article.public_id != shown.article_id:
        return None
    return article.id


@public.get("/articles/<slug>/share/sent")
def sent(slug: str) -> str:
    article, _moved = asking.article_for_form(get_session(), slug)
    if article is None:
        abort(404)
    return render_template("sharing/sent.html", article=article)


@public.get("/share")
def by_url() -> BaseResponse:
    """The publisher's snippet: /share?url=<canonical URL> opens that article's form."""
    url = request.args.get("url", "")
    article = asking.article_by_url(get_session(), url, current_app.config["SITE_URL"])
    if article is None:
        abort(
            404,
            "No published article here has that address. Check the url parameter: "
            "it must be the article's canonical URL.",
        )
    return redirect(url_for("sharing.request_form", slug=article.slug), 302)


def _link_problem(exc: LinkProblem) -> tuple[str, int]:
    return render_template("sharing/link_problem.html", message=exc.message), exc.status


def _refused_link(error: DomainError) -> tuple[str, int] | None:
    """A confirmation link that cannot be used has a page of its own (others: the error page)."""
    return _link_problem(error) if isinstance(error, LinkProblem) else None


@public.get("/sharing/verify/<token>")
def confirm_page(token: str) -> str | tuple[str, int]:
    # Showing a button (not confirming on GET) keeps mail scanners that open links from
    # using up the single-use link.
    try:
        share_request, _ = asking.check_verification(
            get_session(), token, now=app_now(), ctx=_ctx()
        )
    except LinkProblem as exc:
        return _link_problem(exc)
    return render_template(
        "sharing/confirm.html", share_request=share_request, form=ConfirmForm(), token=token
    )


@public.post("/sharing/verify/<token>")
def confirm(token: str) -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)
    ctx = _ctx()
    return act(
        lambda db: asking.verify_request(db, token, now=app_now(), ctx=ctx),
        then=lambda confirmed: url_for("sharing.private", token=ctx.private_token(confirmed)),
        refused=_refused_link,
    )


# --- the reader's private page --------------------------------------------------------------


def _own_request(token: str) -> ShareRequest:
    found = asking.find_by_private_token(get_session(), token)
    if found is None:
        abort(
            404,
            "No request matches this private link. Check that you copied the whole "
            "link from your email.",
        )
    return found


def _private_page(
    share_request: ShareRequest,
    token: str,
    status: int = 200,
    answer_form: AnswerForm | None = None,
) -> Response:
    db, ctx = get_session(), _ctx()
    permission = share_request.permission
    settle_before_showing(permission)
    link = permission.link if permission is not None else None
    body = render_template(
        "sharing/private.html",
        share_request=share_request,
        token=token,
        permission=permission,
        link=link,
        share_url=ctx.share_url(link) if link else None,
        linkedin_url=records.linkedin_share_url(ctx.share_url(link)) if link else None,
        visit_count=visits.visits_for_link(db, link.id) if link else 0,
        conditions=deciding.describe_conditions(share_request, ctx),
        scope=deciding.describe_scope(share_request),
        answer_form=answer_form or AnswerForm(),
        confirm=ConfirmForm(),
        ctx=ctx,
    )
    return Response(body, status=status, headers=PRIVATE_HEADERS)


@public.get("/sharing/r/<token>")
def private(token: str) -> Response:
    return _private_page(_own_request(token), token)


@public.post("/sharing/r/<token>/answer")
def answer(token: str) -> ResponseReturnValue:
    writing_session()
    share_request = _own_request(token)
    form = AnswerForm()
    return act(
        lambda db: deciding.answer(
            db, share_request, form.answer.data or "", now=app_now(), ctx=_ctx()
        ),
        form=form,
        then=url_for("sharing.private", token=token),
        page=lambda status: _private_page(share_request, token, status, form),
        done="Thank you: your answer is with the publisher.",
    )


@public.post("/sharing/r/<token>/withdraw")
def withdraw(token: str) -> ResponseReturnValue:
    writing_session()
    share_request = _own_request(token)
    ConfirmForm().validate_on_submit() or abort(400)
    private_page = url_for("sharing.private", token=token)
    return act(
        lambda db: deciding.withdraw(db, share_request, now=app_now(), ctx=_ctx()),
        then=private_page,
        page=lambda _status: redirect(private_page, 303),  # the reason is flashed there
        done="Your request is withdrawn.",
    )


# --- public permission records and the signing key ------------------------------------------


@public.get("/permissions/key")
def public_key() -> Response:
    response = jsonify(_ctx().signer.published_key())
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@public.get("/permissions/key.pem")
def public_key_pem() -> Response:
    return Response(
        _ctx().signer.public_pem,
        mimetype="application/x-pem-file",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _permission(public_id: str) -> Permission:
    permission = records.find_permission(get_session(), public_id)
    if permission is None:
        abort(404, "There is no permission record with this id.")
    settle_before_showing(permission)
    return permission


def _record_json(permission: Permission) -> Response:
    response = jsonify(records.signed_record(permission))
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@public.get("/permissions/<public_id>")
def record(public_id: str) -> Response:
    permission = _permission(public_id)
    if wants_json():
        response = _record_json(permission)
    else:
        response = Response(
            render_template(
                "sharing/record.html",
                permission=permission,
                record=records.signed_record(permission),
                scope=deciding.describe_scope(permission.request),
            )
        )
    response.headers["Vary"] = "Accept"
    # The state can change (revoked, expired): caches must ask again each time.
    response.headers["Cache-Control"] = "no-cache"
    return response


@public.get("/permissions/<public_id>.json")
def record_json(public_id: str) -> Response:
    response = _record_json(_permission(public_id))
    response.headers["Cache-Control"] = "no-cache"
    return response


# --- tracked share links --------------------------------------------------------------------


@public.get("/s/<code>")
def follow(code: str) -> BaseResponse:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    hop = _hop(app, code, request.environ)
    if hop is None:
        abort(404, "This share link does not exist. Check that it was copied whole.")
    return _no_store_redirect(hop.target_url)


def _hop(app: Flask, code: str, environ: WSGIEnvironment) -> visits.Hop | None:
    return visits.follow_link(
        jobs.tracking_for(app),
        code,
        ip=environ.get("REMOTE_ADDR") or "",
        user_agent=environ.get("HTTP_USER_AGENT") or "",
        method=environ["REQUEST_METHOD"],
        now=app.extensions["clock"].now(),
        secret_key=app.config["SECRET_KEY"],
    )


def _no_store_redirect(target_url: str) -> BaseResponse:
    """The 302 to ``target_url``, which no browser or proxy may keep: every visit must reach
    us to be counted. (werkzeug's redirect: it builds the same answer in or out of a request.)
    """
    response = werkzeug_redirect(target_url, 302)
    response.headers["Cache-Control"] = "no-store"
    return response


@functools.lru_cache(maxsize=1024)
def _redirect_to(target_url: str) -> tuple[tuple[tuple[str, str], ...], bytes]:
    """The headers (Content-Length apart) and body of the redirect to ``target_url``."""
    response = _no_store_redirect(target_url)
    headers = tuple((k, v) for k, v in response.headers.items() if k != "Content-Length")
    return headers, response.get_data()


def fast_follow(app: Flask) -> FastRoute:
    """The fast route of /s/<code>: the redirect of a known link; Flask answers the rest."""

    def answer(environ: WSGIEnvironment) -> Answer | None:
        hop = _hop(app, environ.get("PATH_INFO", "")[len("/s/"):], environ)
        if hop is None:
            return None
        headers, body = _redirect_to(hop.target_url)
        return Answer("sharing.follow", 302, headers, body, logged_path=_LOGGED_LINK)

    return answer


_LOGGED_LINK = "/s/" + REDACTED
