"""The dashboard's home (the first-run checklist) and the publication's name."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.publication import naming, services
from syndicate.publication.forms import NameForm
from syndicate.staff.access import login_required, signed_in_user
from syndicate.staff.forms import ConfirmForm
from syndicate.web.actions import act

bp = Blueprint("publication", __name__, url_prefix="/dashboard")


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    """The checklist until its owner dismisses it; then the articles, as before."""
    progress = services.checklist(
        get_session(), signed_in_user(), config=current_app.config
    )
    if progress.dismissed:
        return redirect(url_for("articles_dashboard.list_articles"))
    return render_template("publication/home.html", checklist=progress, form=ConfirmForm())


def _confirmed() -> None:
    ConfirmForm().validate_on_submit() or abort(400)


@bp.post("/checklist/dismiss")
@login_required
def dismiss_checklist() -> ResponseReturnValue:
    _confirmed()
    return act(
        lambda db: services.dismiss_checklist(db, signed_in_user(), now=app_now()),
        done="The checklist is hidden. Bring it back from Publication.",
        then=url_for("articles_dashboard.list_articles"),
    )


@bp.post("/checklist/show")
@login_required
def show_checklist() -> ResponseReturnValue:
    _confirmed()
    return act(
        lambda db: services.show_checklist(db, signed_in_user()),
        then=url_for("publication.home"),
    )


@bp.post("/checklist/feeds")
@login_required
def see_feeds() -> ResponseReturnValue:
    """The one step with no trace of its own: ticked on the way to the feeds page."""
    _confirmed()
    return act(
        lambda db: services.mark_feeds_seen(db, signed_in_user(), now=app_now()),
        then=url_for("feeds_dashboard.feeds_page"),
    )


@bp.route("/publication", methods=["GET", "POST"])
@login_required
def settings() -> ResponseReturnValue:
    form = NameForm()
    if request.method == "GET":
        form.name.data = services.stored_site_name(get_session()) or ""
        return _settings_page(form)
    return act(
        lambda db: services.set_site_name(
            db, form.name.data or "", user=signed_in_user(), now=app_now()
        ),
        form=form,
        page=lambda status: (_settings_page(form), status),
        done=_renamed,
        then=url_for("publication.settings"),
    )


def _renamed(name: str) -> str:
    if name:
        return f"The publication is now called “{name}”."
    return "The publication's name comes from the settings again."


def _settings_page(form: NameForm) -> str:
    return render_template(
        "publication/settings.html",
        form=form,
        configured=naming.configured_site_name(current_app),
        checklist=services.checklist(get_session(), signed_in_user(), config=current_app.config),
        confirm=ConfirmForm(),
    )
