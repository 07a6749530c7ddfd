"""Mail fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Flask

from syndicate.mail.smtp import make_mailer


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    accepted: bool

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.content, policy=email.policy.default)  # type: ignore[return-value]


class Inbox:
    """An aiosmtpd handler that records every DATA it sees and can be told to refuse."""

    def __init__(self) -> None:
        self.seen: list[Received] = []
        self.refused_recipients: set[str] = set()
        self.data_replies: list[str] = []

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.seen if r.accepted]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, ANN201, N802
        if address in self.refused_recipients:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        reply = self.data_replies.pop(0) if self.data_replies else "250 Message accepted"
        self.seen.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                envelope.original_content or envelope.content,
                accepted=reply.startswith("250"),
            )
        )
        return reply


class _Controller(Controller):
    """aiosmtpd's controller, able to listen on port 0 (it pings its own port when starting)."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    def __init__(self, port: int = 0, **options: Any) -> None:
        self.inbox = Inbox()
        self.port = port
        self.options = options
        self._controller: _Controller | None = None

    def start(self) -> SmtpServer:
        self._controller = _Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, **self.options
        )
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, scheme: str = "smtp", userinfo: str = "", query: str = "") -> str:
        auth = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}{'?' + query if query else ''}"


def free_port() -> int:
    """A port with nothing listening on it (for 'the server is down')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_servers() -> Iterator[list[SmtpServer]]:
    """Servers a test starts itself (TLS options, a fixed port); all stopped afterwards."""
    servers: list[SmtpServer] = []
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def smtp(app: Flask, smtp_servers: list[SmtpServer]) -> SmtpServer:
    """A plain SMTP server on 127.0.0.1 that the app is configured to deliver to."""
    server = SmtpServer().start()
    smtp_servers.append(server)
    deliver_to(app, server.url(), mail_from="F5mag <news@f5mag.example>")
    return server


def deliver_to(app: Flask, url: str, *, mail_from: str | None = None) -> None:
    """Point the app's mail at ``url``, as SYNDICATE_SMTP_URL does when the app is built."""
    app.config["SMTP_URL"] = url
    if mail_from is not None:
        app.config["MAIL_FROM"] = mail_from
    app.extensions["mailer"] = make_mailer(url, app.config["MAIL_FROM"])


def password_checker(login: str, password: str):  # noqa: ANN201
    def authenticate(server, session, envelope, mechanism, auth_data):  # noqa: ANN001, ANN202
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == login.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False)

    return authenticate
