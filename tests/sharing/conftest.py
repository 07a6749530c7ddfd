"""Sharing fixtures: the blueprints on the app (until create_app registers them), an article,
a reader who walks through the form, and the emails the outbox holds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

import syndicate.sharing.models  # noqa: F401  (until syndicate/models.py imports it)
from syndicate.clock import FixedClock
from syndicate.mail.models import MAIL_KIND
from syndicate.models import OutboxMessage
from syndicate.sharing.models import ShareRequest
from tests.mail.conftest import SmtpServer, smtp, smtp_servers  # noqa: F401

CANONICAL = "https://f5mag.example/2026/03/us-china-fentanyl-talks"
SAMPLE_MESSAGE = "My subscribers on LinkedIn would enjoy your article. May I link it to them?"


def count_visits_at_once(app: Flask, *, visit_flush_seconds: float = 0) -> Flask:
    """Write share-link visits during the request, so that tests can count them at once."""
    app.config["SHARING_VISIT_FLUSH_SECONDS"] = visit_flush_seconds
    return app


@pytest.fixture(autouse=True)
def _visits_at_once(request: pytest.FixtureRequest) -> None:
    if "app" in request.fixturenames:
        count_visits_at_once(request.getfixturevalue("app"))


@pytest.fixture
def article(make_article):  # noqa: ANN001, ANN201
    return make_article(
        title="U.S. and China to hold talks on fentanyl in Beijing",
        slug="us-china-fentanyl-talks",
        canonical_url=CANONICAL,
        body="<p>The United States and China are set to hold crucial talks…</p>",
    )


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str | None

    def link(self, path_part: str) -> str:
        """The first URL in the text part that contains ``path_part``."""
        for url in re.findall(r"https?://\S+", self.text):
            if path_part in url:
                return url
        raise AssertionError(f"no link with {path_part!r} in:\n{self.text}")


def mails(session: Session, to: str | None = None) -> list[Mail]:
    """Queued emails, oldest first."""
    session.expire_all()
    rows = session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == MAIL_KIND).order_by(OutboxMessage.id)
    ).all()
    found = [
        Mail(r.payload["to"], r.payload["subject"], r.payload["text"], r.payload["html"])
        for r in rows
    ]
    return [m for m in found if to is None or m.to == to]


def form_fields(client: FlaskClient, slug: str) -> dict[str, str]:
    """The hidden fields of the share form as a reader's browser gets them."""
    page = client.get(f"/articles/{slug}/share").get_data(as_text=True)
    return dict(re.findall(r'name="(started|csrf_token)" type="hidden" value="([^"]*)"', page))


def request_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "Ada Reader",
        "email": "ada@example.org",
        "where": "linkedin_profile",
        "where_url": "https://www.linkedin.com/in/ada-reader",
        "audience_size": "2500",
        "kind": "link",
        "message": SAMPLE_MESSAGE,
    }
    fields.update(overrides)
    return fields


def submit(
    client: FlaskClient,
    clock: FixedClock,
    slug: str,
    *,
    wait: float = 10,
    environ: dict[str, str] | None = None,
    **overrides: Any,
):  # noqa: ANN201
    """Open the form, take ``wait`` seconds to fill it in, send it."""
    hidden = form_fields(client, slug)
    clock.advance(timedelta(seconds=wait))
    return client.post(
        f"/articles/{slug}/share",
        data={**hidden, **request_fields(**overrides)},
        environ_base=environ or {},
    )


def verify(client: FlaskClient, session: Session, email: str = "ada@example.org") -> str:
    """Open the emailed confirmation link and confirm; return the private page's path."""
    url = mails(session, email)[-1].link("/sharing/verify/")
    path = url.split("news.example.test", 1)[1]
    assert client.get(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def count_requests(session: Session) -> int:
    session.expire_all()
    return len(session.scalars(select(ShareRequest)).all())


def only_request(session: Session) -> ShareRequest:
    session.expire_all()
    [found] = session.scalars(select(ShareRequest)).all()
    return found


def pending_request(
    session: Session,
    app: Flask,
    article,
    clock: FixedClock,  # noqa: ANN001
    **overrides: Any,
) -> ShareRequest:
    """A request submitted and confirmed through the services (no HTTP), then committed."""
    from syndicate.sharing.asking import RequestInput, submit_request, verify_request
    from syndicate.sharing.context import Sharing

    ctx = Sharing.for_app(app)
    fields = request_fields(**{"kind": "full", **overrides})
    data = RequestInput(
        name=fields["name"],
        email=fields["email"],
        where=fields["where"],
        where_url=fields["where_url"] or None,
        audience_size=int(fields["audience_size"]) if fields.get("audience_size") else None,
        kind=fields["kind"],
        excerpt_words=fields.get("excerpt_words"),
        language=fields.get("language"),
        message=fields["message"],
    )
    created = submit_request(session, article, data, now=clock.now(), ctx=ctx)
    token = mails(session, created.requester_email)[-1].link("/sharing/verify/").rsplit("/", 1)[1]
    verified = verify_request(session, token, now=clock.now(), ctx=ctx)
    session.commit()
    return verified


def change_signing_key(app: Flask) -> None:
    """What an operator does: a new SYNDICATE_SHARING_SIGNING_KEY, and the app restarted."""
    from syndicate.sharing.signing import new_private_key

    app.config["SHARING_SIGNING_KEY"] = new_private_key()
    for built_from_the_old_key in ("sharing_signer", "sharing_context"):
        app.extensions.pop(built_from_the_old_key, None)
