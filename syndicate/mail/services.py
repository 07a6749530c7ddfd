"""Queue emails in the caller's transaction and send them over SMTP. Nothing here commits."""

from __future__ import annotations

import re
import secrets
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from syndicate.db import Page, paginate
from syndicate.errors import DomainError
from syndicate.mail.models import MAIL_KIND, Mail, MailRecord
from syndicate.models import OutboxMessage
from syndicate.outbox import PermanentFailure, enqueue

SUBJECT_LIMIT = 200
TEXT_LIMIT = 100_000
HTML_LIMIT = 200_000
DEFAULT_TIMEOUT = 30.0

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


class SmtpMailer:
    """Sends one email per connection to the server named by SYNDICATE_SMTP_URL.

    ``smtp://user:pass@host:port`` upgrades with STARTTLS whenever the server offers it
    (``?starttls=1`` insists on it, ``?starttls=0`` never tries); ``smtps://`` speaks TLS
    from the start. ``?timeout=`` sets the socket timeout in seconds (default 30).
    Certificates are verified against the system's trust store.
    """

    def __init__(self, url: str, mail_from: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"}:
            raise ValueError("SYNDICATE_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ValueError("SYNDICATE_SMTP_URL names no host")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("SYNDICATE_SMTP_URL has an invalid port") from None
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - {"starttls", "timeout"}
        if unknown:
            raise ValueError(
                f"SYNDICATE_SMTP_URL has unknown options: {', '.join(sorted(unknown))}"
            )
        starttls = query.get("starttls", ["auto"])[-1]
        if starttls not in {"auto", "0", "1"}:
            raise ValueError("SYNDICATE_SMTP_URL: starttls must be 0 or 1")
        try:
            timeout = float(query.get("timeout", [DEFAULT_TIMEOUT])[-1])
        except ValueError:
            raise ValueError("SYNDICATE_SMTP_URL: timeout must be a number of seconds") from None
        if not 0 < timeout <= 600:
            raise ValueError("SYNDICATE_SMTP_URL: timeout must be between 0 and 600 seconds")
        envelope_from = parseaddr(mail_from)[1]
        if "@" not in envelope_from or "\n" in mail_from or "\r" in mail_from:
            raise ValueError(f"SYNDICATE_MAIL_FROM is not an email address: {mail_from!r}")

        self.implicit_tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else ""
        self.starttls = starttls
        self.timeout = timeout
        self.mail_from = mail_from
        self.envelope_from = envelope_from
        self.message_id_domain = envelope_from.rpartition("@")[2] or "localhost"

    @property
    def endpoint(self) -> str:
        """Where mail goes, without the credentials (safe to log and show)."""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{self.host}:{self.port}"

    def build(self, mail: Mail) -> EmailMessage:
        """The full message: text part, optional HTML alternative and stable headers."""
        message = EmailMessage()
        message["From"] = self.mail_from
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = format_datetime(mail.queued_at)
        message["Message-ID"] = f"<outbox.{mail.key}@{self.message_id_domain}>"
        if mail.reply_to:
            message["Reply-To"] = mail.reply_to
        message.set_content(mail.text)
        if mail.html:
            message.add_alternative(mail.html, subtype="html")
        return message

    def send(self, mail: Mail) -> None:
        """Deliver to the server; smtplib errors propagate for the caller to classify."""
        message = self.build(mail)
        context = ssl.create_default_context()
        if self.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with client:
            client.ehlo()
            if not self.implicit_tls and self.starttls != "0":
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                elif self.starttls == "1":
                    raise smtplib.SMTPNotSupportedError(
                        f"{self.endpoint} does not offer STARTTLS and the URL requires it"
                    )
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message, from_addr=self.envelope_from, to_addrs=[mail.to])


def send_mail(payload: dict[str, object], *, mailer: SmtpMailer) -> str:
    """Send one queued email; PermanentFailure when the server rejects it for good."""
    try:
        mail = Mail.from_payload(payload)  # type: ignore[arg-type]
    except ValueError as exc:
        raise PermanentFailure(str(exc)) from None
    try:
        mailer.send(mail)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = {code for code, _ in exc.recipients.values()}
        detail = "; ".join(
            f"{addr}: {code} {reply.decode(errors='replace')}"
            for addr, (code, reply) in exc.recipients.items()
        )
        if all(code >= 500 for code in codes):
            raise PermanentFailure(f"the server refused the recipient: {detail}") from None
        raise
    except smtplib.SMTPDataError as exc:
        if exc.smtp_code >= 500:
            reply = exc.smtp_error.decode(errors="replace")
            raise PermanentFailure(
                f"the server rejected the message: {exc.smtp_code} {reply}"
            ) from None
        raise
    return f"sent via {mailer.endpoint}"
