"""The dashboard's posting pages: compose, the post, the calendar, targets' settings, rules."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from syndicate import wording
from syndicate.articles.models import Article
from syndicate.articles.services import published_page
from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.errors import Checks, DomainError
from syndicate.linkedin.feed import fold
from syndicate.linkedin.models import LinkedInTarget
from syndicate.linkedin.services import list_targets
from syndicate.linkedin.text import MAX_COMMENTARY
from syndicate.posts import auto_rules, best_times, bulk, composing, editing, scheduling
from syndicate.posts.context import PostError, PostExists
from syndicate.posts.forms import (
    MAX_TYPED,
    ComposeForm,
    EditPostForm,
    ImportForm,
    RuleForm,
    TargetSettingsForm,
)
from syndicate.posts.models import EDITABLE_STATES, AutoPostRule, Post, PostState
from syndicate.posts.targets import TargetSettings, update_target_settings
from syndicate.staff.access import admin_required, current_user, login_required
from syndicate.staff.forms import ConfirmForm
from syndicate.staff.models import User
from syndicate.staff.services import time_zone_choices
from syndicate.web.actions import act, writing_session
from syndicate.web.forms import SelectChoice
from syndicate.web.params import id_arg, page_number
from syndicate.web.security import safe_next
from syndicate.web.templating import format_time

bp = Blueprint("posts", __name__, url_prefix="/dashboard/posts")

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- small helpers ---------------------------------------------------------------------


def _user() -> User:
    user = current_user()
    assert user is not None  # login_required ran
    return user


def _site_url() -> str:
    site_url: str = current_app.config["SITE_URL"]
    return site_url


def _campaign() -> str:
    campaign: str = current_app.config["UTM_CAMPAIGN"]
    return campaign


def _next_hour() -> datetime:
    return (app_now() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)


def _local_input(moment: datetime | None, zone: str) -> str:
    """What the schedule input holds: the time as every page shows it, zone included."""
    return wording.time_in_zone(moment, zone, for_input=True) if moment else ""


@bp.app_template_global()
def live_post_url(post: Post) -> str | None:
    """Where the published post can be seen: LinkedIn, or the sandbox's page when we talk to one."""
    if not post.linkedin_urn:
        return None
    api_base: str = current_app.config["LINKEDIN_API_BASE"].rstrip("/")
    if current_app.config["LINKEDIN_SANDBOX"] or api_base != "https://api.linkedin.com":
        return api_base + "/sandbox/"
    return post.live_url


@bp.app_template_global()
def posting_targets() -> list[LinkedInTarget]:
    """Active targets, for "Post to LinkedIn" links on other pages."""
    return list_targets(get_session())


@bp.app_template_global()
def article_posts(article_id: int) -> list[Post]:
    return editing.posts_for_article(get_session(), article_id)


# --- the list --------------------------------------------------------------------------


@bp.get("/")
@login_required
def index() -> str:
    state_arg = request.args.get("state", "")
    try:
        state = PostState(state_arg) if state_arg else None
    except ValueError:
        abort(400, "state must be one of: " + ", ".join(s.value for s in PostState) + ".")
    db = get_session()
    page = editing.posts_page(
        db, state=state, number=page_number(), size=current_app.config["PAGE_SIZE"]
    )
    return render_template(
        "posts/index.html",
        page=page,
        state=state_arg,
        states=list(PostState),
        attention=editing.posts_needing_attention(db),
        has_targets=bool(list_targets(db)),
    )


# --- compose ---------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    if request.method == "POST":
        writing_session()  # SQLite: the write lock before the reads the post is built on
    article_id, target_id = id_arg("article"), id_arg("target")
    if article_id is None or target_id is None:
        if request.method == "POST":
            abort(400, "Choose an article and a target first.")
        return _choose(article_id, target_id)
    article, target = _postable(article_id, target_id)
    form = ComposeForm()
    if request.method == "GET":
        return _compose_page(_compose_defaults(form, article, target), article, target)
    if form.preview.data:
        return _compose_page(form, article, target), 200 if form.validate_on_submit() else 422
    zone = _user().time_zone
    return act(
        lambda db: _create(db, form, article, target),
        form=form,
        check=lambda: _post_input(form, zone),
        page=lambda status: (_compose_page(form, article, target), status),
        fields={"queue": "when"},
        refused=lambda exc: _already_posted(exc, form, article, target),
        done=lambda made: _saved(made, zone),
        then=lambda made: url_for("posts.show", post_id=made[0].id),
    )


