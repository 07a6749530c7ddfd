"""The dashboard's webhook pages: endpoints, their secret (once), the delivery log, a test."""

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
from flask.typing import ResponseReturnValue

from syndicate.clock import app_now
from syndicate.db import get_session
from syndicate.staff.access import admin_required, signed_in_user
from syndicate.staff.forms import ConfirmForm
from syndicate.web.actions import act, writing_session
from syndicate.web.params import page_number
from syndicate.webhooks import services
from syndicate.webhooks.forms import EndpointForm
from syndicate.webhooks.models import WebhookEndpoint

bp = Blueprint("webhooks", __name__, url_prefix="/dashboard/webhooks")

ENDPOINT = "<id:endpoint_id>"
# Delivery states shown with the colours the stylesheet already has for post states.
STATE_CLASSES = {
    "pending": "scheduled",
    "delivered": "published",
    "failed": "awaiting_approval",
    "dead": "failed",
    "gone": "failed",
    "skipped": "cancelled",
}


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = get_session().get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404, "There is no webhook endpoint with this number.")
    return endpoint


def _input(form: EndpointForm) -> services.EndpointInput:
    return services.EndpointInput(
        url=form.url.data or "",
        event_kinds=list(form.event_kinds.data or []),
        description=form.description.data or "",
        is_active=bool(form.is_active.data),
    )


def _index(
    form: EndpointForm, new_secret: str | None = None, created: WebhookEndpoint | None = None
) -> str:
    page = services.endpoints_page(
        get_session(), number=page_number(), size=current_app.config["PAGE_SIZE"]
    )
    return render_template(
        "webhooks/index.html", page=page, form=form, new_secret=new_secret, created=created
    )


@bp.get("")
@admin_required
def index() -> str:
    return _index(EndpointForm(formdata=None))


@bp.post("")
@admin_required
def create() -> ResponseReturnValue:
    form = EndpointForm()
    return act(
        lambda db: services.create_endpoint(
            db,
            _input(form),
            vault=current_app.extensions["token_vault"],
            user=signed_in_user(),
            now=app_now(),
            allow_private=current_app.config["FETCH_ALLOW_PRIVATE"],
        ),
        form=form,
        page=lambda status: (_index(form), status),
        # The secret is rendered once, in this response, and never again.
        render=lambda made: (
            _index(EndpointForm(formdata=None), new_secret=made[1], created=made[0]),
            201,
        ),
    )


@bp.get(f"/{ENDPOINT}")
@admin_required
def show(endpoint_id: int) -> str:
    endpoint = _endpoint(endpoint_id)
    return _show(endpoint, EndpointForm(formdata=None, obj=endpoint))


def _show(endpoint: WebhookEndpoint, form: EndpointForm) -> str:
    log = services.deliveries_page(
        get_session(), endpoint, number=page_number(), size=current_app.config["PAGE_SIZE"]
    )
    return render_template(
        "webhooks/endpoint.html",
        endpoint=endpoint,
        form=form,
        log=log,
        state_classes=STATE_CLASSES,
    )


@bp.post(f"/{ENDPOINT}")
@admin_required
def update(endpoint_id: int) -> ResponseReturnValue:
    writing_session()  # SQLite: the write lock before reading the endpoint it changes
    endpoint = _endpoint(endpoint_id)
    form = EndpointForm()
    return act(
        lambda db: services.update_endpoint(
            db,
            endpoint,
            _input(form),
            now=app_now(),
            allow_private=current_app.config["FETCH_ALLOW_PRIVATE"],
        ),
        form=form,
        page=lambda status: (_show(endpoint, form), status),
        done="The endpoint is saved.",
        then=url_for("webhooks.show", endpoint_id=endpoint.id),
    )


@bp.post(f"/{ENDPOINT}/test")
@admin_required
def send_test(endpoint_id: int) -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)
    writing_session()  # SQLite: the write lock before reading the endpoint
    endpoint = _endpoint(endpoint_id)
    here = url_for("webhooks.show", endpoint_id=endpoint.id)
    if not endpoint.is_active:
        flash("Activate the endpoint first: inactive endpoints receive nothing.", "error")
        return redirect(here)
    return act(
        lambda db: services.queue_test_event(db, endpoint, user=signed_in_user(), now=app_now()),
        done=lambda delivery: (
            f"A test event ({delivery.public_id}) is queued; it goes out within a few seconds "
            "and appears in the log below."
        ),
        then=here,
    )


@bp.post(f"/{ENDPOINT}/delete")
@admin_required
def delete(endpoint_id: int) -> ResponseReturnValue:
    ConfirmForm().validate_on_submit() or abort(400)
    writing_session()  # SQLite: the write lock before reading the endpoint
    endpoint = _endpoint(endpoint_id)
    return act(
        lambda db: services.delete_endpoint(db, endpoint),
        done="The endpoint and its delivery log are deleted.",
        then=url_for("webhooks.index"),
    )
