"""Mail delivery, run by the scheduler process: drains the outbox's mail messages."""

from __future__ import annotations

from typing import Any

from flask import Flask

from syndicate import outbox
from syndicate.mail.models import MAIL_KIND, NOT_SENT_OUTCOME
from syndicate.mail.smtp import send_mail


def send_queued_mail(app: Flask, payload: dict[str, Any]) -> str:
    """The outbox handler for ``mail.send``: send over SMTP, or record that nothing was sent."""
    mailer = app.extensions["mailer"]
    if mailer is None:
        # make run has no mail server: the dashboard shows what would have gone out.
        return NOT_SENT_OUTCOME
    return send_mail(payload, mailer=mailer)


def mail_handlers() -> dict[str, outbox.Handler]:
    return {MAIL_KIND: send_queued_mail}


def deliver_mail(app: Flask) -> str:
    """Send the mail that is due; returns a summary for the log, empty when there was none."""
    result = outbox.drain(
        app,
        kinds=[MAIL_KIND],
        handlers=mail_handlers(),
        owner=outbox.new_owner("mail"),
        now_fn=app.extensions["clock"].now,
    )
    return f"mail: {result}" if result else ""