def _postable(article_id: int, target_id: int) -> tuple[Article, LinkedInTarget]:
    db = get_session()
    article = db.get(Article, article_id) or abort(404, "There is no article with this number.")
    target = db.get(LinkedInTarget, target_id) or abort(404, "There is no target with this number.")
    if not article.is_published:
        abort(422, "Only published articles can be posted; publish the article first.")
    if not target.is_active:
        abort(422, f"{target.display_name} cannot be posted to now; reconnect it first.")
    return article, target


def _compose_defaults(form: ComposeForm, article: Article, target: LinkedInTarget) -> ComposeForm:
    defaults = composing.compose_defaults(
        article, target, site_url=_site_url(), campaign=_campaign()
    )
    form.commentary.data = defaults.commentary
    form.card_title.data = defaults.card_title
    form.card_description.data = defaults.card_description
    form.when.data = "queue" if target.queue_slots else "at"
    form.scheduled_at.data = _local_input(_next_hour(), _user().time_zone)
    return form


def _create(
    db: Session, form: ComposeForm, article: Article, target: LinkedInTarget
) -> tuple[Post, str]:
    """The post the form asks for, and the note to show when a DST change bent its time."""
    user = _user()
    data, note = _post_input(form, user.time_zone)
    post = composing.create_post(
        db,
        article,
        target,
        data,
        user=user,
        now=app_now(),
        site_url=_site_url(),
        campaign=_campaign(),
        reshare=bool(form.reshare.data),
    )
    return post, note


def _already_posted(
    exc: DomainError, form: ComposeForm, article: Article, target: LinkedInTarget
) -> tuple[str, int] | None:
    """The compose page says which post exists already, with its link, instead of a message."""
    if not isinstance(exc, PostExists):
        return None
    existing_id = exc.existing.id if exc.existing is not None else None
    return _compose_page(form, article, target, existing_id=existing_id), exc.status


def _saved(made: tuple[Post, str], zone: str, prefix: str = "") -> list[tuple[str, str]]:
    post, note = made
    messages = [("success", prefix + _saved_message(post, zone))]
    return messages + [("info", note)] if note else messages


def _choose(article_id: int | None, target_id: int | None) -> str:
    db = get_session()
    article = db.get(Article, article_id) if article_id else None
    return render_template(
        "posts/choose.html",
        article=article,
        articles=[] if article else published_page(db, 1, 100).items,
        targets=list_targets(db),
        target_id=target_id,
    )


def _post_input(form: ComposeForm, zone: str) -> tuple[composing.PostInput, str]:
    """What the form asks for, with the DST note when the local time was bent; the text's
    and the time's problems are reported together."""
    data = composing.PostInput(
        commentary=form.commentary.data or "",
        card_title=form.card_title.data or "",
        card_description=form.card_description.data or "",
    )
    checks = Checks()
    checks.run(lambda: composing.check_commentary(data.commentary))
    note = ""
    if form.when.data == "draft":
        data.as_draft = True
    elif form.when.data != "queue":
        raw = (form.scheduled_at.data or "").strip()
        if not raw:
            checks.add(PostError("Pick a date and time, or another choice below.", "scheduled_at"))
        elif (local := checks.run(lambda: scheduling.parse_local(raw, zone))) is not None:
            data.when, note = local.instant, local.note
    checks.done()
    return data, note


def _saved_message(post: Post, zone: str) -> str:
    if post.state is PostState.DRAFT:
        return "Saved as a draft. Give it a time to schedule it."
    when = format_time(post.scheduled_at, zone)
    if post.target.time_zone != zone:
        when += f", {format_time(post.scheduled_at, post.target.time_zone)} for the target"
    if post.state is PostState.AWAITING_APPROVAL:
        return f"Saved for {when}. An administrator must approve it before it goes out."
    return f"Scheduled for {when}."


