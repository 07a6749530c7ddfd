"""Share requests on the web: the public form, the reader's private page, permission records,
tracked links, and the staff inbox. Views parse input, call one service, render or redirect.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import time as pytime
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time, timedelta
from datetime import date as date_type
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from limits import RateLimitItem
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter, RateLimiter
from sqlalchemy.orm import Session

from syndicate import wording
from syndicate.articles.models import Article
from syndicate.clock import app_now
from syndicate.db import get_database, get_session
from syndicate.sharing import asking, deciding, emails, jobs, records, sweeps, visits
from syndicate.sharing.context import (
    Actor,
    LinkProblem,
    Sharing,
    SharingError,
    canonical_url,
    setting,
)
from syndicate.sharing.forms import (
    AnswerForm,
    ApproveForm,
    BulkForm,
    NoteForm,
    QuestionForm,
    ShareRequestForm,
    StandingForm,
    request_input,
)
from syndicate.sharing.inbox import (
    InboxFilter,
    articles_with_requests,
    bulk_decide,
    export_rows,
    inbox_counts,
    inbox_page,
    requester_history,
)
from syndicate.sharing.models import (
    INBOX_STATES,
    KIND_LABELS,
    Permission,
    RequestState,
    ShareKind,
    ShareRequest,
    StandingPermission,
)
from syndicate.sharing.standing import (
    create_standing_permission,
    end_standing_permission,
    standing_permissions,
)
from syndicate.staff.access import current_user, login_required
from syndicate.staff.forms import ConfirmForm
from syndicate.staff.models import User
from syndicate.web.errors import error_response, wants_json
from syndicate.web.params import MAX_ID, id_arg, page_number
from syndicate.web.security import limiter, safe_next

log = logging.getLogger(__name__)
public = Blueprint("sharing", __name__)
dashboard = Blueprint("sharing_dashboard", __name__, url_prefix="/dashboard/sharing")

MAX_BULK = 200
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
public.add_app_template_global(wording, "wording")


def _writing_session() -> Session:
    """The request's session, about to read then write: SQLite takes the write lock at BEGIN.

    A deferred SQLite transaction that reads and then writes fails at once (instead of
    waiting) when another worker wrote in between; PostgreSQL ignores the option.
    """
    db = get_session()
    if db.get_bind().dialect.name != "sqlite":
        return db  # PostgreSQL: the transaction so far goes on; writers lock rows instead
    if db.in_transaction():
        db.commit()  # only reads so far (the signed-in user, the article): end them first
    db.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    return db


def _user() -> User:
    user = current_user()
    assert user is not None  # login_required ran
    return user


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
    (``_flood_refusal`` counts it, once), and costs as much as a count to find none."""
    return request.method == "POST" and request.endpoint == "sharing.request_form"


# --- asking ---------------------------------------------------------------------------------


@public.route("/articles/<slug>/share", methods=["GET", "POST"])
def request_form(slug: str) -> str | Response | tuple[str, int]:
    if request.method == "POST":
        refused = _flood_refusal()
        return refused if refused is not None else _send_request(slug)
    article = _form_article(get_session(), slug)
    if isinstance(article, Response):
        return article
    ctx = _ctx()
    form = ShareRequestForm()
    form.started.data = asking.form_started_token(ctx, article, now=app_now())
    return render_template("sharing/form.html", form=form, article=article, ctx=ctx)


def _form_article(db: Session, slug: str) -> Article | Response:
    article, moved_to = asking.article_for_form(db, slug)
    if moved_to:
        code = 301 if request.method == "GET" else 308
        return redirect(url_for("sharing.request_form", slug=moved_to), code)
    if article is None:
        abort(404, "There is no published article at this address, so there is nothing to share.")
    return article


