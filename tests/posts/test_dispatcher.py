"""The dispatcher against the sandbox over real HTTP: exactly once, or failed with a reason."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from syndicate.linkedin.models import ConnectionState
from syndicate.mail.models import MailRecord  # noqa: F401  (registers the outbox tables)
from syndicate.models import Event, OutboxMessage
from syndicate.posts import editing
from syndicate.posts.models import Post, PostHistory, PostState
from syndicate.web.models import Alert
from tests import factories
from tests.sharing.conftest import mails

TITLE = "Talks (finally) resume: US_China #fentanyl @desk [update] *now*"


@pytest.fixture
def post(make_post, target, make_article, clock):
    def make(title=TITLE, when=None, **article_fields):
        article = make_article(
            title=title, summary="A summary.", tags=["Policy", "Drugs"], **article_fields
        )
        return make_post(
            article=article,
            target=target,
            when=when or clock.now() + timedelta(minutes=5),
            campaign="spring",
        )

    return make


def sandbox_posts(sandbox):
    return sandbox.state.post_list()


def reload(session, post):
    session.expire_all()
    return session.get(Post, post.id)


def test_a_due_post_is_published_once_with_card_and_uncut_text(
    session, post, dispatcher, clock, linkedin_sandbox
):
    scheduled = post()
    assert dispatcher().run_once().claimed == 0  # not due yet
    clock.advance(timedelta(minutes=5))
    result = dispatcher().run_once()
    assert result.published == 1
    published = reload(session, scheduled)
    [sent] = sandbox_posts(linkedin_sandbox)
    assert published.state is PostState.PUBLISHED and published.linkedin_urn == sent.urn
    assert sent.text.rendered.startswith(TITLE)
    assert "#Policy #Drugs" in sent.text.rendered
    assert sent.content["article"]["title"] == TITLE
    # The card carries the tracked link; the default template does not repeat it.
    assert sent.content["article"]["source"].startswith("https://news.example.test/articles/")
    assert "utm_source=linkedin&utm_medium=social&utm_campaign=spring" in (
        sent.content["article"]["source"]
    )
    assert "http" not in sent.text.rendered
    assert dispatcher().run_once().claimed == 0
    states = [h.to_state for h in published.history]
    assert states == ["scheduled", "sending", "published"]


def test_thumbnail_is_uploaded_once_and_attached(
    session, post, dispatcher, clock, app, linkedin_sandbox, make_post
):
    hero = app.config["SITE_URL"] + "/static/demo/harbour-dawn.png"
    first = post(hero_image_url=hero, hero_image_alt="Harbour")
    clock.advance(timedelta(minutes=5))
    dispatcher().run_once()
    [sent] = sandbox_posts(linkedin_sandbox)
    image = sent.content["article"]["thumbnail"]
    assert image.startswith("urn:li:image:")
    assert len(linkedin_sandbox.state.images) == 1
    # A deliberate re-share of the same article reuses the uploaded image.
    again = make_post(
        article=reload(session, first).article,
        target=first.target,
        when=clock.now() + timedelta(minutes=1),
        campaign="c",
        reshare=True,
        commentary="Once more",
        card_title="T",
        card_description="",
    )
    clock.advance(timedelta(minutes=2))
    dispatcher().run_once()
    assert reload(session, again).state is PostState.PUBLISHED
    assert len(linkedin_sandbox.state.images) == 1


def test_throttling_then_success_retries_with_backoff(
    session, post, dispatcher, clock, linkedin_sandbox
):
    scheduled = post()
    linkedin_sandbox.state.inject("/rest/posts", "429", method="POST", count=2)
    clock.advance(timedelta(minutes=5))
    assert dispatcher().run_once().retried == 1
    retried = reload(session, scheduled)
    assert retried.state is PostState.SCHEDULED and retried.retry_count == 1
    assert timedelta(seconds=48) <= retried.due_at - clock.now() <= timedelta(seconds=72)
    assert dispatcher().run_once().claimed == 0  # backing off
    clock.advance(timedelta(minutes=1, seconds=15))
    dispatcher().run_once()
    clock.advance(timedelta(minutes=3))
    dispatcher().run_once()
    assert reload(session, scheduled).state is PostState.PUBLISHED
    assert len(sandbox_posts(linkedin_sandbox)) == 1


def test_a_500_storm_ends_failed_with_a_reason_and_an_email(
    session, post, dispatcher, clock, linkedin_sandbox, make_user
):
    scheduled = post()
    scheduled.created_by_id = make_user(email="scheduler@example.test").id
    session.commit()
    linkedin_sandbox.state.inject("/rest/posts", "500", method="POST", count=50)
    clock.advance(timedelta(minutes=5))
    for _ in range(8):
        dispatcher(max_retries=3).run_once()
        clock.advance(timedelta(hours=1, minutes=15))
    failed = reload(session, scheduled)
    assert failed.state is PostState.FAILED
    assert "gave up after 4 tries" in failed.last_error
    assert sandbox_posts(linkedin_sandbox) == []
    mail = session.scalars(select(OutboxMessage)).all()
    assert any(
        m.payload["to"] == "scheduler@example.test" and "failed" in m.payload["subject"]
        for m in mail
    )


def test_timeout_after_store_becomes_unknown_then_settles_with_the_same_urn(
    session, post, dispatcher, clock, linkedin_sandbox, app
):
    scheduled = post()
    app.extensions["linkedin_client"].timeout = (5, 1)
    linkedin_sandbox.state.inject("/rest/posts", "timeout-after-store", method="POST", seconds=3)
    clock.advance(timedelta(minutes=5))
    assert dispatcher().run_once().unknown == 1
    unknown = reload(session, scheduled)
    assert unknown.state is PostState.UNKNOWN and unknown.linkedin_urn is None
    [stored] = sandbox_posts(linkedin_sandbox)
    clock.advance(timedelta(minutes=3))
    assert dispatcher().run_once().published == 1
    settled = reload(session, scheduled)
    assert settled.state is PostState.PUBLISHED and settled.linkedin_urn == stored.urn
    assert len(sandbox_posts(linkedin_sandbox)) == 1
    assert "duplicate" in settled.history[-1].detail


def test_a_401_waits_for_reconnection_and_tells_staff(
    session, post, dispatcher, clock, linkedin_sandbox, target
):
    scheduled = post()
    linkedin_sandbox.state.revoke_tokens()
    clock.advance(timedelta(minutes=5))
    assert dispatcher().run_once().waiting == 1
    waiting = reload(session, scheduled)
    assert waiting.state is PostState.SCHEDULED
    assert waiting.target.connection.state is ConnectionState.RECONNECT_NEEDED
    assert session.scalar(select(Alert).where(Alert.key.like("linkedin.connection.%")))
    assert dispatcher().run_once().claimed == 0  # it waits, it does not spin
    assert sandbox_posts(linkedin_sandbox) == []


def test_a_sunset_version_pauses_all_sending_with_an_alert(
    session, post, dispatcher, clock, linkedin_sandbox
):
    first, second = post(title="One"), post(title="Two")
    clock.advance(timedelta(minutes=5))
    from syndicate.linkedin.client import LinkedInClient

    base = linkedin_sandbox.base_url
    old = dispatcher(client=LinkedInClient(api_base=base, auth_base=base, version="202001"))
    result = old.run_once(limit=1)
    assert result.waiting == 1
    alert = session.scalar(select(Alert).where(Alert.key == "linkedin.version.202001"))
    assert "SYNDICATE_LINKEDIN_VERSION" in alert.message
    assert old.run_once().claimed == 0  # paused: the second is not even tried
    assert {reload(session, p).state for p in (first, second)} == {PostState.SCHEDULED}
    assert dispatcher().run_once().published == 2  # a current version resumes
    old.client.close()


def test_a_post_too_late_is_missed_not_sent(session, post, dispatcher, clock, linkedin_sandbox):
    scheduled = post()
    clock.advance(timedelta(days=3))
    dispatcher().run_once()
    missed = reload(session, scheduled)
    assert missed.state is PostState.MISSED
    assert missed.last_error.startswith("3 days late; not sent")
    assert sandbox_posts(linkedin_sandbox) == []
    assert missed in editing.posts_needing_attention(session)


def test_lease_of_a_worker_that_died_before_sending_is_recovered_once(
    session, post, dispatcher, clock, linkedin_sandbox
):
    scheduled = post()
    clock.advance(timedelta(minutes=5))
    dead = dispatcher(owner="dead")
    assert len(dead.claim()) == 1  # ...and then the worker died
    clock.advance(timedelta(minutes=3))
    assert dispatcher(owner="alive").run_once().published == 1
    assert len(sandbox_posts(linkedin_sandbox)) == 1
    details = [h.detail for h in reload(session, scheduled).history]
    assert "recovered from a worker that stopped before sending" in details


def test_worker_that_died_after_sending_is_settled_without_a_second_post(
    session, post, dispatcher, clock, linkedin_sandbox, app
):
    scheduled = post()
    clock.advance(timedelta(minutes=5))
    dead = dispatcher(owner="dead")
    [claim] = dead.claim()
    # The dead worker got as far as LinkedIn storing the post, then vanished.
    with app.extensions["database"].transaction() as s:
        dead._start_request(s, claim, clock.now())
    from syndicate.posts.dispatch_send import post_body

    p = reload(session, scheduled)
    token = app.extensions["token_vault"].decrypt(p.target.connection.access_token_encrypted)
    urn = app.extensions["linkedin_client"].create_post(
        token, post_body(p, author=p.target.urn, thumbnail=None)
    )
    clock.advance(timedelta(minutes=3))
    alive = dispatcher(owner="alive")
    alive.run_once()
    assert reload(session, scheduled).state is PostState.UNKNOWN
    clock.advance(timedelta(minutes=3))
    alive.run_once()
    settled = reload(session, scheduled)
    assert settled.state is PostState.PUBLISHED and settled.linkedin_urn == urn
    assert len(sandbox_posts(linkedin_sandbox)) == 1


def test_a_worker_whose_lease_was_taken_never_calls_linkedin(
    session, post, dispatcher, clock, linkedin_sandbox, app
):
    scheduled = post()
    clock.advance(timedelta(minutes=5))
    slow = dispatcher(owner="slow")
    [stale_claim] = slow.claim()
    clock.advance(timedelta(minutes=3))  # slow was paused past its lease
    assert dispatcher(owner="fast").run_once().published == 1
    assert slow.process(stale_claim) == "lost"
    assert len(sandbox_posts(linkedin_sandbox)) == 1
    assert reload(session, scheduled).lease_owner is None


def test_daily_cap_moves_the_extra_post_to_the_next_day(
    session, post, dispatcher, clock, linkedin_sandbox, target
):
    target.daily_cap = 1
    session.commit()
    first, second = post(title="First"), post(title="Second")
    clock.advance(timedelta(minutes=5))
    dispatcher().run_once()
    assert reload(session, first).state is PostState.PUBLISHED
    moved = reload(session, second)
    assert moved.state is PostState.SCHEDULED and moved.due_at > clock.now() + timedelta(hours=20)
    assert "daily cap" in moved.history[-1].detail
    assert len(sandbox_posts(linkedin_sandbox)) == 1


def test_every_attempt_is_in_the_history_with_its_number(
    session, post, dispatcher, clock, linkedin_sandbox
):
    scheduled = post()
    linkedin_sandbox.state.inject("/rest/posts", "503" if False else "500", method="POST")
    clock.advance(timedelta(minutes=5))
    dispatcher().run_once()
    clock.advance(timedelta(minutes=2))
    dispatcher().run_once()
    rows = session.scalars(
        select(PostHistory).where(PostHistory.post_id == scheduled.id).order_by(PostHistory.id)
    ).all()
    assert [(r.to_state, r.attempt) for r in rows] == [
        ("scheduled", 0),
        ("sending", 1),
        ("scheduled", 1),
        ("sending", 2),
        ("published", 2),
    ]
    assert rows[2].http_status == 500


def test_the_scheduler_job_dispatches_with_the_apps_settings(
    app, session, post, clock, linkedin_sandbox
):
    from syndicate.posts.jobs import dispatch_posts, make_dispatcher

    scheduled = post()
    clock.advance(timedelta(minutes=5))
    assert make_dispatcher(app).settings.lease == app.config["DISPATCH_LEASE"]
    assert "1 published" in dispatch_posts(app)
    assert reload(session, scheduled).state is PostState.PUBLISHED


def test_the_history_says_in_words_who_sent_the_post(
    app, session, post, clock, linkedin_sandbox, runner, client, login, make_user
):
    import os
    import socket

    from syndicate.posts.jobs import dispatch_posts

    host, pid = socket.gethostname(), os.getpid()
    by_scheduler, by_command = post(title="One"), post(title="Two")
    by_command.due_at = clock.now() + timedelta(hours=1)
    session.commit()
    clock.advance(timedelta(minutes=5))
    assert "1 published" in dispatch_posts(app)
    clock.advance(timedelta(hours=1))
    assert "1 published" in runner.invoke(args=["posts", "dispatch"]).output
    actors = {
        name: {h.actor for h in reload(session, p).history if h.to_state != "scheduled"}
        for name, p in (("scheduler", by_scheduler), ("command", by_command))
    }
    assert actors["scheduler"] == {f"scheduler on {host} (pid {pid})"}
    assert actors["command"] == {f"syndicate posts dispatch on {host} (pid {pid})"}
    assert reload(session, by_scheduler).lease_owner is None
    login(make_user(email="reader@example.test"))
    page = client.get(f"/dashboard/posts/{by_scheduler.id}").get_data(as_text=True)
    assert f"scheduler on {host} (pid {pid})" in page
    assert f"{host}:{pid}" not in page


# --- what the fewer writes per post must keep ---------------------------------------------


class RecordedFirst:
    """A LinkedIn client that checks, at every request, that every post LinkedIn accepted
    before is already recorded as published: the dispatcher saves a commit per post by
    recording a post with the next post's fence, never after the next request."""

    def __init__(self, client, database):
        self.client, self.database, self.accepted = client, database, []
        self.version = client.version

    def create_post(self, token, body):
        with self.database.transaction() as s:
            recorded = dict(s.execute(select(Post.linkedin_urn, Post.state)).all())
        assert all(recorded.get(urn) is PostState.PUBLISHED for urn in self.accepted)
        urn = self.client.create_post(token, body)
        self.accepted.append(urn)
        return urn