def _compose_page(
    form: ComposeForm, article: Article, target: LinkedInTarget, existing_id: int | None = None
) -> str:
    zone = _user().time_zone
    form.scheduled_at.label.text = f"Date and time in {zone}"
    return render_template(
        "posts/compose.html",
        form=form,
        article=article,
        target=target,
        zone=zone,
        slots=scheduling.format_slots(target.queue_slots),
        shown=composing.typed_preview(form.commentary.data or ""),
        feed=composing.feed_preview(
            target,
            form.commentary.data or "",
            card_title=(form.card_title.data or "").strip() or article.title,
            link=composing.tracked_link(article, site_url=_site_url(), campaign=_campaign()),
            thumbnail=article.hero_image_url,
        ),
        existing_id=existing_id,
        max_length=MAX_COMMENTARY,
        example_time=_local_input(_next_hour(), zone),
    )


@bp.post("/preview")
@login_required
def preview() -> Response:
    """The counter, escaped text and "…see more" fold for the compose page's script.

    The fold comes from here (linkedin/feed.py) so the script never has a rule of its own;
    the page works without the script.
    """
    commentary = request.form.get("commentary", "")
    if len(commentary) > MAX_TYPED:
        abort(413, f"The text is longer than {MAX_TYPED} characters.")
    shown = composing.typed_preview(commentary)
    folded = fold(shown.commentary)
    return jsonify(
        length=shown.length,
        too_long=shown.too_long,
        sent=shown.sent,
        max=MAX_COMMENTARY,
        shown=folded.shown,
        rest=folded.rest,
    )


# --- many posts from a CSV file --------------------------------------------------------


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_csv() -> ResponseReturnValue:
    """Check a CSV file of posts (a dry run), or schedule all of them in one transaction."""
    form = ImportForm()
    if request.method == "GET":
        return _import_page(form)
    if not form.validate_on_submit():
        return _import_page(form), 422
    data = _import_data(form)
    if data is None:
        return _import_page(form), 422
    dry_run = not form.schedule.data
    return act(
        lambda db: bulk.import_posts(
            db,
            data,
            user=_user(),
            now=app_now(),
            site_url=_site_url(),
            campaign=_campaign(),
            dry_run=dry_run,
        ),
        form=form,
        page=lambda status: (_import_page(form), status),
        refused=lambda exc: _import_refused(exc, form),
        render=(lambda report: _import_page(form, report, data)) if dry_run else None,
        then=None if dry_run else url_for("posts.index"),
        done=None if dry_run else (lambda report: report.summary + "."),
    )


def _import_data(form: ImportForm) -> bytes | None:
    """The uploaded file's bytes, or those of the file a check read; None: say what's missing."""
    upload: object = form.file.data
    if isinstance(upload, FileStorage) and upload.filename:
        data: bytes = upload.stream.read(bulk.MAX_BYTES + 1)  # a byte more: "too large"
        return data
    if form.checked.data:
        try:
            return base64.b64decode(form.checked.data, validate=True)
        except (binascii.Error, ValueError):
            abort(400, "The checked file did not come back intact; upload it again.")
    form.file.errors = [*form.file.errors, "Choose a CSV file."]
    return None


def _import_refused(exc: DomainError, form: ImportForm) -> tuple[str, int] | None:
    if not isinstance(exc, bulk.ImportRefused):
        return None
    return _import_page(form, exc.report), exc.status


def _import_page(
    form: ImportForm, report: bulk.ImportReport | None = None, data: bytes | None = None
) -> str:
    """The format, the upload form and, after a check or a refusal, every row's outcome."""
    ready = report is not None and report.dry_run and not report.problems
    if ready and data is not None and report is not None and report.to_schedule:
        form.checked.data = base64.b64encode(data).decode("ascii")
    else:
        form.checked.data = ""
    return render_template(
        "posts/import.html",
        form=form,
        report=report,
        ready=ready,
        max_rows=bulk.MAX_ROWS,
        max_kb=bulk.MAX_BYTES // 1024,
        max_length=MAX_COMMENTARY,
        targets=list_targets(get_session()),
    )


