"""The SMTP mailer: built once from the settings (``app.extensions["mailer"]``) and handed
to whatever talks to the mail server, the mail job and ``syndicate doctor``."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from syndicate.mail.models import Mail
from syndicate.outbox import PermanentFailure

DEFAULT_TIMEOUT = 30.0


def make_mailer(url: str, mail_from: str) -> SmtpMailer | MisconfiguredMailer | None:
    """The mailer for SYNDICATE_SMTP_URL and SYNDICATE_MAIL_FROM; None when no SMTP server is
    configured."""
    if not url:
        return None
    try:
        return SmtpMailer(url, mail_from)
    except ValueError as exc:
        return MisconfiguredMailer(str(exc))


class MisconfiguredMailer:
    """Stands in for the mailer while the settings are wrong: the app still starts, each email
    fails with the reason and is retried (so it goes out once the setting is fixed), and
    ``syndicate doctor`` reports it."""

    def __init__(self, problem: str) -> None:
        self.problem = problem

    @property
    def endpoint(self) -> str:
        """No server to name: ``send`` refuses before reaching one."""
        return "no server (the mail settings are wrong)"

    def send(self, mail: Mail) -> None:
        raise ValueError(self.problem)


@dataclass
class Handshake:
    """How far a connection got, for ``syndicate doctor``'s report."""

    steps: list[str] = field(default_factory=list)
    starttls_missing: bool = False


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

    @contextmanager
    def connect(
        self, *, timeout: float | None = None, handshake: Handshake | None = None
    ) -> Iterator[smtplib.SMTP]:
        """A connection ready to send: EHLO, STARTTLS whenever the URL allows it and the
        server offers it (an error when the URL insists and it does not), and login when the
        URL names a user; QUIT when the block ends. smtplib errors propagate.

        ``timeout`` replaces the URL's; ``handshake`` records how far it got.
        """
        handshake = handshake or Handshake()
        timeout = self.timeout if timeout is None else timeout
        context = ssl.create_default_context()
        if self.implicit_tls:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=timeout, context=context
            )
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with client:
            client.ehlo()
            handshake.steps.append("EHLO")
            if not self.implicit_tls and self.starttls != "0":
                if client.has_extn("starttls"):
                    client.starttls(context=context)
                    client.ehlo()
                    handshake.steps.append("STARTTLS")
                elif self.starttls == "1":
                    handshake.starttls_missing = True
                    raise smtplib.SMTPNotSupportedError(
                        f"{self.endpoint} does not offer STARTTLS and the URL requires it"
                    )
            if self.username:
                client.login(self.username, self.password)
                handshake.steps.append("login")
            yield client

    def send(self, mail: Mail) -> None:
        """Deliver to the server; smtplib errors propagate for the caller to classify."""
        message = self.build(mail)
        with self.connect() as client:
            client.send_message(message, from_addr=self.envelope_from, to_addrs=[mail.to])


def send_mail(payload: dict[str, object], *, mailer: SmtpMailer | MisconfiguredMailer) -> str:
    """Send one queued email; PermanentFailure when the server rejects it for good."""
    try:
        mail = Mail.from_payload(payload)
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
            error = exc.smtp_error
            reply = error.decode(errors="replace") if isinstance(error, bytes) else error
            raise PermanentFailure(
                f"the server rejected the message: {exc.smtp_code} {reply}"
            ) from None
        raise
    return f"sent via {mailer.endpoint}"
