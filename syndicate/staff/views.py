"""Sign-in, staff management and API tokens. Views parse, call one service, render."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.staff import services
from syndicate.staff.access import (
    admin_required,
    bearer_token_user,
    log_in,
    log_out,
    login_required,
    signed_in_user,
    unauthorized,
)
from syndicate.staff.forms import (
    ConfirmForm,
    EditUserForm,
    LoginForm,
    NewTokenForm,
    NewUserForm,
    ProfileForm,
)
from syndicate.staff.models import ApiToken, Role, User
from syndicate.web.actions import act, run, writing_session
from syndicate.web.security import limiter, safe_next

bp = Blueprint("staff", __name__)
api_bp = Blueprint("staff_api", __name__, url_prefix="/api/v1")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
def login() -> ResponseReturnValue:
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        if run(lambda db: _sign_in(db, form)):
            return redirect(safe_next(form.next.data, url_for("publication.home")))
        flash("Wrong email or password.", "error")
        return render_template("staff/login.html", form=form), 401
    return render_template("staff/login.html", form=form)


def _sign_in(db: Session, form: LoginForm) -> bool:
    user = services.authenticate(db, form.email.data or "", form.password.data or "", now=app_now())
    if user is not None:
        log_in(user)
    return user is not None


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)
    return act(
        lambda db: log_out(),
        done=[("info", "You are signed out.")],
        then=url_for("staff.login"),
    )


@bp.get("/dashboard/users")
@admin_required
def users() -> str:
    return _users_page(NewUserForm())[0]


def _users_page(form: NewUserForm, status: int = 200) -> tuple[str, int]:
    listed = services.list_users(get_session())
    return render_template("staff/users.html", users=listed, form=form), status


@bp.post("/dashboard/users")
@admin_required
def create_user() -> ResponseReturnValue:
    form = NewUserForm()
    return act(
        lambda db: services.create_user(
            db,
            form.email.data or "",
            form.password.data or "",
            role=Role(form.role.data),
            name=form.name.data or "",
            time_zone=form.time_zone.data,
            now=app_now(),
        ),
        form=form,
        page=lambda status: _users_page(form, status),
        done=lambda user: f"{user.email} can now sign in.",
        then=url_for("staff.users"),
    )


@bp.route("/dashboard/users/<id:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int) -> ResponseReturnValue:
    db = writing_session() if request.method == "POST" else get_session()
    user = db.get(User, user_id) or abort(404)
    form = EditUserForm(obj=user, role=user.role.value)
    if request.method == "GET":
        return render_template("staff/user_edit.html", user=user, form=form), 200
    return act(
        lambda db: services.update_user(
            db,
            user,
            acting=signed_in_user(),
            role=Role(form.role.data),
            is_active=form.is_active.data,
            name=form.name.data or "",
            time_zone=form.time_zone.data,
        ),
        form=form,
        page=lambda status: (render_template("staff/user_edit.html", user=user, form=form), status),
        done=f"{user.email} is updated.",
        then=url_for("staff.users"),
    )


@bp.route("/dashboard/profile", methods=["GET", "POST"])
@login_required
def profile() -> ResponseReturnValue:
    if request.method == "POST":
        writing_session()  # SQLite: the write lock before the reads the change rests on
    form = ProfileForm(obj=signed_in_user())
    if request.method == "GET":
        return render_template("staff/profile.html", form=form), 200
    return act(
        lambda db: _save_profile(db, form),
        form=form,
        page=lambda status: (render_template("staff/profile.html", form=form), status),
        done="Your profile is saved.",
        then=url_for("staff.profile"),
    )


def _save_profile(db: Session, form: ProfileForm) -> None:
    user = signed_in_user()
    services.update_user(
        db, user, acting=user, name=form.name.data or "", time_zone=form.time_zone.data
    )
    if form.new_password.data:
        services.change_password(db, user, form.new_password.data)
        log_in(user)  # a new session here; change_password ended every other one


@bp.get("/dashboard/tokens")
@login_required
def tokens() -> str:
    return _tokens_page(None, 200)[0]


def _tokens_page(new_secret: str | None, status: int) -> tuple[str, int]:
    # The secret is rendered once, in this response, and never again.
    return render_template(
        "staff/tokens.html",
        tokens=services.list_api_tokens(get_session(), signed_in_user()),
        form=NewTokenForm(formdata=None),
        revoke_form=ConfirmForm(),
        new_secret=new_secret,
    ), status


@bp.post("/dashboard/tokens")
@login_required
def create_token() -> ResponseReturnValue:
    form = NewTokenForm()
    return act(
        lambda db: services.create_api_token(
            db, signed_in_user(), form.name.data or "", now=app_now()
        ),
        form=form,
        page=lambda status: _tokens_page(None, status),
        render=lambda made: _tokens_page(made[1], 201),
    )


@bp.post("/dashboard/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)
    token = writing_session().get(ApiToken, token_id)
    if token is None or token.user_id != signed_in_user().id:
        abort(404)
    return act(
        lambda db: services.revoke_api_token(db, token, now=app_now()),
        done=f"The token {token.name!r} is revoked.",
        then=url_for("staff.tokens"),
    )


@api_bp.get("/me")
def api_me() -> Response:
    # Not an api/ operation (no OpenAPI entry); the token's last use commits here, in one run.
    user = run(bearer_token_user)
    if user is None:
        return unauthorized()
    return jsonify(email=user.email, name=user.name, role=user.role.value, time_zone=user.time_zone)