@bp.get("/import/example.csv")
@login_required
def import_example() -> Response:
    """An example file made from the newest articles and the first target."""
    text = bulk.example_csv(get_session(), now=app_now(), site_url=_site_url())
    return Response(
        text.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="posts-example.csv"'},
    )


# --- one post --------------------------------------------------------------------------


@bp.route("/<id:post_id>", methods=["GET", "POST"])
@login_required
def show(post_id: int) -> ResponseReturnValue:
    if request.method == "POST":
        writing_session()  # SQLite: the write lock before reading the post's state
    post = get_session().get(Post, post_id) or abort(404, "There is no post with this number.")
    zone = _user().time_zone
    form = EditPostForm()
    shown_time = _local_input(post.scheduled_at, zone)
    if request.method == "GET":
        form.commentary.data = post.commentary
        form.card_title.data = post.card_title
        form.card_description.data = post.card_description
        form.scheduled_at.data = shown_time
        return _post_page(post, form)
    if form.preview.data:
        return _post_page(post, form), 200 if form.validate_on_submit() else 422
    return act(
        lambda db: _update(db, post, _edit_input(form, zone, shown_time)),
        form=form,
        page=lambda status: (_post_page(post, form), status),
        fields={"queue": "when"},
        done=lambda made: _saved(made, zone, prefix="Saved. "),
        then=url_for("posts.show", post_id=post.id),
    )


def _update(db: Session, post: Post, given: tuple[composing.PostInput, str]) -> tuple[Post, str]:
    data, note = given
    editing.update_post(db, post, data, user=_user(), now=app_now())
    return post, note


def _edit_input(form: EditPostForm, zone: str, shown_time: str) -> tuple[composing.PostInput, str]:
    data = composing.PostInput(
        commentary=form.commentary.data or "",
        card_title=form.card_title.data or "",
        card_description=form.card_description.data or "",
    )
    raw = (form.scheduled_at.data or "").strip()
    # The time as shown, unchanged, keeps the stored instant (seconds, the second 02:30).
    if not raw or _same_wall_time(raw, shown_time, zone):
        return data, ""
    local = scheduling.parse_local(raw, zone)
    data.when = local.instant
    return data, local.note


def _same_wall_time(typed: str, shown: str, zone: str) -> bool:
    """Whether the input still says the time it was shown with, however it is written."""
    try:
        a, b = wording.parse_time(typed), wording.parse_time(shown)
    except ValueError:
        return False
    return a.naive == b.naive and (a.zone or zone) == (b.zone or zone)


def _post_page(post: Post, form: EditPostForm) -> str:
    zone = _user().time_zone
    form.scheduled_at.label.text = f"Date and time in {zone}"
    editable = post.state in EDITABLE_STATES
    commentary = (form.commentary.data if editable else None) or post.commentary
    return render_template(
        "posts/post.html",
        post=post,
        form=form,
        zone=zone,
        editable=editable,
        shown=composing.typed_preview(commentary),
        feed=composing.feed_preview(
            post.target,
            commentary,
            card_title=((form.card_title.data or "").strip() if editable else "")
            or post.card_title,
            link=post.link_url,
            thumbnail=post.thumbnail_url,
        ),
        max_length=MAX_COMMENTARY,
        example_time=_local_input(_next_hour(), zone),
    )


def _post_or_404(post_id: int) -> Post:
    ConfirmForm().validate_on_submit() or abort(400)
    writing_session()  # SQLite: the write lock before reading the post's state
    return get_session().get(Post, post_id) or abort(404, "There is no post with this number.")


@bp.post("/<id:post_id>/cancel")
@login_required
def cancel(post_id: int) -> ResponseReturnValue:
    post = _post_or_404(post_id)
    return act(
        lambda db: editing.cancel_post(db, post, user=_user(), now=app_now()),
        done="The post is cancelled; it will not be sent.",
        then=url_for("posts.show", post_id=post.id),
    )


