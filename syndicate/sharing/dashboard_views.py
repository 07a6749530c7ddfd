"""Share requests on the staff dashboard: the inbox, a request's page and its decisions,
the export, the numbers, the share button and standing permissions.

Views parse input, call one service, render or redirect; ``web.actions.act`` owns the
transaction of every change. The public pages are in ``views``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from datetime import date as date_type
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from syndicate import wording
from syndicate.articles.models import Article
from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.sharing import asking, deciding, visits
from syndicate.sharing.context import Actor, Sharing, canonical_url
from syndicate.sharing.forms import ApproveForm, BulkForm, NoteForm, QuestionForm, StandingForm
from syndicate.sharing.inbox import (
    BulkResult,
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
from syndicate.sharing.views import settle_before_showing
from syndicate.staff.access import current_user, login_required
from syndicate.staff.forms import ConfirmForm
from syndicate.staff.models import User
from syndicate.web.actions import act, writing_session
from syndicate.web.forms import FlaskForm
from syndicate.web.params import MAX_ID, id_arg, page_number, whole_number
from syndicate.web.security import safe_next
from syndicate.web.spreadsheet import csv_response

dashboard = Blueprint("sharing_dashboard", __name__, url_prefix="/dashboard/sharing")

MAX_BULK = 200


def _ctx() -> Sharing:
    return Sharing.for_app()


def _user() -> User:
    user = current_user()
    assert user is not None  # login_required ran
    return user


def _actor() -> Actor:
    return Actor.staff(_user())


def _zone() -> ZoneInfo:
    return ZoneInfo(_user().time_zone or "UTC")


def _end_of(day: date_type | None) -> datetime | None:
    """A "valid until" date in the staff member's zone: the end of that day, in UTC."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=1), time(0), _zone()).astimezone(UTC)


# --- the inbox ------------------------------------------------------------------------------


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
def bulk() -> ResponseReturnValue:
    writing_session()
    form = BulkForm()
    back = safe_next(request.form.get("next"), url_for("sharing_dashboard.inbox"))
    ids = _bulk_ids(form)
    if not ids:
        flash("Select at least one request first.", "error")
        return redirect(back, 303)
    action, note = form.action.data or "", form.note.data or ""
    return act(
        lambda db: bulk_decide(db, ids, action, note, actor=_actor(), now=app_now(), ctx=_ctx()),
        then=back,
        page=lambda _status: redirect(back, 303),  # the reason is flashed there
        done=lambda result: [_bulk_outcome(result, action)],
    )


def _bulk_ids(form: BulkForm) -> list[int]:
    """The selected requests' ids (none selected: empty); 400 for anything else sent."""
    raw_ids = request.form.getlist("ids")
    if not form.validate_on_submit():
        abort(400, "Choose an action for the selected requests.")
    ids = {whole_number(i, MAX_ID) for i in raw_ids}
    if len(raw_ids) > MAX_BULK or None in ids:
        abort(400, f"Select between 1 and {MAX_BULK} requests by their numbers.")
    return sorted(i for i in ids if i is not None)


def _bulk_outcome(result: BulkResult, action: str) -> tuple[str, str]:
    """What a bulk action did, as (category, message): an error when it decided nothing."""
    verb = "approved" if action == "approve" else "denied"
    message = f"{wording.count(len(result.done), 'request')} {verb}."
    if result.skipped:
        message += (
            f" {len(result.skipped)} skipped because they were already decided: "
            + ", ".join(f"#{i}" for i in result.skipped)
            + "."
        )
    return ("success" if result.done else "error"), message


@dashboard.get("/export.csv")
@login_required
def export() -> Response:
    return csv_response(export_rows(get_session(), _filter(), _ctx()), "share-requests.csv")


# --- one request and its decisions ----------------------------------------------------------


def _request_or_404(request_id: int) -> ShareRequest:
    found = get_session().get(ShareRequest, request_id) if request_id <= MAX_ID else None
    if found is None or found.state is RequestState.UNVERIFIED:
        abort(404, "There is no such share request (unconfirmed requests are not shown).")
    return found


