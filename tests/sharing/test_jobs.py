"""The scheduler's sharing jobs: cleanup, reminders, closing, corrections to grantees; and
the emails over real SMTP (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from syndicate.articles import services as articles
from syndicate.mail.jobs import deliver_mail
from syndicate.models import EventCursor
from syndicate.sharing.context import SYSTEM, Sharing
from syndicate.sharing.deciding import (
    answer,
    ask_for_information,
    default_conditions,
    grant,
    revoke,
)
from syndicate.sharing.demo import seed_demo_requests
from syndicate.sharing.jobs import maintain_share_requests, notify_corrections
from syndicate.sharing.models import RequestState, ShareRequest, ShareRequestEvent
from syndicate.web.models import Alert
from tests.factories import make_article
from tests.sharing.conftest import count_requests, mails, pending_request, submit


def _grant(session, app, article, clock, **overrides):  # noqa: ANN001, ANN003, ANN202
    request = pending_request(session, app, article, clock, **overrides)
    ctx = Sharing.for_app(app)
    if request.state is RequestState.PENDING:
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=SYSTEM,
            now=clock.now(),
            ctx=ctx,
        )
        session.commit()
    return request


def test_unverified_requests_are_deleted_after_seven_days(client, session, app, clock, article):
    submit(client, clock, article.slug, kind="full")
    clock.advance(timedelta(days=6, hours=23))
    maintain_share_requests(app)
    assert count_requests(session) == 1
    clock.advance(timedelta(hours=2))
    assert "1 unverified request deleted" in maintain_share_requests(app)
    assert count_requests(session) == 0
    assert session.scalars(select(ShareRequestEvent)).all() == []


def test_waiting_requests_remind_staff_after_seven_days_and_close_after_thirty(
    session, app, clock, article
):
    request = pending_request(session, app, article, clock)
    clock.advance(timedelta(days=7, minutes=1))
    maintain_share_requests(app)
    session.expire_all()
    alert = session.scalar(select(Alert).where(Alert.key == "sharing.waiting"))
    assert alert is not None and alert.resolved_at is None
    assert "1 share request has waited more than 7 days" in alert.message

    clock.advance(timedelta(days=23))
    assert "1 request closed without decision" in maintain_share_requests(app)
    session.expire_all()
    assert session.get(ShareRequest, request.id).state is RequestState.EXPIRED
    assert mails(session)[-1].subject.endswith("has closed")
    assert "/sharing/r/" in mails(session)[-1].text
    assert session.scalar(select(Alert).where(Alert.key == "sharing.waiting")).resolved_at


def test_a_reader_answer_restarts_the_clock(client, session, app, clock, article):
    request = pending_request(session, app, article, clock)
    ctx = Sharing.for_app(app)
    clock.advance(timedelta(days=20))
    ask_for_information(session, request, "Which page?", actor=SYSTEM, now=clock.now(), ctx=ctx)
    clock.advance(timedelta(days=5))
    answer(session, request, "My company page.", now=clock.now(), ctx=ctx)
    session.commit()
    clock.advance(timedelta(days=10))
    maintain_share_requests(app)
    session.expire_all()
    assert session.get(ShareRequest, request.id).state is RequestState.PENDING


def test_corrections_and_retractions_are_emailed_to_active_grantees(
    session, app, clock, article, smtp
):
    granted = _grant(session, app, article, clock, kind="full", email="grantee@example.org")
    _grant(session, app, article, clock, kind="link", email="revoked@example.org")
    revoked = session.scalar(
        select(ShareRequest).where(ShareRequest.requester_email == "revoked@example.org")
    )
    revoke(
        session,
        revoked,
        "no",
        actor=SYSTEM,
        now=clock.now(),
        ctx=Sharing.for_app(app),
    )
    pending_request(session, app, article, clock, email="waiting@example.org")
    deliver_mail(app)
    smtp.inbox.seen.clear()

    clock.advance(timedelta(days=1))
    data = articles.ArticleInput(
        title=article.title + " (corrected)",
        body="<p>Fixed.</p>",
        canonical_url=article.canonical_url,
        slug=article.slug,
        authors=["Ada Writer"],
        categories=["World"],
    )
    articles.update_article(session, article, data, now=clock.now())
    session.commit()
    assert notify_corrections(app) == "sharing corrections: 1 grantee told"
    assert notify_corrections(app) == ""  # each event is handled once

    clock.advance(timedelta(days=1))
    articles.unpublish_article(session, article, now=clock.now())
    session.commit()
    assert notify_corrections(app) == "sharing corrections: 1 grantee told"
    deliver_mail(app)

    received = [(r.rcpt_tos, r.message["Subject"]) for r in smtp.inbox.accepted]
    assert received == [
        (["grantee@example.org"], f"“{article.title}” was corrected"),
        (["grantee@example.org"], f"“{article.title}” was withdrawn by the publisher"),
    ]
    corrected = smtp.inbox.accepted[0].message
    text = corrected.get_body(("plain",)).get_content()
    html = corrected.get_body(("html",)).get_content()
    assert "/sharing/r/" in text and "/sharing/r/" in html and "/permissions/" in text
    session.expire_all()
    notes = [e.note for e in session.get(ShareRequest, granted.id).events]
    assert any("told that the article was corrected" in n for n in notes)


def test_corrections_can_be_switched_off_and_never_reach_later_grantees(
    session, app, clock, article
):
    app.config["SHARING_NOTIFY_CORRECTIONS"] = False
    _grant(session, app, article, clock, kind="full", email="grantee@example.org")
    clock.advance(timedelta(hours=1))
    articles.unpublish_article(session, article, now=clock.now())
    session.commit()
    before = len(mails(session))
    assert notify_corrections(app) == ""
    assert len(mails(session)) == before
    cursor = session.get(EventCursor, "sharing.corrections")
    assert cursor is not None and cursor.last_event_id > 0

    app.config["SHARING_NOTIFY_CORRECTIONS"] = True
    other = make_article(session, now=clock.now(), title="Later")
    clock.advance(timedelta(hours=1))
    articles.update_article(
        session,
        other,
        articles.ArticleInput(title="Later, corrected", slug=other.slug, authors=["Ada Writer"]),
        now=clock.now(),
    )
    session.commit()
    clock.advance(timedelta(hours=1))
    _grant(session, app, other, clock, kind="full", email="late@example.org")
    assert notify_corrections(app) == ""  # granted after the change: nothing to tell


def test_every_email_is_delivered_over_smtp_as_text_and_html(
    client, session, clock, app, article, smtp
):
    submit(client, clock, article.slug, kind="link", name="Zoë Šimić")
    assert deliver_mail(app).startswith("mail: 1 claimed, 1 done")
    [verification] = smtp.inbox.accepted
    message = verification.message
    assert verification.rcpt_tos == ["ada@example.org"]
    assert message["Subject"] == f"Confirm your request to share “{article.title}”"
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Hello Zoë Šimić,")
    link = next(w for w in text.split() if "/sharing/verify/" in w)
    path = link.split("news.example.test", 1)[1]
    assert client.post(path).status_code == 303
    deliver_mail(app)
    granted = smtp.inbox.accepted[-1].message
    assert granted["Subject"] == f"You may share “{article.title}”"
    assert granted.get_content_type() == "multipart/alternative"
    assert "/s/" in granted.get_body(("html",)).get_content()


def test_demo_seed_puts_a_waiting_request_and_a_granted_link_in_place(session, app, clock):
    make_article(session, now=clock.now() - timedelta(days=3), title="Older")
    make_article(session, now=clock.now(), title="Newest")
    with app.app_context():
        created = seed_demo_requests(session, now=clock.now())
    session.commit()
    states = {r.requester_name: (r.state, r.kind.value, r.article.title) for r in created}
    assert states == {
        "Mara Lindqvist": (RequestState.PENDING, "full", "Older"),
        "Jonas Berg": (RequestState.APPROVED, "link", "Newest"),
    }
    granted = next(r for r in created if r.state is RequestState.APPROVED)
    assert granted.message.endswith("May I link it to them?")
    assert granted.permission.link is not None