def _send_request(slug: str) -> Response | tuple[str, int]:
    sent = request.form
    # CSRF was checked before the view (CSRFProtect); the services check every field.
    ctx, now = _ctx(), app_now()
    article: Article | Response | None = None
    try:
        # Everything that needs no database first: SQLite's write lock is held for less.
        shown = asking.check_fill_time(ctx, sent.get("started", ""), now=now)
        new = asking.prepare_request(asking.clean_input(request_input(sent)), now=now, ctx=ctx)
        if sent.get("fax"):
            stored = _pretend_to_store(slug, shown)
        else:
            # One statement on PostgreSQL, two under SQLite's write lock (see store_request).
            with get_database().statement_connection() as connection:
                stored = asking.store_request(
                    connection, new, slug=slug, shown=shown, now=now, ctx=ctx
                )
        if stored is not None:
            return redirect(url_for("sharing.sent", slug=slug), 303)
        # Nothing stored (rare): find out why, and answer accordingly.
        article = _form_article(get_session(), slug)  # 404, or 308 to where it moved
        if isinstance(article, Response):
            return article
        asking.check_form_article(article, shown)
        raise asking.allowance_used_up(get_session(), new.row["requester_email"], now=now, ctx=ctx)
    except SharingError as exc:
        # Nothing to roll back: the request session only read, and the store's own
        # connection committed or rolled back when its block ended.
        if article is None:
            article = _form_article(get_session(), slug)
        if isinstance(article, Response):
            return article
        form = ShareRequestForm()  # what was sent, with the error beside its field
        _show_error(form, exc)
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
def by_url() -> Response:
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
    return render_template("sharing/link_problem.html", message=str(exc)), exc.status


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
def confirm(token: str) -> Response | tuple[str, int]:
    ConfirmForm().validate_on_submit() or abort(400)
    db, ctx = _writing_session(), _ctx()
    try:
        share_request = asking.verify_request(db, token, now=app_now(), ctx=ctx)
    except LinkProblem as exc:
        db.rollback()
        return _link_problem(exc)
    db.commit()
    return redirect(url_for("sharing.private", token=ctx.private_token(share_request)), 303)


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
    if permission is not None and sweeps.settle_expiry(db, permission, now=app_now(), ctx=ctx):
        db.commit()
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
def answer(token: str) -> Response:
    _writing_session()
    share_request = _own_request(token)
    form = AnswerForm()
    if not form.validate_on_submit():
        return _private_page(share_request, token, 422, form)
    db = get_session()
    try:
        deciding.answer(db, share_request, form.answer.data or "", now=app_now(), ctx=_ctx())
    except SharingError as exc:
        db.rollback()
        _show_error(form, exc)
        return _private_page(share_request, token, exc.status, form)
    db.commit()
    flash("Thank you: your answer is with the publisher.", "success")
    return redirect(url_for("sharing.private", token=token), 303)


@public.post("/sharing/r/<token>/withdraw")
def withdraw(token: str) -> Response:
    _writing_session()
    share_request = _own_request(token)
    ConfirmForm().validate_on_submit() or abort(400)
    db = get_session()
    try:
        deciding.withdraw(db, share_request, now=app_now(), ctx=_ctx())
    except SharingError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(url_for("sharing.private", token=token), 303)
    db.commit()
    flash("Your request is withdrawn.", "success")
    return redirect(url_for("sharing.private", token=token), 303)


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
    db = get_session()
    permission = records.find_permission(db, public_id)
    if permission is None:
        abort(404, "There is no permission record with this id.")
    if sweeps.settle_expiry(db, permission, now=app_now(), ctx=_ctx()):
        db.commit()
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
def follow(code: str) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    hop = visits.follow_link(
        jobs.tracking_for(app),
        code,
        ip=request.remote_addr or "",
        user_agent=request.user_agent.string or "",
        method=request.method,
        now=app_now(),
        secret_key=app.config["SECRET_KEY"],
    )
    if hop is None:
        abort(404, "This share link does not exist. Check that it was copied whole.")
    response = redirect(hop.target_url, 302)
    # Every visit must reach us to be counted once: no browser or proxy may keep the redirect.
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the staff inbox ------------------------------------------------------------------------


def _filter() -> InboxFilter:
    state_arg, kind_arg = request.args.get("state", ""), request.args.get("kind", "")
    try:
        state = RequestState(state_arg) if state_arg else None
        if state is RequestState.UNVERIFIED:
            raise ValueError
    except ValueError:
        abort(400, "state must be one of: " + ", ".join(s.value for s in INBOX_STATES) + ".")
    try:
        kind = ShareKind(kind_arg) if kind_arg else None
    except ValueError:
        abort(400, "kind must be one of: " + ", ".join(k.value for k in ShareKind) + ".")
    return InboxFilter(state, kind, id_arg("article"))


def _show_error(form: FlaskForm, exc: SharingError) -> None:
    field = form._fields.get(exc.field_name or "")
    if field is not None:
        field.errors = [*field.errors, str(exc)]
    else:
        flash(str(exc), "error")


def _zone() -> ZoneInfo:
    return ZoneInfo(_user().time_zone or "UTC")


