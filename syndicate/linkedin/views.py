"""The Connections page: connect, reconnect and disconnect LinkedIn accounts."""

from __future__ import annotations

import logging
from typing import Any

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.linkedin import client as li
from syndicate.linkedin import services
from syndicate.linkedin.models import LinkedInConnection
from syndicate.linkedin.oauth import callback_url
from syndicate.staff.access import login_required, signed_in_user
from syndicate.staff.forms import ConfirmForm
from syndicate.web.actions import act, run

log = logging.getLogger(__name__)
bp = Blueprint("linkedin", __name__, url_prefix="/dashboard/connections")

CANCELLED = {"user_cancelled_login", "user_cancelled_authorize"}


@bp.get("/")
@login_required
def index() -> str:
    db = get_session()
    return render_template(
        "linkedin/connections.html",
        connections=services.list_connections(db),
        last_posts=services.last_posts(db),
        form=ConfirmForm(),
        sandbox=current_app.config["LINKEDIN_SANDBOX"],
        now=app_now(),
    )


@bp.post("/connect")
@login_required
def connect() -> Response:
    ConfirmForm().validate_on_submit() or abort(400)
    if not current_app.config["LINKEDIN_CLIENT_ID"]:
        flash(
            "LinkedIn is not configured: set SYNDICATE_LINKEDIN_CLIENT_ID and "
            "SYNDICATE_LINKEDIN_CLIENT_SECRET, or run with the sandbox.",
            "error",
        )
        return redirect(url_for("linkedin.index"))
    pages = request.form.get("pages") == "on"
    session["linkedin_pages"] = pages
    oauth = current_app.extensions["linkedin_oauth"]
    redirect_to_linkedin: Response = oauth.linkedin.authorize_redirect(
        callback_url(current_app), scope=" ".join(services.scopes_for(pages=pages))
    )
    return redirect_to_linkedin


@bp.get("/callback")
@login_required
def callback() -> Response | tuple[str, int]:
    error = request.args.get("error")
    if error:
        _forget_state()
        if error in CANCELLED:
            flash("You cancelled at LinkedIn; nothing was connected.", "info")
        else:
            description = request.args.get("error_description", "")[:300]
            flash(f"LinkedIn refused the connection ({error}): {description}", "error")
        return redirect(url_for("linkedin.index"))
    oauth = current_app.extensions["linkedin_oauth"]
    try:
        token = oauth.linkedin.authorize_access_token()
    except MismatchingStateError:
        return _refuse(
            "This answer from LinkedIn does not belong to a connection started in "
            "this browser session (or it was used already). Start again."
        )
    except OAuthError as exc:
        return _refuse(f"LinkedIn did not give us a token: {exc.description or exc.error}.")
    except JoseError as exc:
        log.warning("LinkedIn id_token rejected: %s", exc)
        return _refuse(
            "LinkedIn's answer did not pass verification (its signed identity "
            "token was invalid or expired). Start again."
        )
    except (OSError, ValueError) as exc:
        log.warning("LinkedIn token exchange failed: %s", exc)
        return _refuse("LinkedIn could not be reached to finish connecting. Try again.")
    client: li.LinkedInClient = current_app.extensions["linkedin_client"]
    try:
        # LinkedIn is asked before the write lock is taken: no writer waits on its answers.
        profile = client.userinfo(token["access_token"])
        organizations = _organizations(client, token)
        connection = run(
            lambda db: services.store_connection(
                db,
                token=token,
                profile=profile,
                organizations=organizations,
                vault=current_app.extensions["token_vault"],
                user=signed_in_user(),
                now=app_now(),
            )
        )
    except li.LinkedInError as exc:
        return _refuse(f"LinkedIn answered, but we could not read the account: {exc}")
    pages = sum(1 for t in connection.targets if t.kind.value == "organization" and t.is_active)
    flash(f"Connected {connection.name}" + (f" and {pages} page(s)." if pages else "."), "success")
    return redirect(url_for("linkedin.index"))


def _organizations(client: li.LinkedInClient, token: dict[str, Any]) -> list[services.Organization]:
    granted = set(services.parse_scopes(token.get("scope")).split())
    if "r_organization_admin" not in granted:
        return []
    found = []
    for urn, role in client.organization_roles(token["access_token"]):
        if role not in services.POSTING_ROLES:
            continue
        details = client.organization(token["access_token"], urn)
        found.append(
            services.Organization(urn=urn, role=role, name=details.get("localizedName") or urn)
        )
    return found


def _forget_state() -> None:
    for key in [k for k in session if k.startswith("_state_linkedin_")]:
        session.pop(key, None)


def _refuse(message: str) -> tuple[str, int]:
    _forget_state()
    return render_template("web/error.html", status=400, message=message), 400


@bp.post("/<id:connection_id>/disconnect")
@login_required
def disconnect(connection_id: int) -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)
    connection = get_session().get(LinkedInConnection, connection_id) or abort(404)
    # LinkedIn is asked before the write lock is taken: no writer waits on its answer.
    revoked = services.revoke_at_linkedin(
        connection,
        vault=current_app.extensions["token_vault"],
        client=current_app.extensions["linkedin_client"],
    )
    return act(
        lambda db: services.disconnect(db, connection, now=app_now()),
        done=f"Disconnected {connection.name}; its tokens are deleted"
        + (" and revoked at LinkedIn." if revoked else " (LinkedIn did not confirm revoking)."),
        then=url_for("linkedin.index"),
    )