def test_no_request_leaves_while_an_accepted_post_is_unrecorded(
    session, post, dispatcher, clock, app, linkedin_sandbox
):
    posts = [post(title=f"Story {i}") for i in range(4)]
    clock.advance(timedelta(minutes=5))
    watching = RecordedFirst(app.extensions["linkedin_client"], app.extensions["database"])
    result = dispatcher(client=watching).run_until_idle(limit=3)
    assert result.published == 4 and len(watching.accepted) == 4
    for scheduled in posts:
        published = reload(session, scheduled)
        assert published.state is PostState.PUBLISHED and published.linkedin_urn
        assert [h.to_state for h in published.history][-1] == "published"
    kinds = session.execute(select(Event.kind, Event.subject)).all()
    assert sorted(subject for kind, subject in kinds if kind == "post.published") == sorted(
        str(p.id) for p in posts
    )


def test_a_pass_that_breaks_after_linkedin_accepted_a_post_still_records_it(
    session, post, dispatcher, clock, linkedin_sandbox, monkeypatch
):
    first, second = post(title="First"), post(title="Second")
    clock.advance(timedelta(minutes=5))
    worker = dispatcher()
    fence = worker._fence
    calls = []

    def breaks_on_the_second(claim, now):
        calls.append(claim.post_id)
        if len(calls) == 2:
            # The write that carries the first post's record fails inside (a value the
            # database layer refuses, as a connection that went away would).
            return fence(claim, "not a time")
        return fence(claim, now)

    monkeypatch.setattr(worker, "_fence", breaks_on_the_second)
    with pytest.raises(Exception):  # noqa: B017, PT011 (whatever the layer raises)
        worker.run_once()
    # The first post's record rode with the second post's fence, which failed; it is
    # written on its own before the pass gives up.
    [sent] = sandbox_posts(linkedin_sandbox)
    states = {reload(session, p).state for p in (first, second)}
    assert states == {PostState.PUBLISHED, PostState.SENDING}
    published = next(p for p in (first, second) if reload(session, p).linkedin_urn)
    assert reload(session, published).linkedin_urn == sent.urn


