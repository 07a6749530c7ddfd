"""Mail delivery over real SMTP (aiosmtpd on 127.0.0.1): sent once, retried, or given up."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from syndicate.mail.jobs import deliver_mail
from syndicate.mail.models import NOT_SENT_OUTCOME
from syndicate.mail.services import new_mail, queue_mail
from syndicate.models import OutboxMessage, OutboxState
from tests.mail.conftest import SmtpServer, deliver_to, free_port, password_checker


def _queue(session, clock, **overrides):  # noqa: ANN001, ANN202
    fields = {
        "to": "reader@example.org",
        "subject": "Your request to share “Harbour at dawn”",
        "text": "Hello Ada,\n\nYou may link the article.\n",
        "html": "<p>Hello Ada,</p><p>You may <b>link</b> the article.</p>",
        "reply_to": "rights@f5mag.example",
    }
    fields.update(overrides)
    message = queue_mail(session, new_mail(now=clock.now(), **fields))
    session.commit()
    return message


def _reload(session, message: OutboxMessage) -> OutboxMessage:  # noqa: ANN001
    session.expire_all()
    return session.get(OutboxMessage, message.id)


def test_deliver_mail_sends_text_and_html_with_stable_headers(app, session, clock, smtp):
    message = _queue(session, clock)

    assert deliver_mail(app).startswith("mail: 1 claimed, 1 done")

    [received] = smtp.inbox.accepted
    assert received.mail_from == "news@f5mag.example"
    assert received.rcpt_tos == ["reader@example.org"]
    sent = received.message
    assert sent["From"] == "F5mag <news@f5mag.example>"
    assert sent["To"] == "reader@example.org"
    assert sent["Subject"] == "Your request to share “Harbour at dawn”"
    assert sent["Reply-To"] == "rights@f5mag.example"
    assert sent["Date"] == "Mon, 02 Mar 2026 09:00:00 +0000"
    key = message.payload["key"]
    assert sent["Message-ID"] == f"<outbox.{key}@f5mag.example>"
    assert sent.get_content_type() == "multipart/alternative"
    text = sent.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert text == "Hello Ada,\n\nYou may link the article.\n"
    assert "<b>link</b>" in sent.get_body(("html",)).get_content()

    stored = _reload(session, message)
    assert stored.state is OutboxState.DONE
    assert stored.outcome == f"sent via smtp://127.0.0.1:{smtp.port}"
    assert stored.attempts == 1
    assert deliver_mail(app) == ""
    assert len(smtp.inbox.seen) == 1


def test_text_only_mail_is_a_single_plain_part(app, session, clock, smtp):
    _queue(session, clock, html=None, reply_to=None)
    deliver_mail(app)
    sent = smtp.inbox.accepted[0].message
    assert sent.get_content_type() == "text/plain"
    assert sent["Reply-To"] is None


def test_smtp_down_is_retried_with_backoff_then_delivered_once_up(
    app, session, clock, smtp_servers
):
    port = free_port()
    deliver_to(app, f"smtp://127.0.0.1:{port}?timeout=5")
    message = _queue(session, clock)

    assert "1 retrying" in deliver_mail(app)
    stored = _reload(session, message)
    assert stored.state is OutboxState.FAILED
    assert "ConnectionRefusedError" in stored.last_error
    wait = stored.available_at - clock.now()
    assert timedelta(seconds=24) <= wait <= timedelta(seconds=36)

    server = SmtpServer(port=port).start()
    smtp_servers.append(server)
    clock.advance(wait - timedelta(seconds=1))
    assert deliver_mail(app) == ""  # not due yet
    clock.advance(timedelta(seconds=2))
    assert "1 done" in deliver_mail(app)

    assert len(server.inbox.accepted) == 1
    stored = _reload(session, message)
    assert stored.state is OutboxState.DONE
    assert stored.attempts == 2


def test_temporary_rejection_is_retried_with_the_same_message_id(app, session, clock, smtp):
    smtp.inbox.data_replies.append("451 4.3.0 Try again later")
    message = _queue(session, clock)

    deliver_mail(app)
    stored = _reload(session, message)
    assert stored.state is OutboxState.FAILED
    assert "451" in stored.last_error
    clock.advance(timedelta(minutes=1))
    deliver_mail(app)

    first, second = smtp.inbox.seen
    assert (first.accepted, second.accepted) == (False, True)
    assert first.message["Message-ID"] == second.message["Message-ID"]
    assert _reload(session, message).state is OutboxState.DONE


def test_refused_recipient_goes_dead_without_retry(app, session, clock, smtp):
    smtp.inbox.refused_recipients.add("gone@example.org")
    message = _queue(session, clock, to="gone@example.org")

    assert "1 dead" in deliver_mail(app)

    stored = _reload(session, message)
    assert stored.state is OutboxState.DEAD
    assert stored.attempts == 1
    assert "550" in stored.last_error and "gone@example.org" in stored.last_error
    clock.advance(timedelta(hours=2))
    assert deliver_mail(app) == ""


def test_delivery_gives_up_after_max_attempts(app, session, clock):
    deliver_to(app, f"smtp://127.0.0.1:{free_port()}")
    message = _queue(session, clock)

    for _ in range(message.max_attempts):
        assert deliver_mail(app)
        clock.advance(timedelta(hours=2))
    assert deliver_mail(app) == ""

    stored = _reload(session, message)
    assert stored.state is OutboxState.DEAD
    assert stored.attempts == stored.max_attempts == 8
    assert "ConnectionRefusedError" in stored.last_error


def test_no_smtp_configured_marks_mail_not_sent_and_sends_nothing(app, session, clock, smtp):
    deliver_to(app, "")
    message = _queue(session, clock)

    assert "1 done" in deliver_mail(app)

    assert smtp.inbox.seen == []
    stored = _reload(session, message)
    assert stored.state is OutboxState.DONE
    assert stored.outcome == NOT_SENT_OUTCOME


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """A server TLS context whose self-signed certificate the client is made to trust."""
    cert_path, key_path = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    return context


def test_starttls_then_login_with_percent_encoded_credentials(
    app, session, clock, smtp_servers, tls
):
    server = SmtpServer(
        tls_context=tls,
        require_starttls=True,
        authenticator=password_checker("mailer@f5mag.example", "p@ss:w/rd"),
        auth_require_tls=True,
    ).start()
    smtp_servers.append(server)
    deliver_to(app, server.url(userinfo="mailer%40f5mag.example:p%40ss%3Aw%2Frd"))
    message = _queue(session, clock)

    assert "1 done" in deliver_mail(app)
    assert len(server.inbox.accepted) == 1
    assert _reload(session, message).state is OutboxState.DONE


def test_wrong_password_is_retried_not_sent(app, session, clock, smtp_servers, tls):
    server = SmtpServer(
        tls_context=tls,
        authenticator=password_checker("mailer", "right"),
        auth_require_tls=True,
    ).start()
    smtp_servers.append(server)
    deliver_to(app, server.url(userinfo="mailer:wrong", query="timeout=5"))
    message = _queue(session, clock)

    deliver_mail(app)
    stored = _reload(session, message)
    assert stored.state is OutboxState.FAILED
    assert "SMTPAuthenticationError" in stored.last_error
    assert server.inbox.seen == []


def test_smtps_speaks_tls_from_the_start(app, session, clock, smtp_servers, tls):
    server = SmtpServer(ssl_context=tls).start()
    smtp_servers.append(server)
    deliver_to(app, server.url(scheme="smtps"))
    _queue(session, clock)

    assert "1 done" in deliver_mail(app)
    assert len(server.inbox.accepted) == 1


def test_required_starttls_refuses_a_server_without_it(app, session, clock, smtp):
    deliver_to(app, smtp.url(query="starttls=1"))
    message = _queue(session, clock)

    deliver_mail(app)
    assert smtp.inbox.seen == []
    assert "STARTTLS" in _reload(session, message).last_error
