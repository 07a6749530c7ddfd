"""Sign-in, staff management and API tokens. Views parse, call one service, render."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.staff import services
from syndicate.staff.access import (
    admin_required,
    api_token_required,
    current_user,
    log_in,
    log_out,
    login_required,
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
from syndicate.web.security import limiter, safe_next

bp = Blueprint("staff", __name__)
api_bp = Blueprint("staff_api", __name__, url_prefix="/api/v1")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10 per minute;50 per hour", methods=["POST"])
def login() -> str | Response:
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        db = get_session()
        user = services.authenticate(db, form.email.data, form.password.data, now=app_now())
        if user is not None:
            log_in(user)
            db.commit()
            return redirect(safe_next(form.next.data, url_for("articles_dashboard.index")))
        flash("Wrong email or password.", "error")
        return render_template("staff/login.html", form=form), 401
    return render_template("staff/login.html", form=form)


@bp.post("/logout")
def logout() -> Response:
    ConfirmForm().validate_on_submit() or abort(400)
    log_out()
    get_session().commit()
    flash("You are signed out.", "info")
    return redirect(url_for("staff.login"))


@bp.get("/dashboard/users")
@admin_required
def users() -> str:
    return render_template(
        "staff/users.html", users=services.list_users(get_session()), form=NewUserForm()
    )


@bp.post("/dashboard/users")
@admin_required
def create_user() -> str | Response:
    form = NewUserForm()
    db = get_session()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                db,
                form.email.data,
                form.password.data,
                role=Role(form.role.data),
                name=form.name.data or "",
                time_zone=form.time_zone.data,
                now=app_now(),
            )
        except services.StaffError as exc:
            flash(str(exc), "error")
        else:
            db.commit()
            flash(f"{user.email} can now sign in.", "success")
            return redirect(url_for("staff.users"))
    return render_template("staff/users.html", users=services.list_users(db), form=form), 422


@bp.route("/dashboard/users/<id:user_id>", methods=["GET", "POST"])
@admin_required
def edit_user(user_id: int) -> tuple[str, int] | Response:
    db = get_session()
    user = db.get(User, user_id) or abort(404)
    form = EditUserForm(obj=user, role=user.role.value)
    if form.validate_on_submit():
        try:
            services.update_user(
                db,
                user,
                acting=current_user(),
                role=Role(form.role.data),
                is_active=form.is_active.data,
                name=form.name.data or "",
                time_zone=form.time_zone.data,
            )
        except services.StaffError as exc:
            db.rollback()
            flash(str(exc), "error")
            return render_template("staff/user_edit.html", user=user, form=form), 422
        db.commit()
        flash(f"{user.email} is updated.", "success")
        return redirect(url_for("staff.users"))
    status = 422 if form.is_submitted() else 200
    return render_template("staff/user_edit.html", user=user, form=form), status


@bp.route("/dashboard/profile", methods=["GET", "POST"])
@login_required
def profile() -> tuple[str, int] | Response:
    db = get_session()
    user = current_user()
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        try:
            services.update_user(
                db, user, acting=user, name=form.name.data or "", time_zone=form.time_zone.data
            )
            if form.new_password.data:
                services.change_password(db, user, form.new_password.data)
        except services.StaffError as exc:
            db.rollback()
            flash(str(exc), "error")
            return render_template("staff/profile.html", form=form), 422
        if form.new_password.data:
            log_in(user)  # a new session here; change_password ended every other one
        db.commit()
        flash("Your profile is saved.", "success")
        return redirect(url_for("staff.profile"))
    status = 422 if form.is_submitted() else 200
    return render_template("staff/profile.html", form=form), status


@bp.get("/dashboard/tokens")
@login_required
def tokens() -> str:
    db = get_session()
    return render_template(
        "staff/tokens.html",
        tokens=services.list_api_tokens(db, current_user()),
        form=NewTokenForm(),
        revoke_form=ConfirmForm(),
        new_secret=None,
    )


@bp.post("/dashboard/tokens")
@login_required
def create_token() -> tuple[str, int]:
    db = get_session()
    form = NewTokenForm()
    new_secret = None
    status = 422
    if form.validate_on_submit():
        try:
            _token, new_secret = services.create_api_token(
                db, current_user(), form.name.data, now=app_now()
            )
        except services.StaffError as exc:
            flash(str(exc), "error")
        else:
            db.commit()
            status = 201
    # The secret is rendered once, in this response, and never again.
    return render_template(
        "staff/tokens.html",
        tokens=services.list_api_tokens(db, current_user()),
        form=NewTokenForm(formdata=None),
        revoke_form=ConfirmForm(),
        new_secret=new_secret,
    ), status


@bp.post("/dashboard/tokens/<id:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Response:
    ConfirmForm().validate_on_submit() or abort(400)
    db = get_session()
    token = db.get(ApiToken, token_id)
    if token is None or token.user_id != current_user().id:
        abort(404)
    services.revoke_api_token(db, token, now=app_now())
    db.commit()
    flash(f"The token {token.name!r} is revoked.", "success")
    return redirect(url_for("staff.tokens"))


@api_bp.get("/me")
@api_token_required
def api_me() -> Response:
    user = current_user()
    return jsonify(email=user.email, name=user.name, role=user.role.value, time_zone=user.time_zone)
