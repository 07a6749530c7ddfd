"""How sharing pages and emails say dates, counts and durations, and quote titles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from syndicate.mail.jobs import deliver_mail
from syndicate.sharing.jobs import maintain_share_requests
from syndicate.sharing.models import ShareRequest
from syndicate.web.models import Alert
from tests.sharing.conftest import mails, pending_request, submit


def _approve_until(client, session, request, day: str) -> ShareRequest:  # noqa: ANN001
    """A staff member approves with "Valid until (last day included)" set to ``day``."""
    answer = client.post(
        f"/dashboard/sharing/{request.id}/approve",
        data={
            "approve-credit_line": "Credit",
            "approve-link_required": "y",
            "approve-expires_on": day,
        },
    )
    assert answer.status_code == 303, answer.get_data(as_text=True)
    session.expire_all()
    return session.get(ShareRequest, request.id)


def _private_path(session) -> str:  # noqa: ANN001
    return mails(session)[-1].link("/sharing/r/").split("news.example.test", 1)[1]


def test_a_permission_valid_until_a_day_names_that_day_on_every_page_and_email(
    client, session, app, article, clock, smtp, staff_user
):
    request = pending_request(session, app, article, clock)
    staff_user(time_zone="UTC")
    request = _approve_until(client, session, request, "2026-12-14")
    until = "valid until 2026-12-14 (last day included, UTC)"

    deliver_mail(app)
    granted = smtp.inbox.accepted[-1].message
    assert until in granted.get_body(("plain",)).get_content()
    assert until in granted.get_body(("html",)).get_content()
    record_path = f"/permissions/{request.permission.public_id}"
    pages = {
        "record": client.get(record_path).get_data(as_text=True),
        "private": client.get(_private_path(session)).get_data(as_text=True),
        "staff": client.get(f"/dashboard/sharing/{request.id}").get_data(as_text=True),
    }
    for name, page in pages.items():
        assert "2026-12-14 (last day included, UTC)" in page, name
        assert "2026-12-15" not in page, name

    clock.set(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    maintain_share_requests(app)
    deliver_mail(app)
    warning = smtp.inbox.accepted[-1].message
    assert warning["Subject"] == f"Your permission to share “{article.title}” is {until}"
    assert until in warning.get_body(("plain",)).get_content()
    assert "2026-12-15" not in warning.as_string()


@pytest.mark.parametrize("day", ["2026-03-28", "2026-03-29", "2026-10-24", "2026-10-25"])
def test_a_permission_ending_around_a_dst_change_names_its_day_in_berlin(
    client, session, app, article, clock, day, staff_user
):
    # Europe/Berlin moves its clocks on 2026-03-29 and 2026-10-25: the days either side end
    # at 23:00 or 22:00 UTC, and the days themselves last 23 and 25 hours.
    app.config["TIME_ZONE"] = "Europe/Berlin"
    request = pending_request(session, app, article, clock)
    staff_user(time_zone="Europe/Berlin")
    request = _approve_until(client, session, request, day)
    last_day = f"{day} (last day included, Europe/Berlin)"

    assert f"valid until {last_day}" in mails(session)[-1].text
    record = client.get(f"/permissions/{request.permission.public_id}").get_data(as_text=True)
    assert f"valid until {last_day}" in record
    staff_page = client.get(f"/dashboard/sharing/{request.id}").get_data(as_text=True)
    assert f"<dt>Valid until</dt><dd>{last_day}</dd>" in staff_page


def test_an_end_staff_set_in_another_zone_is_told_as_a_moment_in_the_readers(
    client, session, app, article, clock, staff_user
):
    request = pending_request(session, app, article, clock)
    staff_user(time_zone="Europe/Berlin")
    _approve_until(client, session, request, "2026-12-14")
    # The end of 14 December in Berlin, for a reader in the site's zone (UTC).
    assert "valid until 2026-12-14 23:00 UTC" in mails(session)[-1].text


def test_titles_that_carry_quotation_marks_are_not_quoted_twice(
    client, session, app, clock, make_article, smtp
):
    opening = make_article(
        title="“We measured the wrong thing”—what bike counters taught one city",
        slug="bike-counters",
    )
    whole = make_article(title='"Slow down," says the harbour master', slug="harbour-master")
    submit(client, clock, opening.slug, environ={"REMOTE_ADDR": "10.8.0.1"})
    submit(client, clock, whole.slug, email="bo@example.org", environ={"REMOTE_ADDR": "10.8.0.2"})

    deliver_mail(app)
    subjects = [accepted.message["Subject"] for accepted in smtp.inbox.accepted]
    assert subjects == [
        "Confirm your request to share “‘We measured the wrong thing’—what bike counters "
        "taught one city”",
        "Confirm your request to share “‘Slow down,’ says the harbour master”",
    ]
    form = client.get(f"/articles/{opening.slug}/share").get_data(as_text=True)
    assert "““" not in form and "“&#34;" not in form and "“‘We measured" in form


def test_a_title_that_is_a_quotation_as_a_whole_keeps_its_own_marks(
    client, session, clock, make_article
):
    quotation = make_article(title="“Every translation is a list of losses”", slug="losses")
    submit(client, clock, quotation.slug)
    assert mails(session)[-1].subject == (
        "Confirm your request to share “Every translation is a list of losses”"
    )


def test_one_of_a_kind_is_worded_in_the_singular(client, session, app, article, clock, smtp):
    app.config["SHARING_REMIND_AFTER"] = "1d"
    app.config["SHARING_UNVERIFIED_TTL"] = "1d"
    submit(client, clock, article.slug, kind="excerpt", excerpt_words="1")
    deliver_mail(app)
    verification = smtp.inbox.accepted[-1].message.get_body(("plain",)).get_content()
    assert "(an excerpt of up to 1 word)" in verification
    assert "deleted after 24 hours" in verification

    pending_request(session, app, article, clock, email="cy@example.org")
    app.config["SHARING_CLOSE_AFTER"] = "30d"  # the reminder first
    clock.advance(timedelta(hours=25))
    maintain_share_requests(app)
    session.expire_all()
    alert = session.scalar(select(Alert).where(Alert.key == "sharing.waiting"))
    assert alert.message == "1 share request has waited more than 1 day for a decision."
    app.config["SHARING_CLOSE_AFTER"] = "1d"
    assert "1 request closed without decision" in maintain_share_requests(app)
    deliver_mail(app)
    closed = smtp.inbox.accepted[-1].message.get_body(("plain",)).get_content()
    assert "No decision was made within 1 day," in closed


def test_the_allowance_refusal_says_when_the_reader_may_send_again(
    client, session, app, article, clock
):
    app.config["TIME_ZONE"] = "Europe/Berlin"
    first_sent = None
    for i in range(3):
        answer = submit(client, clock, article.slug, environ={"REMOTE_ADDR": f"10.9.0.{i}"})
        assert answer.status_code == 303
        first_sent = first_sent or clock.now()
        clock.advance(timedelta(hours=1))
    refused = submit(client, clock, article.slug, environ={"REMOTE_ADDR": "10.9.0.9"})

    assert refused.status_code == 429
    page = refused.get_data(as_text=True)
    again_at = first_sent + timedelta(days=1)  # 2026-03-03 09:00:10 UTC, 10:00 in Berlin
    assert again_at == datetime(2026, 3, 3, 9, 0, 10, tzinfo=UTC)
    assert "You have sent 3 requests from this email address within 24 hours" in page
    assert "You can send another in 21 hours, from 2026-03-03 10:00 Europe/Berlin" in page