def _detail(share_request: ShareRequest, status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    db, ctx = get_session(), _ctx()
    permission = share_request.permission
    settle_before_showing(permission)
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


def _decide(
    share_request: ShareRequest,
    form: FlaskForm,
    form_name: str,
    action: Callable[[Session], object],
    done: str,
) -> ResponseReturnValue:
    """One staff decision from the request's page: back to it, or the page again with why."""
    return act(
        action,
        form=form,
        then=url_for("sharing_dashboard.detail", request_id=share_request.id),
        page=lambda status: _detail(share_request, status, **{form_name: form}),
        done=done,
    )


@dashboard.post("/<id:request_id>/approve")
@login_required
def approve(request_id: int) -> ResponseReturnValue:
    writing_session()
    share_request = _request_or_404(request_id)
    form = ApproveForm(prefix="approve")
    return _decide(
        share_request,
        form,
        "approve",
        lambda db: deciding.grant(
            db,
            share_request,
            _conditions(form),
            actor=_actor(),
            now=app_now(),
            ctx=_ctx(),
            note=form.note.data or "",
        ),
        "Approved: the reader has their permission record and tracked link.",
    )


def _conditions(form: ApproveForm) -> deciding.Conditions:
    return deciding.Conditions(
        credit_line=form.credit_line.data or "",
        link_required=bool(form.link_required.data),
        excerpt_limit=form.excerpt_limit.data,
        expires_at=_end_of(form.expires_on.data),
    )


def _decide_with_note(
    request_id: int,
    form_class: type[NoteForm] | type[QuestionForm],
    prefix: str,
    form_name: str,
    service: Callable[..., object],
    done: str,
) -> ResponseReturnValue:
    """Deny, ask and revoke: one note from staff, handed to the service that acts on it."""
    writing_session()
    share_request = _request_or_404(request_id)
    form = form_class(prefix=prefix)
    return _decide(
        share_request,
        form,
        form_name,
        lambda db: service(
            db, share_request, form.note.data or "", actor=_actor(), now=app_now(), ctx=_ctx()
        ),
        done,
    )


@dashboard.post("/<id:request_id>/deny")
@login_required
def deny(request_id: int) -> ResponseReturnValue:
    return _decide_with_note(
        request_id, NoteForm, "deny", "deny", deciding.deny, "Denied; the reader was told why."
    )


@dashboard.post("/<id:request_id>/ask")
@login_required
def ask(request_id: int) -> ResponseReturnValue:
    return _decide_with_note(
        request_id,
        QuestionForm,
        "ask",
        "question",
        deciding.ask_for_information,
        "Your question was emailed to the reader.",
    )


@dashboard.post("/<id:request_id>/revoke")
@login_required
def revoke(request_id: int) -> ResponseReturnValue:
    return _decide_with_note(
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


def _admin_only(message: str) -> None:
    if not _user().is_admin:
        abort(403, message)


@dashboard.route("/standing", methods=["GET", "POST"])
@login_required
def standing() -> ResponseReturnValue:
    if request.method == "POST":
        return _grant_standing()
    return _standing_page(StandingForm())


def _grant_standing() -> ResponseReturnValue:
    writing_session()
    _admin_only("Only an administrator can grant standing permissions.")
    form = StandingForm()
    return act(
        lambda db: create_standing_permission(
            db,
            who=form.who.data or "",
            kinds=form.kinds.data or [],
            quota=form.quota.data,
            ends_at=_end_of(form.ends_on.data),
            note=form.note.data or "",
            actor=_actor(),
            now=app_now(),
        ),
        form=form,
        then=url_for("sharing_dashboard.standing"),
        page=lambda status: _standing_page(form, status),
        done="Standing permission saved.",
    )


def _standing_page(form: StandingForm, status: int = 200) -> tuple[str, int]:
    return render_template(
        "sharing/standing.html",
        form=form,
        standing=standing_permissions(get_session()),
        settings=_ctx().settings,
        now=app_now(),
        confirm=ConfirmForm(),
    ), status


@dashboard.post("/standing/<id:standing_id>/end")
@login_required
def end_standing(standing_id: int) -> ResponseReturnValue:
    writing_session()
    _admin_only("Only an administrator can end standing permissions.")
    ConfirmForm().validate_on_submit() or abort(400)
    found = get_session().get(StandingPermission, standing_id) if standing_id <= MAX_ID else None
    if found is None:
        abort(404)
    back = url_for("sharing_dashboard.standing")
    return act(
        lambda db: end_standing_permission(db, found, now=app_now()),
        then=back,
        page=lambda _status: redirect(back, 303),
        done=f"The standing permission for {found.who} has ended.",
    )