def test_posts_waiting_for_a_reconnection_do_not_hold_up_other_targets(
    session, post, dispatcher, clock, linkedin_sandbox, target, make_article, make_post
):
    stuck = factories.make_connection(
        session,
        now=clock.now(),
        member_urn="urn:li:person:gone",
        name="Gone",
        state=ConnectionState.RECONNECT_NEEDED,
        expires_at=None,
    )
    waiting_target = factories.make_target(session, now=clock.now(), connection=stuck)
    for i in range(12):  # due before the post that can go
        make_post(
            article=make_article(title=f"Waiting {i}"), target=waiting_target, when=clock.now()
        )
    sendable = post(title="Goes out", when=clock.now() + timedelta(minutes=1))
    clock.advance(timedelta(minutes=5))
    [claim] = dispatcher().claim(limit=5)
    assert claim.post_id == sendable.id


# --- what the owner is told about an unknown outcome ---------------------------------------

OWNER = "post-owner@example.test"


def _owned(session, post, make_user):
    scheduled = post()
    scheduled.created_by_id = make_user(email=OWNER).id
    session.commit()
    return scheduled


def _subjects(session):
    return [m.subject.split(":")[0] for m in mails(session, OWNER)]


def _no_answer_within(app, linkedin_sandbox, *, stored_first: bool, then: int = 0):
    """LinkedIn's answers arrive after the client's 1 s read timeout: the first request
    stores the post (or not), and ``then`` more are merely late."""
    app.extensions["linkedin_client"].timeout = (5, 1)
    if stored_first:
        linkedin_sandbox.state.inject(
            "/rest/posts", "timeout-after-store", method="POST", seconds=3
        )
    if then:
        linkedin_sandbox.state.inject("/rest/posts", "delay", method="POST", seconds=3, count=then)


