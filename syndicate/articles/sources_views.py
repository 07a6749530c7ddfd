"""The dashboard's Sources page: where articles are imported from, and syncing them by hand."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from wtforms import IntegerField, SelectField, URLField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from syndicate.articles import importing
from syndicate.articles.import_fetch import SourceError
from syndicate.articles.import_store import ImportSummary, describe_result
from syndicate.articles.models import Source
from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.staff.access import login_required, signed_in_user
from syndicate.staff.forms import ConfirmForm
from syndicate.web.actions import act, writing_session
from syndicate.web.forms import FlaskForm, SelectChoice
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
def add_source() -> ResponseReturnValue:
    form = SourceForm()
    return act(
        lambda db: importing.import_source(
            db,
            form.url.data or "",
            kind=form.kind.data,
            interval_minutes=form.interval.data,
            fetcher=current_app.extensions["fetcher"],
            now=app_now(),
            actor_id=signed_in_user().id,
        ),
        form=form,
        page=lambda status: (_render_list(form), status),
        fields={"": "url"},  # a source that cannot be imported: the reason goes beside its address
        done=lambda made: [(_category(made[1]), f"Imported {made[0].url}: {made[1]}.")],
        then=lambda made: url_for("sources.show_source", source_id=made[0].id),
    )


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
def sync_source(source_id: int) -> ResponseReturnValue:
    source = _confirmed_source(source_id)
    return act(
        lambda db: _sync(db, source),
        done=lambda outcome: [outcome],
        then=url_for("sources.show_source", source_id=source_id),
    )


def _sync(db: Session, source: Source) -> tuple[str, str]:
    """Sync now; a source that cannot be read is recorded on it too, so that commits."""
    try:
        summary = importing.sync_source(
            db,
            source,
            fetcher=current_app.extensions["fetcher"],
            now=app_now(),
            actor_id=signed_in_user().id,
        )
    except SourceError as exc:
        return "error", f"Could not sync {source.url}: {exc}"
    return _category(summary), f"Synced {source.url}: {summary}."


def _category(summary: ImportSummary) -> str:
    return "success" if not summary.failed else "error"


@sources.post("/<id:source_id>/delete")
@login_required
def delete_source(source_id: int) -> ResponseReturnValue:
    source = _confirmed_source(source_id)
    url = source.url
    return act(
        lambda db: importing.delete_source(db, source),
        done=f"{url} is no longer a source; its articles stay.",
        then=url_for("sources.list_sources"),
    )


def _confirmed_source(source_id: int) -> Source:
    ConfirmForm().validate_on_submit() or abort(400)
    db = writing_session()  # SQLite: the write lock before reading the source it changes
    return db.get(Source, source_id) or abort(404, "There is no such source.")
