"""The per-email allowance holds when one address sends many forms at the same instant."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syndicate import create_app
from syndicate.db import get_database
from syndicate.sharing.models import ShareRequest
from tests import factories
from tests.conftest import app_config
from tests.sharing.conftest import form_fields, mails, request_fields

SENDERS = 8
ROUNDS = 12
ALLOWANCE = 3


@pytest.fixture
def real_app(fresh_database, tmp_path, clock):  # noqa: ANN001, ANN201
    """The app on a database of its own whose commits are real, so threads see each other."""
    app = create_app(
        app_config(
            fresh_database,
            CLOCK=clock,
            INSTANCE_PATH=str(tmp_path / "instance"),
            # Only the per-email allowance is under test: the per-client limit stays out.
            SHARING_RATE_LIMIT_IP="100000 per hour",
            SHARING_RATE_LIMIT_EMAIL=f"{ALLOWANCE} per day",
        )
    )
    yield app
    get_database(app).engine.dispose()


def _send_at_once(app, clock, slug: str, email: str) -> list[int]:  # noqa: ANN001
    """SENDERS readers' browsers open the form, then all send it for ``email`` together."""
    browsers = [app.test_client() for _ in range(SENDERS)]
    hidden = [form_fields(browser, slug) for browser in browsers]
    clock.advance(timedelta(seconds=10))  # each took ten seconds to fill it in
    start = threading.Barrier(SENDERS)
    answers: list[int] = [0] * SENDERS

    def send(i: int) -> None:
        data = {**hidden[i], **request_fields(email=email, name=f"Sender {i}")}
        start.wait()
        answers[i] = browsers[i].post(f"/articles/{slug}/share", data=data).status_code

    threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers


def test_simultaneous_forms_from_one_address_take_exactly_its_allowance(real_app, clock):
    database = get_database(real_app)
    with database.transaction() as db:
        slug = factories.make_article(db, now=clock.now(), slug="harbour-at-dawn").slug
    for round_number in range(ROUNDS):
        email = f"reader{round_number}@example.org"
        answers = _send_at_once(real_app, clock, slug, email)
        with database.sessions() as db:
            stored = db.scalar(
                select(func.count())
                .select_from(ShareRequest)
                .where(ShareRequest.requester_email == email)
            )
            confirmations = [m for m in mails(db, email) if m.subject.startswith("Confirm")]
        assert sorted(answers) == [303] * ALLOWANCE + [429] * (SENDERS - ALLOWANCE), (
            f"round {round_number}"
        )
        assert stored == ALLOWANCE, f"round {round_number}: {stored} stored"
        assert len(confirmations) == ALLOWANCE, f"round {round_number}"