def test_an_unknown_that_the_next_check_settles_as_published_emails_nobody(
    session, post, dispatcher, clock, linkedin_sandbox, app, make_user
):
    scheduled = _owned(session, post, make_user)
    _no_answer_within(app, linkedin_sandbox, stored_first=True)
    clock.advance(timedelta(minutes=5))
    assert dispatcher().run_once().unknown == 1
    assert _subjects(session) == []
    clock.advance(timedelta(minutes=3))
    assert dispatcher().run_once().published == 1
    assert reload(session, scheduled).state is PostState.PUBLISHED
    assert _subjects(session) == []


def test_an_unknown_that_outlasts_the_reconcile_window_emails_once_then_the_outcome(
    session, post, dispatcher, clock, linkedin_sandbox, app, make_user
):
    scheduled = _owned(session, post, make_user)
    _no_answer_within(app, linkedin_sandbox, stored_first=True, then=2)
    clock.advance(timedelta(minutes=5))
    assert dispatcher().run_once().unknown == 1
    assert _subjects(session) == []
    clock.advance(timedelta(minutes=3))
    assert dispatcher().run_once().unknown == 1  # a reconcile window later: still unknown
    assert _subjects(session) == ["LinkedIn post not confirmed yet"]
    clock.advance(timedelta(minutes=3))
    assert dispatcher().run_once().unknown == 1
    assert _subjects(session) == ["LinkedIn post not confirmed yet"]  # not once per pass
    clock.advance(timedelta(minutes=3))
    assert dispatcher().run_once().published == 1
    settled = reload(session, scheduled)
    assert _subjects(session) == [
        "LinkedIn post not confirmed yet",
        "LinkedIn post published after all",
    ]
    assert settled.live_url in mails(session, OWNER)[-1].text
    assert len(sandbox_posts(linkedin_sandbox)) == 1


