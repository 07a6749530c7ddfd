"""Queue emails in the caller's transaction and list them (SMTP is ``smtp.py``). Nothing here
commits."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.db import Page, paginate
from syndicate.errors import DomainError
from syndicate.mail.models import MAIL_KIND, Mail, MailRecord
from syndicate.models import OutboxMessage
from syndicate.outbox import enqueue

SUBJECT_LIMIT = 200
TEXT_LIMIT = 100_000
HTML_LIMIT = 200_000

# RFC 5322 dot-atom characters only: no quoted local parts, comments or display names.
_LOCAL_PART = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_DOMAIN_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class MailError(DomainError):
    """An email that must not be queued; the message says why and is fit to show."""


def check_address(value: str, *, field: str = "to") -> str:
    """A single plain address (no display name), with the domain lower-cased and IDNA-encoded."""
    if not isinstance(value, str):
        raise MailError(f"The {field} address must be text.")
    if "\r" in value or "\n" in value:
        raise MailError(f"The {field} address contains a line break, which is not allowed.")
    value = value.strip()
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or len(value) > 254 or len(local) > 64:
        raise MailError(f"The {field} address {value[:80]!r} is not an email address.")
    if not _LOCAL_PART.match(local):
        raise MailError(f"The {field} address {value[:80]!r} has characters we cannot send to.")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise MailError(f"The {field} address {value[:80]!r} has an invalid domain.") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels):
        raise MailError(f"The {field} address {value[:80]!r} has an invalid domain.")
    return f"{local}@{ascii_domain}"


def _check_subject(subject: str) -> str:
    if not isinstance(subject, str):
        raise MailError("The subject must be text.")
    if "\r" in subject or "\n" in subject:
        raise MailError("The subject contains a line break, which is not allowed.")
    subject = _CONTROL.sub("", subject).strip()
    if not subject:
        raise MailError("An email needs a subject.")
    # Subjects are often built from article titles; a shortened subject beats no email.
    return subject if len(subject) <= SUBJECT_LIMIT else subject[: SUBJECT_LIMIT - 1] + "…"


def _check_body(body: str, *, name: str, limit: int) -> str:
    if not isinstance(body, str):
        raise MailError(f"The {name} part must be text.")
    body = body.replace("\x00", "")
    if len(body) > limit:
        raise MailError(f"The {name} part is longer than {limit} characters.")
    return body


def new_mail(
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    now: datetime,
    reply_to: str | None = None,
) -> Mail:
    """A checked email, ready for the outbox; MailError says what is wrong with it."""
    text = _check_body(text, name="text", limit=TEXT_LIMIT)
    if not text.strip():
        raise MailError("An email needs a text part.")
    return Mail(
        to=check_address(to),
        subject=_check_subject(subject),
        text=text,
        html=_check_body(html, name="HTML", limit=HTML_LIMIT) if html else None,
        reply_to=check_address(reply_to, field="reply-to") if reply_to else None,
        queued_at=now,
        # Chosen here, not from the row's id, so that a mail can be written in the same
        # statement as the change that causes it (see sharing.store_request).
        key=secrets.token_hex(16),
    )


def queue_mail(session: Session, mail: Mail) -> OutboxMessage:
    """Queue an email built by ``new_mail`` in the caller's transaction; it is sent only if
    the caller commits."""
    return enqueue(session, MAIL_KIND, mail.to_payload(), now=mail.queued_at)


def mail_page(session: Session, number: int, size: int) -> Page[MailRecord]:
    """Queued emails, newest first."""
    page = paginate(
        session,
        select(OutboxMessage)
        .where(OutboxMessage.kind == MAIL_KIND)
        .order_by(OutboxMessage.id.desc()),
        number=number,
        size=size,
    )
    return Page([MailRecord(row) for row in page.items], page.number, page.size, page.total)


def find_mail(session: Session, message_id: int) -> MailRecord | None:
    message = session.get(OutboxMessage, message_id)
    if message is None or message.kind != MAIL_KIND:
        return None
    return MailRecord(message)
