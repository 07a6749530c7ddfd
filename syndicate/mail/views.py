"""The dashboard's mail pages: what was queued, sent, retried, or never sent (no SMTP)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from syndicate.db import get_session
from syndicate.mail import services
from syndicate.staff.access import login_required
from syndicate.web.params import page_number

mail = Blueprint("mail", __name__, url_prefix="/dashboard/mail")


@mail.get("")
@login_required
def list_mail() -> str:
    page = services.mail_page(get_session(), page_number(), current_app.config["PAGE_SIZE"])
    return render_template(
        "mail/list.html", page=page, smtp_configured=bool(current_app.config["SMTP_URL"])
    )


@mail.get("/<id:message_id>")
@login_required
def show_mail(message_id: int) -> str:
    record = services.find_mail(get_session(), message_id)
    if record is None:
        abort(404, "There is no email with this number.")
    return render_template(
        "mail/detail.html", record=record, smtp_configured=bool(current_app.config["SMTP_URL"])
    )