def test_an_unknown_left_by_a_killed_worker_is_told_like_a_timeout(
    session, post, dispatcher, clock, linkedin_sandbox, app, make_user
):
    scheduled = _owned(session, post, make_user)
    clock.advance(timedelta(minutes=5))
    dead = dispatcher(owner="dead")
    [claim] = dead.claim()
    with app.extensions["database"].transaction() as s:
        dead._start_request(s, claim, clock.now())  # the request left; then the worker died
    clock.advance(timedelta(minutes=3))
    alive = dispatcher(owner="alive")
    alive.run_once()
    assert reload(session, scheduled).state is PostState.UNKNOWN
    assert _subjects(session) == []
    _no_answer_within(app, linkedin_sandbox, stored_first=True, then=1)
    clock.advance(timedelta(minutes=3))
    assert alive.run_once().unknown == 1
    assert _subjects(session) == ["LinkedIn post not confirmed yet"]
    clock.advance(timedelta(minutes=3))
    assert alive.run_once().unknown == 1
    clock.advance(timedelta(minutes=3))
    assert alive.run_once().published == 1
    assert _subjects(session) == [
        "LinkedIn post not confirmed yet",
        "LinkedIn post published after all",
    ]


def test_an_unknown_that_ends_needing_attention_sends_only_the_failure_email(
    session, post, dispatcher, clock, linkedin_sandbox, app, make_user
):
    scheduled = _owned(session, post, make_user)
    _no_answer_within(app, linkedin_sandbox, stored_first=False, then=2)
    clock.advance(timedelta(minutes=5))
    assert dispatcher(max_retries=1).run_once().unknown == 1
    clock.advance(timedelta(minutes=3))
    assert dispatcher(max_retries=1).run_once().failed == 1
    assert reload(session, scheduled).state is PostState.NEEDS_ATTENTION
    assert _subjects(session) == ["LinkedIn post needs attention"]
