"""Operations endpoints: liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.staff.access import login_required, signed_in_user
from syndicate.staff.forms import ConfirmForm
from syndicate.web import services
from syndicate.web.actions import act
from syndicate.web.security import safe_next

bp = Blueprint("web", __name__)


@bp.get("/favicon.ico")
def favicon() -> ResponseReturnValue:
    """Browsers and crawlers ask for /favicon.ico whatever the pages link: the SVG icon."""
    response = redirect(url_for("static", filename="favicon.svg"), 301)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    try:
        get_session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200


@bp.post("/dashboard/alerts/<id:alert_id>/dismiss")
@login_required
def dismiss_alert(alert_id: int) -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)

    def dismiss(db: Session) -> None:
        if not services.dismiss_alert(db, alert_id, user_id=signed_in_user().id, now=app_now()):
            abort(404)

    return act(
        dismiss, then=safe_next(request.form.get("next"), url_for("publication.home"))
    )