@bp.post("/<id:post_id>/approve")
@login_required
def approve(post_id: int) -> ResponseReturnValue:
    post = _post_or_404(post_id)
    return act(
        lambda db: editing.approve_post(db, post, user=_user(), now=app_now()),
        done=lambda _: f"Approved: {_saved_message(post, _user().time_zone)}",
        then=url_for("posts.show", post_id=post.id),
    )


@bp.post("/<id:post_id>/dismiss")
@login_required
def dismiss(post_id: int) -> ResponseReturnValue:
    post = _post_or_404(post_id)
    return act(
        lambda db: editing.dismiss_post(db, post, now=app_now()),
        done="Dismissed. The post stays in the list with its state.",
        then=safe_next(request.form.get("next"), url_for("posts.index")),
    )


# --- calendar --------------------------------------------------------------------------


@bp.get("/calendar")
@login_required
def calendar() -> str:
    view = request.args.get("view", "week")
    if view not in ("week", "month"):
        abort(400, "view must be week or month.")
    zone = _user().time_zone
    today = app_now().astimezone(ZoneInfo(zone)).date()
    anchor = _start_arg() or today
    first, last, previous, following = _calendar_range(view, anchor)
    entries = scheduling.calendar_entries(get_session(), first, last, zone)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return render_template(
        "posts/calendar.html",
        view=view,
        zone=zone,
        today=today,
        anchor=anchor,
        first=first,
        last=last,
        previous=previous,
        following=following,
        weeks=[days[i : i + 7] for i in range(0, len(days), 7)],
        entries=entries,
    )


def _start_arg() -> date | None:
    raw = request.args.get("start", "")
    if not raw:
        return None
    try:
        if not _ISO_DAY.fullmatch(raw):
            raise ValueError
        day = date.fromisoformat(raw)
    except ValueError:
        abort(400, "start must be a date written YYYY-MM-DD.")
    if not 1900 <= day.year <= 2999:
        abort(400, "start must be a date between the years 1900 and 2999.")
    return day


def _calendar_range(view: str, anchor: date) -> tuple[date, date, date, date]:
    """First and last day shown (whole weeks from Monday), and where prev/next lead."""
    if view == "week":
        first = anchor - timedelta(days=anchor.weekday())
        return first, first + timedelta(days=6), first - timedelta(days=7), first + timedelta(7)
    month_start = anchor.replace(day=1)
    following = (month_start + timedelta(days=32)).replace(day=1)
    month_end = following - timedelta(days=1)
    previous = (month_start - timedelta(days=1)).replace(day=1)
    first = month_start - timedelta(days=month_start.weekday())
    last = month_end + timedelta(days=6 - month_end.weekday())
    return first, last, previous, following


# --- targets ---------------------------------------------------------------------------


@bp.get("/targets")
@login_required
def targets() -> str:
    return render_template(
        "posts/targets.html",
        targets=list_targets(get_session()),
        format_slots=scheduling.format_slots,
    )


@bp.route("/targets/<id:target_id>", methods=["GET", "POST"])
@login_required
def target_settings(target_id: int) -> ResponseReturnValue:
    db = writing_session() if request.method == "POST" else get_session()
    target = db.get(LinkedInTarget, target_id) or abort(404, "There is no target with this number.")
    form = TargetSettingsForm()
    example = composing.example_article(db)
    if request.method == "GET":
        return _target_page(target, _target_defaults(form, target), example)
    return act(
        lambda db: update_target_settings(
            db, target, _target_input(form), user=_user(), now=app_now(), example=example
        ),
        form=form,
        page=lambda status: (_target_page(target, form, example), status),
        done=f"Saved the settings of {target.display_name}.",
        then=url_for("posts.target_settings", target_id=target.id),
    )