def _end_of(day: date_type | None) -> datetime | None:
    """A "valid until" date in the staff member's zone: the end of that day, in UTC."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), _zone()).astimezone(UTC)


@dashboard.get("/")
@login_required
def inbox() -> str:
    db = get_session()
    where = _filter()
    page = inbox_page(db, where, page_number(), current_app.config["PAGE_SIZE"])
    return render_template(
        "sharing/inbox.html",
        page=page,
        where=where,
        counts=inbox_counts(db),
        states=INBOX_STATES,
        kinds=KIND_LABELS,
        articles=articles_with_requests(db),
        bulk=BulkForm(),
    )


@dashboard.post("/bulk")
@login_required
def bulk() -> Response:
    _writing_session()
    form = BulkForm()
    back = safe_next(request.form.get("next"), url_for("sharing_dashboard.inbox"))
    raw_ids = request.form.getlist("ids")
    if not form.validate_on_submit():
        abort(400, "Choose an action for the selected requests.")
    if not raw_ids:
        flash("Select at least one request first.", "error")
        return redirect(back, 303)
    if len(raw_ids) > MAX_BULK or not all(i.isdigit() and 1 <= int(i) <= MAX_ID for i in raw_ids):
        abort(400, f"Select between 1 and {MAX_BULK} requests by their numbers.")
    db = get_session()
    try:
        result = bulk_decide(
            db,
            sorted({int(i) for i in raw_ids}),
            form.action.data or "",
            form.note.data or "",
            actor=Actor.staff(_user()),
            now=app_now(),
            ctx=_ctx(),
        )
    except SharingError as exc:
        db.rollback()
        flash(str(exc), "error")
        return redirect(back, 303)
    db.commit()
    verb = "approved" if form.action.data == "approve" else "denied"
    message = f"{len(result.done)} request{'s' if len(result.done) != 1 else ''} {verb}."
    if result.skipped:
        message += (
            f" {len(result.skipped)} skipped because they were already decided: "
            + ", ".join(f"#{i}" for i in result.skipped)
            + "."
        )
    flash(message, "success" if result.done else "error")
    return redirect(back, 303)


@dashboard.get("/export.csv")
@login_required
def export() -> Response:
    rows = export_rows(get_session(), _filter(), _ctx())

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # A byte-order mark makes spreadsheet programs read the file as UTF-8.
        yield "\ufeff"
        for row in rows:
            writer.writerow(row)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": 'attachment; filename="share-requests.csv"',
            "Cache-Control": "no-store",
        },
    )


def _request_or_404(request_id: int) -> ShareRequest:
    found = get_session().get(ShareRequest, request_id) if request_id <= MAX_ID else None
    if found is None or found.state is RequestState.UNVERIFIED:
        abort(404, "There is no such share request (unconfirmed requests are not shown).")
    return found


def _detail(share_request: ShareRequest, status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    db, ctx = get_session(), _ctx()
    permission = share_request.permission
    if permission is not None and sweeps.settle_expiry(db, permission, now=app_now(), ctx=ctx):
        db.commit()
    defaults = deciding.default_conditions(share_request, ctx)
    approve_form = forms.get("approve") or ApproveForm(
        formdata=None,
        prefix="approve",
        credit_line=defaults.credit_line,
        link_required=True,
        excerpt_limit=defaults.excerpt_limit,
    )
    link = permission.link if permission is not None else None
    return render_template(
        "sharing/detail.html",
        share_request=share_request,
        permission=permission,
        link=link,
        share_url=ctx.share_url(link) if link else None,
        history=requester_history(db, share_request),
        approve_form=approve_form,
        deny_form=forms.get("deny") or NoteForm(formdata=None, prefix="deny"),
        question_form=forms.get("question") or QuestionForm(formdata=None, prefix="ask"),
        revoke_form=forms.get("revoke") or NoteForm(formdata=None, prefix="revoke"),
        chart=visits.recent_chart(db, now=app_now(), permission_id=permission.id)
        if permission
        else None,
        visit_count=visits.visits_for_link(db, link.id) if link else 0,
        scope=deciding.describe_scope(share_request),
        ctx=ctx,
    ), status


@dashboard.get("/<id:request_id>")
@login_required
def detail(request_id: int) -> tuple[str, int]:
    return _detail(_request_or_404(request_id))


def _act(
    share_request: ShareRequest,
    form: FlaskForm,
    form_name: str,
    action: Callable[[Session], object],
    done: str,
) -> Response | tuple[str, int]:
    """Run one staff action from a validated form; re-show the page with errors otherwise."""
    if not form.validate_on_submit():
        return _detail(share_request, 422, **{form_name: form})
    db = get_session()
    try:
        action(db)
    except SharingError as exc:
        db.rollback()
        _show_error(form, exc)
        return _detail(share_request, exc.status, **{form_name: form})
    db.commit()
    flash(done, "success")
    return redirect(url_for("sharing_dashboard.detail", request_id=share_request.id), 303)


@dashboard.post("/<id:request_id>/approve")
@login_required
def approve(request_id: int) -> Response | tuple[str, int]:
    _writing_session()
    share_request = _request_or_404(request_id)
    form = ApproveForm(prefix="approve")
    return _act(
        share_request,
        form,
        "approve",
        lambda db: deciding.grant(
            db,
            share_request,
            deciding.Conditions(
                credit_line=form.credit_line.data or "",
                link_required=bool(form.link_required.data),
                excerpt_limit=form.excerpt_limit.data,
                expires_at=_end_of(form.expires_on.data),
            ),
            actor=Actor.staff(_user()),
            now=app_now(),
            ctx=_ctx(),
            note=form.note.data or "",
        ),
        "Approved: the reader has their permission record and tracked link.",
    )


def _act_with_note(
    request_id: int,
    form_class: type[NoteForm] | type[QuestionForm],
    prefix: str,
    form_name: str,
    service: Callable[..., object],
    done: str,
) -> Response | tuple[str, int]:
    """Deny, ask and revoke: one note from staff, handed to the service that acts on it."""
    _writing_session()
    share_request = _request_or_404(request_id)
    form = form_class(prefix=prefix)
    return _act(
        share_request,
        form,
        form_name,
        lambda db: service(
            db,
            share_request,
            form.note.data or "",
            actor=Actor.staff(_user()),
            now=app_now(),
            ctx=_ctx(),
        ),
        done,
    )


@dashboard.post("/<id:request_id>/deny")
@login_required
def deny(request_id: int) -> Response | tuple[str, int]:
    return _act_with_note(
        request_id, NoteForm, "deny", "deny", deciding.deny, "Denied; the reader was told why."
    )


@dashboard.post("/<id:request_id>/ask")
@login_required
def ask(request_id: int) -> Response | tuple[str, int]:
    return _act_with_note(
        request_id,
        QuestionForm,
        "ask",
        "question",
        deciding.ask_for_information,
        "Your question was emailed to the reader.",
    )


@dashboard.post("/<id:request_id>/revoke")
@login_required
def revoke(request_id: int) -> Response | tuple[str, int]:
    return _act_with_note(
        request_id,
        NoteForm,
        "revoke",
        "revoke",
        deciding.revoke,
        "Revoked: the record now says so and the reader was told.",
    )


# --- numbers, the share button, standing permissions ----------------------------------------


@dashboard.get("/stats")
@login_required
def stats() -> str:
    db = get_session()
    article_id = id_arg("article")
    article = db.get(Article, article_id) if article_id else None
    if article_id and article is None:
        abort(404, "There is no such article.")
    return render_template(
        "sharing/stats.html",
        article=article,
        chart=visits.recent_chart(db, now=app_now(), article_id=article_id),
        sharers=visits.top_sharers(db, article_id=article_id),
        articles=articles_with_requests(db),
    )


@dashboard.get("/button")
@login_required
def button() -> str:
    db, ctx = get_session(), _ctx()
    example = asking.latest_article(db)
    article_url = (
        canonical_url(example, ctx.site_url)
        if example
        else "https://your-site.example/your-article"
    )
    return render_template("sharing/button.html", ctx=ctx, article_url=article_url, example=example)


@dashboard.route("/standing", methods=["GET", "POST"])
@login_required
def standing() -> str | Response | tuple[str, int]:
    db = get_session()
    form = StandingForm()
    status = 200
    if request.method == "POST":
        _writing_session()
        if not _user().is_admin:
            abort(403, "Only an administrator can grant standing permissions.")
        if form.validate_on_submit():
            try:
                create_standing_permission(
                    db,
                    who=form.who.data or "",
                    kinds=form.kinds.data or [],
                    quota=form.quota.data,
                    ends_at=_end_of(form.ends_on.data),
                    note=form.note.data or "",
                    actor=Actor.staff(_user()),
                    now=app_now(),
                )
            except SharingError as exc:
                db.rollback()
                _show_error(form, exc)
                status = exc.status
            else:
                db.commit()
                flash("Standing permission saved.", "success")
                return redirect(url_for("sharing_dashboard.standing"), 303)
        else:
            status = 422
    return render_template(
        "sharing/standing.html",
        form=form,
        standing=standing_permissions(db),
        settings=_ctx().settings,
        now=app_now(),
        confirm=ConfirmForm(),
    ), status


@dashboard.post("/standing/<id:standing_id>/end")
@login_required
def end_standing(standing_id: int) -> Response:
    _writing_session()
    if not _user().is_admin:
        abort(403, "Only an administrator can end standing permissions.")
    ConfirmForm().validate_on_submit() or abort(400)
    db = get_session()
    found = db.get(StandingPermission, standing_id) if standing_id <= MAX_ID else None
    if found is None:
        abort(404)
    end_standing_permission(db, found, now=app_now())
    db.commit()
    flash(f"The standing permission for {found.who} has ended.", "success")
    return redirect(url_for("sharing_dashboard.standing"), 303)
