"""Queueing mail: addresses checked, header injection refused, sizes capped, nothing half-stored."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from syndicate.db import get_database
from syndicate.mail.models import MAIL_KIND, Mail
from syndicate.mail.services import MailError, new_mail, queue_mail
from syndicate.mail.smtp import SmtpMailer
from syndicate.models import OutboxMessage, OutboxState
from tests import factories


def _mail_count(session) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(OutboxMessage)) or 0


def _queue(session, clock, **overrides):  # noqa: ANN001, ANN202
    fields = {"to": "reader@example.org", "subject": "Hello", "text": "Body"}
    fields.update(overrides)
    return queue_mail(session, new_mail(now=clock.now(), **fields))


def test_queued_mail_is_a_pending_outbox_message_with_a_stable_key(session, clock):
    message = _queue(session, clock, to="Reader@BÜCHER.example", reply_to="desk@f5mag.example")

    assert message.kind == MAIL_KIND
    assert message.state is OutboxState.PENDING
    mail = Mail.from_payload(message.payload)
    assert mail.to == "Reader@xn--bcher-kva.example"
    assert mail.reply_to == "desk@f5mag.example"
    assert mail.queued_at == clock.now()
    # 128 random bits, so that Message-IDs never repeat across messages.
    assert re.fullmatch(r"[0-9a-f]{32}", mail.key)
    other = Mail.from_payload(_queue(session, clock).payload)
    assert other.key != mail.key


def test_queued_mail_is_dropped_with_a_rolled_back_business_change(app, clock):
    database = get_database(app)
    with pytest.raises(RuntimeError), database.transaction() as s:
        user = factories.make_user(s, now=clock.now())
        queue_mail(s, new_mail(to=user.email, subject="Welcome", text="Hi", now=clock.now()))
        raise RuntimeError("the change failed after the mail was queued")
    with database.sessions() as s:
        assert _mail_count(s) == 0


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Hello\r\nBcc: victim@example.org"),
        ("subject", "Hello\nX-Injected: 1"),
        ("to", "reader@example.org\r\nBcc: victim@example.org"),
        ("to", "reader@example.org\n"),
        ("reply_to", "desk@f5mag.example\rBcc: victim@example.org"),
    ],
)
def test_header_injection_is_refused(session, clock, field, value):
    with pytest.raises(MailError, match="line break"):
        _queue(session, clock, **{field: value})
    assert _mail_count(session) == 0


@pytest.mark.parametrize(
    "address",
    [
        "",
        "reader",
        "reader@localhost",
        "@example.org",
        "reader@",
        "Reader <reader@example.org>",
        "reader@example.org, other@example.org",
        "two words@example.org",
        "reader@-bad-.example",
        "reader@exa_mple.org",
        "réader@example.org",
        "a..b@example.org",
        "x" * 65 + "@example.org",
        "reader@" + "a" * 250 + ".org",
    ],
)
def test_invalid_addresses_are_refused(session, clock, address):
    with pytest.raises(MailError):
        _queue(session, clock, to=address)
    assert _mail_count(session) == 0


def test_sizes_are_capped(session, clock):
    with pytest.raises(MailError, match="longer than"):
        _queue(session, clock, text="x" * 100_001)
    with pytest.raises(MailError, match="longer than"):
        _queue(session, clock, html="<p>" + "x" * 200_000 + "</p>")
    with pytest.raises(MailError, match="subject"):
        _queue(session, clock, subject="   ")
    with pytest.raises(MailError, match="text part"):
        _queue(session, clock, text=" \n ")
    assert _mail_count(session) == 0

    long_subject = _queue(session, clock, subject="Title " * 100)
    assert len(long_subject.payload["subject"]) == 200
    assert long_subject.payload["subject"].endswith("…")


def test_smtp_url_defaults_and_credentials():
    plain = SmtpMailer("smtp://mail.example.org", "news@f5mag.example")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "mail.example.org",
        25,
        False,
        "auto",
    )
    assert plain.username is None and plain.timeout == 30

    secure = SmtpMailer(
        "smtps://me%40f5mag.example:s%3Acret@mail.example.org?timeout=5",
        "F5mag <news@f5mag.example>",
    )
    assert (secure.port, secure.implicit_tls, secure.timeout) == (465, True, 5.0)
    assert (secure.username, secure.password) == ("me@f5mag.example", "s:cret")
    assert secure.endpoint == "smtps://mail.example.org:465"
    assert "cret" not in secure.endpoint
    assert secure.envelope_from == "news@f5mag.example"


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://mail.example.org", "smtp:// or smtps://"),
        ("smtp://", "no host"),
        ("smtp://mail.example.org:99999", "invalid port"),
        ("smtp://mail.example.org?starttls=maybe", "starttls"),
        ("smtp://mail.example.org?timeout=soon", "timeout"),
        ("smtp://mail.example.org?timeout=0", "timeout"),
        ("smtp://mail.example.org?tls=1", "unknown options: tls"),
    ],
)
def test_malformed_smtp_urls_are_refused_with_the_reason(url, problem):
    with pytest.raises(ValueError, match=problem):
        SmtpMailer(url, "news@f5mag.example")


def test_mail_from_must_be_an_address():
    with pytest.raises(ValueError, match="MAIL_FROM"):
        SmtpMailer("smtp://mail.example.org", "not an address")
