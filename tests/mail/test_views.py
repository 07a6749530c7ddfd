"""The dashboard's mail pages: staff only, paginated, honest about mail that was never sent."""

from __future__ import annotations

import pytest

from syndicate import outbox
from syndicate.mail.jobs import deliver_mail
from syndicate.mail.services import new_mail, queue_mail
from tests.mail.conftest import deliver_to


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"PAGE_SIZE": 2, "SMTP_URL": ""}


def _queue(session, clock, n: int = 1, **overrides):  # noqa: ANN001, ANN202
    fields = {
        "to": "reader@example.org",
        "subject": "Please confirm your request",
        "text": "Open https://news.example.test/confirm/abc to confirm.",
    }
    fields.update(overrides)
    messages = [queue_mail(session, new_mail(now=clock.now(), **fields)) for _ in range(n)]
    session.commit()
    return messages


def test_mail_pages_need_a_signed_in_staff_member(client, session, clock):
    [message] = _queue(session, clock)
    for path in ("/dashboard/mail", f"/dashboard/mail/{message.id}"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_empty_mail_list_says_what_to_expect(client, login, make_user):
    login(make_user())
    page = client.get("/dashboard/mail").get_data(as_text=True)
    assert "No email has been queued yet" in page
    assert "SYNDICATE_SMTP_URL</code> is empty" in page


def test_mail_not_sent_without_smtp_is_listed_and_shown_honestly(
    app, client, session, clock, login, make_user
):
    login(make_user(time_zone="Europe/Berlin"))
    [message] = _queue(session, clock, html="<p>Open <a href='x'>this link</a></p>")
    deliver_mail(app)

    listing = client.get("/dashboard/mail").get_data(as_text=True)
    assert "Please confirm your request" in listing
    assert "reader@example.org" in listing
    assert "not sent (no SMTP)" in listing
    assert "1 of 8" in listing
    assert "2026-03-02 10:00 Europe/Berlin" in listing

    detail = client.get(f"/dashboard/mail/{message.id}")
    assert detail.status_code == 200
    page = detail.get_data(as_text=True)
    assert "Not sent: <code>SYNDICATE_SMTP_URL</code> was empty" in page
    assert "here is what would have been sent" in page
    assert "https://news.example.test/confirm/abc" in page
    # The HTML part is shown as source, never rendered into the dashboard.
    assert "&lt;a href=&#39;x&#39;&gt;this link&lt;/a&gt;" in page
    assert "<a href='x'>" not in page


def test_mail_that_failed_shows_its_error_and_next_try(
    app, client, session, clock, login, make_user
):
    login(make_user())
    [message] = _queue(session, clock)
    deliver_to(app, "smtp://127.0.0.1:1?timeout=2")
    deliver_mail(app)

    page = client.get("/dashboard/mail").get_data(as_text=True)
    assert "retrying" in page
    assert "next try 2026-03-02 09:00 UTC" in page
    assert "ConnectionRefusedError" in page
    assert "SYNDICATE_SMTP_URL</code> is empty" not in page
    detail = client.get(f"/dashboard/mail/{message.id}").get_data(as_text=True)
    assert "Next try" in detail and "Not sent" not in detail


def test_mail_list_paginates_newest_first(client, session, clock, login, make_user):
    login(make_user())
    for n in range(3):
        _queue(session, clock, subject=f"Mail number {n}")

    first = client.get("/dashboard/mail").get_data(as_text=True)
    assert "Mail number 2" in first and "Mail number 1" in first
    assert "Mail number 0" not in first
    assert "Page 1 of 2" in first
    second = client.get("/dashboard/mail?page=2").get_data(as_text=True)
    assert "Mail number 0" in second and "Mail number 2" not in second


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1e3", "100001"])
def test_bad_page_numbers_are_refused(client, login, make_user, page):
    login(make_user())
    assert client.get(f"/dashboard/mail?page={page}").status_code == 400


def test_unknown_or_non_mail_messages_are_not_found(client, session, clock, login, make_user):
    login(make_user())
    other = outbox.enqueue(session, "websub.ping", {"topic": "x"}, now=clock.now())
    session.commit()
    for path in (
        "/dashboard/mail/999999",
        f"/dashboard/mail/{other.id}",
        "/dashboard/mail/99999999999999999999999",
        "/dashboard/mail/abc",
    ):
        assert client.get(path).status_code == 404, path
