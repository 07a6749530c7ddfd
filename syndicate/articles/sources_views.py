"""The dashboard's Sources page: where articles are imported from, and syncing them by hand."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import IntegerField, SelectField, URLField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from syndicate.articles import importing
from syndicate.articles.import_fetch import SourceError
from syndicate.articles.import_store import describe_result
from syndicate.articles.models import Source
from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.fetch import Fetcher
from syndicate.staff.access import current_user, login_required
from syndicate.staff.forms import ConfirmForm
from syndicate.web.params import page_number

sources = Blueprint("sources", __name__, url_prefix="/dashboard/sources")


class SourceForm(FlaskForm):
    url = URLField(
        "Address of a feed, sitemap or article page", validators=[DataRequired(), Length(max=2000)]
    )
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice("auto", "Recognise it"),
            SelectChoice("feed", "RSS or Atom feed"),
            SelectChoice("sitemap", "Sitemap"),
            SelectChoice("page", "One article page"),
        ],
        default="auto",
    )
    interval = IntegerField(
        "Sync every … minutes (empty: only when you press Sync now)",
        validators=[
            Optional(),
            NumberRange(min=importing.MIN_INTERVAL_MINUTES, max=importing.MAX_INTERVAL_MINUTES),
        ],
    )


def _fetcher() -> Fetcher:
    return Fetcher.from_config(current_app.config)


def _render_list(form: SourceForm) -> str:
    page = importing.sources_page(get_session(), page_number(), current_app.config["PAGE_SIZE"])
    return render_template(
        "articles/sources.html",
        page=page,
        form=form,
        confirm=ConfirmForm(),
        describe=describe_result,
    )


@sources.get("/")
@login_required
def list_sources() -> str:
    return _render_list(SourceForm())


@sources.post("/")
@login_required
def add_source() -> str | Response | tuple[str, int]:
    form = SourceForm()
    if not form.validate_on_submit():
        return _render_list(form), 422
    db = get_session()
    try:
        source, summary = importing.import_source(
            db,
            form.url.data or "",
            kind=form.kind.data,
            interval_minutes=form.interval.data,
            fetcher=_fetcher(),
            now=app_now(),
            actor_id=current_user().id,
        )
    except SourceError as exc:
        db.rollback()
        form.url.errors = [*form.url.errors, str(exc)]
        return _render_list(form), 422
    db.commit()
    flash(f"Imported {source.url}: {summary}.", "success" if not summary.failed else "error")
    return redirect(url_for("sources.show_source", source_id=source.id))


@sources.get("/<id:source_id>")
@login_required
def show_source(source_id: int) -> str:
    db = get_session()
    source = db.get(Source, source_id) or abort(404, "There is no such source.")
    return render_template(
        "articles/sources_detail.html",
        source=source,
        confirm=ConfirmForm(),
        articles=importing.article_count(db, source),
        describe=describe_result,
    )


@sources.post("/<id:source_id>/sync")
@login_required
def sync_source(source_id: int) -> Response:
    ConfirmForm().validate_on_submit() or abort(400)
    db = get_session()
    source = db.get(Source, source_id) or abort(404, "There is no such source.")
    try:
        summary = importing.sync_source(
            db, source, fetcher=_fetcher(), now=app_now(), actor_id=current_user().id
        )
    except SourceError as exc:
        db.commit()
        flash(f"Could not sync {source.url}: {exc}", "error")
    else:
        db.commit()
        flash(f"Synced {source.url}: {summary}.", "success" if not summary.failed else "error")
    return redirect(url_for("sources.show_source", source_id=source_id))


@sources.post("/<id:source_id>/delete")
@login_required
def delete_source(source_id: int) -> Response:
    ConfirmForm().validate_on_submit() or abort(400)
    db = get_session()
    source = db.get(Source, source_id) or abort(404, "There is no such source.")
    url = source.url
    importing.delete_source(db, source)
    db.commit()
    flash(f"{url} is no longer a source; its articles stay.", "success")
    return redirect(url_for("sources.list_sources"))
