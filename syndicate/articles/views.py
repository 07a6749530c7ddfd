"""The public site (home, article pages) and the dashboard's article editor."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response

from syndicate.articles import services
from syndicate.articles.forms import ArticleForm
from syndicate.articles.models import Article, ArticleStatus
from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.staff.access import login_required, signed_in_user
from syndicate.staff.forms import ConfirmForm
from syndicate.web.actions import act, writing_session
from syndicate.web.params import page_number

public = Blueprint("articles", __name__)
dashboard = Blueprint("articles_dashboard", __name__, url_prefix="/dashboard")


@public.get("/")
def home() -> str:
    page = services.published_page(get_session(), page_number(), current_app.config["PAGE_SIZE"])
    return render_template("articles/home.html", page=page)


@public.get("/articles/<slug>")
def article(slug: str) -> str | Response:
    found = services.find_public_by_slug(get_session(), slug)
    if found.redirect_to:
        return redirect(url_for("articles.article", slug=found.redirect_to), 301)
    if found.article is None:
        abort(404, "There is no published article at this address.")
    return render_template("articles/article.html", article=found.article)


@dashboard.get("/articles")
@login_required
def list_articles() -> str:
    status_arg = request.args.get("status", "")
    try:
        status = ArticleStatus(status_arg) if status_arg else None
    except ValueError:
        abort(400, "status must be draft, published or unpublished.")
    query = request.args.get("q", "")[:200]
    page = services.dashboard_page(
        get_session(), page_number(), current_app.config["PAGE_SIZE"], status, query
    )
    return render_template(
        "articles/dashboard_list.html", page=page, status=status_arg, q=query, form=ConfirmForm()
    )


@dashboard.route("/articles/new", methods=["GET", "POST"])
@login_required
def new_article() -> ResponseReturnValue:
    form = ArticleForm()
    if request.method == "GET":
        return render_template("articles/edit.html", form=form, article=None)
    return act(
        lambda db: services.create_article(
            db, form.to_input(), now=app_now(), actor_id=signed_in_user().id
        ),
        form=form,
        page=lambda status: (
            render_template("articles/edit.html", form=form, article=None),
            status,
        ),
        done="The draft is saved.",
        then=lambda created: url_for("articles_dashboard.edit_article", article_id=created.id),
    )


@dashboard.route("/articles/<id:article_id>", methods=["GET", "POST"])
@login_required
def edit_article(article_id: int) -> ResponseReturnValue:
    db = writing_session() if request.method == "POST" else get_session()
    found = db.get(Article, article_id) or abort(404)
    form = ArticleForm()
    if request.method == "GET":
        form.fill_from(found)
        return render_template(
            "articles/edit.html", form=form, article=found, confirm=ConfirmForm()
        )
    return act(
        lambda db: services.update_article(
            db, found, form.to_input(), now=app_now(), actor_id=signed_in_user().id
        ),
        form=form,
        page=lambda status: (
            render_template("articles/edit.html", form=form, article=found),
            status,
        ),
        done=lambda changed: "Saved." if changed else "Nothing changed.",
        then=url_for("articles_dashboard.edit_article", article_id=found.id),
    )


@dashboard.post("/articles/<id:article_id>/publish")
@login_required
def publish(article_id: int) -> ResponseReturnValue:
    found = _confirmed_article(article_id)
    return act(
        lambda db: services.publish_article(db, found, now=app_now(), actor_id=signed_in_user().id),
        done=f"“{found.title}” is published.",
        then=url_for("articles_dashboard.edit_article", article_id=found.id),
    )


@dashboard.post("/articles/<id:article_id>/unpublish")
@login_required
def unpublish(article_id: int) -> ResponseReturnValue:
    found = _confirmed_article(article_id)
    return act(
        lambda db: services.unpublish_article(
            db, found, now=app_now(), actor_id=signed_in_user().id
        ),
        done=f"“{found.title}” is no longer public.",
        then=url_for("articles_dashboard.edit_article", article_id=found.id),
    )


def _confirmed_article(article_id: int) -> Article:
    ConfirmForm().validate_on_submit() or abort(400)
    writing_session()  # SQLite: the write lock before reading the article it changes
    return get_session().get(Article, article_id) or abort(404)
