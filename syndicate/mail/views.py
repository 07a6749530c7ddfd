"""The dashboard's mail pages: what was queued, sent, retried, or never sent (no SMTP)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request

from syndicate.db import get_session
from syndicate.mail import services
from syndicate.staff.access import login_required

mail = Blueprint("mail", __name__, url_prefix="/dashboard/mail")


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        abort(400, "page must be a whole number from 1 to 100000.")
    return int(raw)


@mail.get("")
@login_required
def list_mail() -> str:
    page = services.mail_page(get_session(), _page_number(), current_app.config["PAGE_SIZE"])
    return render_template(
        "mail/list.html", page=page, smtp_configured=bool(current_app.config["SMTP_URL"])
    )


@mail.get("/<int(max=2147483647):message_id>")
@login_required
def show_mail(message_id: int) -> str:
    record = services.find_mail(get_session(), message_id)
    if record is None:
        abort(404, "There is no email with this number.")
    return render_template(
        "mail/detail.html", record=record, smtp_configured=bool(current_app.config["SMTP_URL"])
    )