@bp.post("/targets/<id:target_id>/best-times")
@login_required
def add_best_times(target_id: int) -> ResponseReturnValue:
    """Add one suggested slot (button ``slot``) or the top three (button ``top``)."""
    db = writing_session()
    target = db.get(LinkedInTarget, target_id) or abort(404, "There is no target with this number.")
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")
    now = app_now()
    if request.form.get("top") is not None:
        top = best_times.best_times(db, target, now=now).suggestions[:3]
        wanted = [(s.weekday, s.hour) for s in top]
        if not wanted:
            abort(409, "There are no suggestions to add yet.")
    else:
        try:
            wanted = [best_times.parse_suggestion(request.form.get("slot", "")[:10])]
        except DomainError as exc:
            abort(400, exc.message)
    return act(
        lambda db: best_times.add_suggested_slots(db, target, wanted, now=now),
        done=lambda added: best_times.added_message(target, added),
        then=url_for("posts.target_settings", target_id=target.id) + "#best-times",
    )


def _target_defaults(form: TargetSettingsForm, target: LinkedInTarget) -> TargetSettingsForm:
    form.time_zone.data = target.time_zone
    form.queue_slots.data = scheduling.format_slots(target.queue_slots)
    form.daily_cap.data = target.daily_cap
    form.template.data = target.template or composing.DEFAULT_TEMPLATE
    form.needs_approval.data = target.needs_approval
    return form


def _target_input(form: TargetSettingsForm) -> TargetSettings:
    return TargetSettings(
        time_zone=form.time_zone.data or "",
        queue_slots=form.queue_slots.data or "",
        daily_cap=form.daily_cap.data,
        template=form.template.data or "",
        needs_approval=bool(form.needs_approval.data) if _user().is_admin else None,
    )


def _target_page(target: LinkedInTarget, form: TargetSettingsForm, example: Article) -> str:
    try:
        sample = composing.compose_defaults(
            example, target, site_url=_site_url(), campaign=_campaign()
        ).commentary
    except PostError:
        sample = None
    return render_template(
        "posts/target.html",
        target=target,
        form=form,
        example=example,
        sample=sample,
        placeholders=composing.PLACEHOLDERS,
        zones=time_zone_choices(),
        best=best_times.best_times(get_session(), target, now=app_now()),
        slot_form=ConfirmForm(),
        current_slots={
            (int(s["weekday"]), str(s["time"]))
            for s in target.queue_slots or []
            if isinstance(s, dict) and "weekday" in s
        },
    )


# --- auto-post rules -------------------------------------------------------------------


@bp.route("/rules", methods=["GET", "POST"])
@login_required
def rules() -> ResponseReturnValue:
    form = _rule_form()
    if request.method == "GET":
        return _rules_page(form, 200)
    if not _user().is_admin:
        abort(403, "Only an administrator can manage auto-post rules.")
    return act(
        lambda db: auto_rules.create_rule(
            db,
            name=form.name.data or "",
            category_slugs=list(form.categories.data or []),
            target_ids=list(form.targets.data or []),
            publish_directly=form.publish.data == "directly",
            is_active=bool(form.is_active.data),
            user=_user(),
            now=app_now(),
        ),
        form=form,
        page=lambda status: _rules_page(form, status),
        done=lambda rule: f"The rule “{rule.name}” is saved.",
        then=url_for("posts.rules"),
    )


def _rule_form() -> RuleForm:
    db = get_session()
    form = RuleForm()
    form.categories.choices = [
        SelectChoice(slug, name) for slug, name in auto_rules.category_choices(db)
    ]
    form.targets.choices = [
        SelectChoice(t.id, f"{t.display_name} ({t.kind.value}, {t.time_zone})")
        for t in list_targets(db)
    ]
    return form


def _rules_page(form: RuleForm, status: int) -> tuple[str, int]:
    db = get_session()
    page = auto_rules.rules_page(db, number=page_number(), size=current_app.config["PAGE_SIZE"])
    names = {t.id: t.display_name for t in list_targets(db, active_only=False)}
    return render_template("posts/rules.html", form=form, page=page, target_names=names), status


@bp.post("/rules/<id:rule_id>/delete")
@admin_required
def delete_rule(rule_id: int) -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)
    rule = writing_session().get(AutoPostRule, rule_id) or abort(
        404, "There is no rule with this number."
    )
    return act(
        lambda db: auto_rules.delete_rule(db, rule, user=_user()),
        done=f"The rule “{rule.name}” is deleted.",
        then=url_for("posts.rules"),
    )
