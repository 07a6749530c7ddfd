"""Asking: the public form, anti-abuse, email verification and the reader's private link."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy.pool import QueuePool

from syndicate import create_app
from syndicate.articles import services as articles
from syndicate.db import get_database, make_engine
from syndicate.sharing import views
from syndicate.sharing.models import (
    PermissionState,
    RequestState,
    ShareRequest,
    ShareRequestEvent,
)
from tests import factories
from tests.conftest import app_config
from tests.sharing.conftest import (
    CANONICAL,
    count_requests,
    form_fields,
    mails,
    only_request,
    request_fields,
    submit,
    verify,
)


def test_form_shows_the_fields_the_article_and_a_hidden_honeypot(client, article):
    page = client.get(f"/articles/{article.slug}/share").get_data(as_text=True)
    assert article.title in page
    for label in (
        "Your name",
        "Your email",
        "Where will you share it?",
        "Audience size",
        "What would you like to do?",
        "Message to the publisher",
    ):
        assert label in page
    assert 'class="hp" aria-hidden="true"' in page
    assert 'name="fax"' in page and 'tabindex="-1"' in page


def test_unknown_or_unpublished_article_has_no_form(client, make_article):
    draft = make_article(publish=False)
    assert client.get("/articles/nothing-here/share").status_code == 404
    assert client.get(f"/articles/{draft.slug}/share").status_code == 404


def test_submitting_stores_an_unverified_request_and_emails_a_confirmation_link(
    client, session, clock, article
):
    response = submit(client, clock, article.slug, kind="full", message="May I republish it?")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/articles/{article.slug}/share/sent")
    stored = only_request(session)
    assert stored.state is RequestState.UNVERIFIED
    assert stored.requester_email == "ada@example.org"
    assert stored.private_token_hash is None and stored.verify_nonce_hash
    [mail] = mails(session)
    assert mail.to == "ada@example.org"
    assert mail.subject == f"Confirm your request to share “{article.title}”"
    assert "/sharing/verify/" in mail.text and "works once, for 2 days" in mail.text
    assert mail.html and "Confirm your request</a>" in mail.html
    # Unverified requests never reach the inbox.
    assert client.get("/dashboard/sharing/").status_code == 302  # staff only


def test_unverified_requests_are_not_in_the_inbox(
    client, session, clock, article, make_user, login
):
    submit(client, clock, article.slug, kind="full")
    login(make_user())
    page = client.get("/dashboard/sharing/").get_data(as_text=True)
    assert "Ada Reader" not in page
    assert client.get(f"/dashboard/sharing/{only_request(session).id}").status_code == 404


def test_verifying_a_full_request_puts_it_in_the_inbox_with_a_private_link(
    client, session, clock, article, make_user, login
):
    submit(client, clock, article.slug, kind="full")
    private = verify(client, session)

    stored = only_request(session)
    assert stored.state is RequestState.PENDING
    assert stored.verified_at == clock.now()
    assert private.startswith("/sharing/r/")
    token = private.rsplit("/", 1)[1]
    # Only the token's hash is stored.
    assert token not in (stored.private_token_hash or "")
    received = mails(session)[-1]
    assert received.subject == f"We received your request to share “{article.title}”"
    assert received.link("/sharing/r/").endswith(private)
    page = client.get(private)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "pending" in page.get_data(as_text=True)

    login(make_user())
    inbox = client.get("/dashboard/sharing/").get_data(as_text=True)
    assert "Ada Reader" in inbox and "Full republication" in inbox


def test_link_only_request_is_granted_at_once(client, session, clock, article):
    submit(client, clock, article.slug, kind="link")
    private = verify(client, session)

    stored = only_request(session)
    assert stored.state is RequestState.APPROVED
    assert stored.permission is not None
    assert stored.permission.state is PermissionState.ACTIVE
    assert stored.credit_line == f"First published by news.example.test at {CANONICAL}"
    granted = mails(session)[-1]
    assert granted.subject == f"You may share “{article.title}”"
    share_url = granted.link("/s/")
    assert granted.link("/permissions/")
    assert granted.link("/sharing/r/").endswith(private)
    page = client.get(private).get_data(as_text=True)
    assert "Share on LinkedIn" in page
    assert (
        "https://www.linkedin.com/sharing/share-offsite/?" + urlencode({"url": share_url}) in page
    )
    assert stored.credit_line in page
    [system] = [e for e in stored.events if e.to_state == "approved"]
    assert system.actor_kind.value == "system"


def test_a_bot_filling_the_honeypot_gets_a_persons_answer_and_nothing_is_stored(
    client, session, clock, article
):
    person = submit(client, clock, article.slug, environ={"REMOTE_ADDR": "10.7.0.1"})
    bot = submit(
        client,
        clock,
        article.slug,
        email="bot@example.net",
        fax="+1 555 0100",
        environ={"REMOTE_ADDR": "10.7.0.2"},
    )

    assert bot.status_code == person.status_code == 303
    assert bot.headers["Location"] == person.headers["Location"]
    assert bot.get_data() == person.get_data()
    bot_page, person_page = (
        client.get(bot.headers["Location"]),
        client.get(person.headers["Location"]),
    )
    assert bot_page.status_code == person_page.status_code == 200
    assert bot_page.get_data() == person_page.get_data()
    assert "fax" not in bot_page.get_data(as_text=True).lower()
    assert only_request(session).requester_email == "ada@example.org"
    assert mails(session, "bot@example.net") == [] and len(mails(session)) == 1


def test_a_bot_filling_the_honeypot_on_a_missing_article_gets_a_persons_404(
    client, session, clock, article
):
    hidden = form_fields(client, article.slug)
    clock.advance(timedelta(seconds=10))
    answers = [
        client.post("/articles/no-such-story/share", data={**hidden, **request_fields(**extra)})
        for extra in ({}, {"fax": "+1 555 0100"})
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert count_requests(session) == 0 and mails(session) == []


def test_too_fast_submission_is_refused_then_accepted_after_a_few_seconds(
    client, session, clock, article
):
    hidden = form_fields(client, article.slug)
    clock.advance(timedelta(seconds=1))
    response = client.post(f"/articles/{article.slug}/share", data={**hidden, **request_fields()})
    assert response.status_code == 400
    assert "quicker than a person" in response.get_data(as_text=True)
    assert count_requests(session) == 0 and mails(session) == []

    clock.advance(timedelta(seconds=5))
    again = client.post(f"/articles/{article.slug}/share", data={**hidden, **request_fields()})
    assert again.status_code == 303
    assert count_requests(session) == 1


def test_altered_or_missing_fill_time_stamp_is_refused(client, session, clock, article):
    hidden = form_fields(client, article.slug)
    clock.advance(timedelta(seconds=30))
    for started in ("", hidden["started"] + "x", "eyJhIjoieCIsInQiOjB9.forged"):
        response = client.post(
            f"/articles/{article.slug}/share", data={**request_fields(), "started": started}
        )
        assert response.status_code == 400
        assert "check your answers and send it again" in response.get_data(as_text=True)
    assert count_requests(session) == 0


def test_bad_input_is_answered_with_422_and_nothing_is_stored(client, session, clock, article):
    cases = [
        {"email": "not an email"},
        {"email": "a@b.c\r\nBcc: x@y.z"},
        {"name": ""},
        {"where": "fax"},
        {"where": "linkedin_profile", "where_url": "https://evil.example/in/ada"},
        {"where": "website", "where_url": "javascript:alert(1)"},
        {"where": "newsletter", "where_url": ""},
        {"kind": "everything"},
        {"kind": "excerpt", "excerpt_words": ""},
        {"kind": "translation", "language": ""},
        {"audience_size": "-5"},
        {"audience_size": "99999999999999999999"},
        {"audience_size": "²"},
        {"kind": "excerpt", "excerpt_words": "٣٠"},
        {"message": "x" * 5001},
    ]
    for i, case in enumerate(cases):
        # From different addresses: garbage counts against a sender's flood allowance.
        response = submit(
            client, clock, article.slug, environ={"REMOTE_ADDR": f"10.9.0.{i}"}, **case
        )
        assert response.status_code == 422, case
        assert 'class="error"' in response.get_data(as_text=True), case
    assert count_requests(session) == 0
    assert mails(session) == []


def test_a_form_sent_to_another_articles_address_is_refused(
    client, session, clock, article, make_article
):
    other = make_article(title="Another story", slug="another-story")
    hidden = form_fields(client, article.slug)
    clock.advance(timedelta(seconds=30))
    response = client.post(f"/articles/{other.slug}/share", data={**hidden, **request_fields()})
    assert response.status_code == 400
    assert "check your answers and send it again" in response.get_data(as_text=True)
    assert count_requests(session) == 0 and mails(session) == []


def test_a_form_for_a_renamed_article_is_sent_on_to_its_new_address(
    client, session, clock, article
):
    hidden = form_fields(client, article.slug)
    old_slug = article.slug
    articles.update_article(
        session,
        article,
        articles.ArticleInput(
            title=article.title,
            body=article.body_source,
            slug="talks-renamed",
            canonical_url=article.canonical_url,
        ),
        now=clock.now(),
    )
    clock.advance(timedelta(seconds=30))
    moved = client.post(f"/articles/{old_slug}/share", data={**hidden, **request_fields()})
    assert moved.status_code == 308
    assert moved.headers["Location"].endswith("/articles/talks-renamed/share")
    assert count_requests(session) == 0 and mails(session) == []
    again = client.post("/articles/talks-renamed/share", data={**hidden, **request_fields()})
    assert again.status_code == 303
    assert again.headers["Location"].endswith("/articles/talks-renamed/share/sent")
    assert only_request(session).article_id == article.id
    [mail] = mails(session)
    assert mail.subject == f"Confirm your request to share “{article.title}”"


def test_the_confirmation_email_names_the_article_as_the_form_showed_it(
    client, session, clock, article
):
    shown_title = article.title
    hidden = form_fields(client, article.slug)
    articles.update_article(
        session,
        article,
        articles.ArticleInput(
            title="Talks on fentanyl move to Geneva",
            body=article.body_source,
            slug=article.slug,
            canonical_url=article.canonical_url,
        ),
        now=clock.now(),
    )
    clock.advance(timedelta(seconds=30))
    response = client.post(f"/articles/{article.slug}/share", data={**hidden, **request_fields()})
    assert response.status_code == 303
    [mail] = mails(session)
    assert mail.subject == f"Confirm your request to share “{shown_title}”"


def test_a_form_stamped_before_titles_were_stamped_is_still_taken(
    app, client, session, clock, article
):
    # Forms open in readers' browsers when this version is deployed carry no title.
    hidden = form_fields(client, article.slug)
    hidden["started"] = URLSafeSerializer(app.config["SECRET_KEY"], salt="sharing-form").dumps(
        {"a": article.public_id, "t": int(clock.now().timestamp())}
    )
    clock.advance(timedelta(seconds=30))
    response = client.post(f"/articles/{article.slug}/share", data={**hidden, **request_fields()})
    assert response.status_code == 303
    assert only_request(session).article_id == article.id
    [mail] = mails(session)
    assert mail.subject == f"Confirm your request to share “{article.title}”"


def test_a_submission_commits_by_itself_and_hands_back_a_transactional_connection(
    fresh_database, tmp_path, clock
):
    # One pooled connection, so that the request after the submission gets the same one.
    engine = make_engine(fresh_database, poolclass=QueuePool, pool_size=1, max_overflow=0)
    app = create_app(
        app_config(
            fresh_database, ENGINE=engine, CLOCK=clock, INSTANCE_PATH=str(tmp_path / "instance")
        )
    )
    database = get_database(app)
    with database.transaction() as db:
        story = factories.make_article(db, now=clock.now(), slug="harbour-at-dawn")
    client = app.test_client()
    try:
        assert submit(client, clock, story.slug).status_code == 303
        with database.sessions() as db:
            assert count_requests(db) == 1 and len(mails(db)) == 1
        # A transaction on that connection still rolls back as a whole.
        with pytest.raises(RuntimeError), database.transaction() as db:
            factories.make_article(db, now=clock.now(), slug="never-published")
            raise RuntimeError("the change failed half-way")
        with database.sessions() as db:
            assert articles.slug_owner(db, "never-published") is None
    finally:
        engine.dispose()


def test_an_article_unpublished_after_the_form_was_shown_takes_no_request(
    client, session, clock, article
):
    hidden = form_fields(client, article.slug)
    articles.unpublish_article(session, article, now=clock.now())
    clock.advance(timedelta(seconds=30))
    response = client.post(f"/articles/{article.slug}/share", data={**hidden, **request_fields()})
    assert response.status_code == 404
    assert count_requests(session) == 0 and mails(session) == []


def test_a_flood_refusal_says_when_to_try_again(client, session, clock, article, app):
    app.config["SHARING_RATE_LIMIT_IP"] = "2 per hour"
    environ = {"REMOTE_ADDR": "10.7.7.7"}
    accepted = [
        submit(client, clock, article.slug, email=f"r{i}@example.org", environ=environ)
        for i in range(2)
    ]
    # An accepted form does not tell a bot how many more it may send.
    assert [r.status_code for r in accepted] == [303, 303]
    assert all("X-RateLimit-Remaining" not in r.headers for r in accepted)
    refused = submit(client, clock, article.slug, email="r2@example.org", environ=environ)
    assert refused.status_code == 429
    assert "sent this form too often" in refused.get_data(as_text=True)
    assert 0 < int(refused.headers["Retry-After"]) <= 3601  # seconds, rounded up
    assert refused.headers["X-RateLimit-Limit"] == "2"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert count_requests(session) == 2


@pytest.fixture
def app_overrides(request: pytest.FixtureRequest) -> dict[str, object]:
    return getattr(request, "param", {})


@pytest.mark.parametrize(
    "app_overrides", [{"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0"}], indirect=True
)
def test_while_the_limit_storage_is_down_forms_are_counted_in_the_process(
    client, session, clock, article, app, monkeypatch
):
    # Nothing listens on port 9: every call to that Redis fails at once.
    counter = views._FloodCounter()
    monkeypatch.setattr(views, "_floods", counter)
    app.config["SHARING_RATE_LIMIT_IP"] = "2 per hour"
    answers = [
        submit(client, clock, article.slug, email=f"r{i}@example.org").status_code for i in range(3)
    ]
    assert answers == [303, 303, 429]
    assert count_requests(session) == 2
    assert counter.down_since is not None


def test_other_where_needs_no_url_and_translation_keeps_its_language(
    client, session, clock, article
):
    response = submit(
        client,
        clock,
        article.slug,
        where="other",
        where_url="",
        kind="translation",
        language="German",
        audience_size="",
    )
    assert response.status_code == 303
    stored = only_request(session)
    assert stored.where_url is None and stored.language == "German"
    assert stored.audience_size is None


def test_reused_confirmation_link_is_refused_and_changes_nothing(client, session, clock, article):
    submit(client, clock, article.slug, kind="full")
    url = mails(session)[-1].link("/sharing/verify/")
    path = url.split("news.example.test", 1)[1]
    assert client.post(path).status_code == 303
    events_before = len(only_request(session).events)
    mails_before = len(mails(session))

    for response in (client.get(path), client.post(path)):
        assert response.status_code == 410
        assert "used already" in response.get_data(as_text=True)
    assert len(only_request(session).events) == events_before
    assert len(mails(session)) == mails_before


def test_tampered_confirmation_link_is_refused(client, session, clock, article):
    submit(client, clock, article.slug, kind="full")
    path = mails(session)[-1].link("/sharing/verify/").split("news.example.test", 1)[1]
    payload, _, signature = path.rsplit("/", 1)[1].partition(".")
    for bad in (
        path[:-3],
        path + "A",
        f"/sharing/verify/{payload}.{signature[::-1]}",
        "/sharing/verify/garbage",
    ):
        assert client.get(bad).status_code == 400
        assert client.post(bad).status_code == 400
    assert only_request(session).state is RequestState.UNVERIFIED


def test_expired_confirmation_link_is_refused(client, session, clock, article):
    submit(client, clock, article.slug, kind="full")
    path = mails(session)[-1].link("/sharing/verify/").split("news.example.test", 1)[1]
    clock.advance(timedelta(hours=48, seconds=1))
    response = client.post(path)
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert only_request(session).state is RequestState.UNVERIFIED


def test_a_flood_from_one_address_is_rate_limited_and_stores_nothing_more(
    client, session, clock, article
):
    answers = [
        submit(client, clock, article.slug, email=f"reader{i}@example.org").status_code
        for i in range(6)
    ]
    assert answers == [303] * 5 + [429]
    assert count_requests(session) == 5
    # Another address is not held back.
    other = submit(
        client,
        clock,
        article.slug,
        email="someone@example.org",
        environ={"REMOTE_ADDR": "10.1.2.3"},
    )
    assert other.status_code == 303


def test_one_email_address_is_rate_limited_across_addresses(client, session, clock, article):
    answers = [
        submit(
            client,
            clock,
            article.slug,
            email="Same@Example.org",
            environ={"REMOTE_ADDR": f"10.0.0.{i}"},
        ).status_code
        for i in range(4)
    ]
    assert answers == [303, 303, 303, 429]
    assert count_requests(session) == 3


def test_refused_forms_do_not_use_up_the_email_allowance(client, session, clock, article):
    for i in range(4):
        assert (
            submit(
                client,
                clock,
                article.slug,
                email="ada@example.org",
                name="",
                environ={"REMOTE_ADDR": f"10.0.1.{i}"},
            ).status_code
            == 422
        )
    assert (
        submit(client, clock, article.slug, environ={"REMOTE_ADDR": "10.0.1.9"}).status_code == 303
    )


def test_rate_limits_are_settings(client, session, clock, article, app):
    app.config["SHARING_RATE_LIMIT_IP"] = "2 per hour"
    answers = [
        submit(client, clock, article.slug, email=f"r{i}@example.org").status_code for i in range(3)
    ]
    assert answers == [303, 303, 429]


def test_settings_changed_on_a_running_app_apply_to_the_next_form(
    client, session, clock, article, app
):
    first = submit(client, clock, article.slug, environ={"REMOTE_ADDR": "10.6.0.1"})
    assert first.status_code == 303  # the sharing context is built and kept
    app.config["SHARING_RATE_LIMIT_EMAIL"] = "1 per day"
    again = submit(client, clock, article.slug, environ={"REMOTE_ADDR": "10.6.0.2"})
    assert again.status_code == 429
    app.config["SHARING_MIN_FILL_SECONDS"] = 60
    hasty = submit(
        client,
        clock,
        article.slug,
        email="other@example.org",
        wait=30,
        environ={"REMOTE_ADDR": "10.6.0.3"},
    )
    assert hasty.status_code == 400
    assert count_requests(session) == 1


def test_one_reader_cannot_see_or_change_another_readers_request(client, session, clock, article):
    submit(client, clock, article.slug, kind="full")
    mine = verify(client, session)
    submit(
        client,
        clock,
        article.slug,
        kind="full",
        email="bob@example.org",
        name="Bob",
        environ={"REMOTE_ADDR": "10.3.3.3"},
    )
    theirs = verify(client, session, "bob@example.org")
    assert mine != theirs

    page = client.get(mine).get_data(as_text=True)
    assert "Ada Reader" not in page or "Bob" not in page
    # Tokens are the only key: near-misses and ids open nothing.
    token = mine.rsplit("/", 1)[1]
    for guess in (token[:-1], token[:-1] + ("A" if token[-1] != "A" else "B"), "1", "2", "x" * 500):
        assert client.get(f"/sharing/r/{guess}").status_code == 404
        assert client.post(f"/sharing/r/{guess}/withdraw").status_code == 404
    bob = session.query(ShareRequest).filter_by(requester_email="bob@example.org").one()
    assert client.get(f"/sharing/r/{bob.id}").status_code == 404
    assert client.get(f"/sharing/r/{bob.public_id}").status_code == 404
    # Withdrawing with my link withdraws mine only.
    assert client.post(f"{mine}/withdraw").status_code == 303
    session.expire_all()
    states = {r.requester_email: r.state for r in session.query(ShareRequest)}
    assert states == {
        "ada@example.org": RequestState.WITHDRAWN,
        "bob@example.org": RequestState.PENDING,
    }


def test_reader_can_withdraw_only_while_undecided(client, session, clock, article):
    submit(client, clock, article.slug, kind="full")
    private = verify(client, session)
    assert client.post(f"{private}/withdraw").status_code == 303
    assert only_request(session).state is RequestState.WITHDRAWN
    assert mails(session)[-1].subject.startswith("You withdrew")
    again = client.post(f"{private}/withdraw", follow_redirects=True)
    assert "withdrawn now, so it cannot be withdrawn" in again.get_data(as_text=True)
    audit = session.query(ShareRequestEvent).filter_by(to_state="withdrawn").all()
    assert len(audit) == 1 and audit[0].actor_kind.value == "reader"


def test_share_by_canonical_url_opens_the_form(client, article):
    response = client.get("/share", query_string={"url": CANONICAL})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/articles/{article.slug}/share")
    own = client.get(
        "/share", query_string={"url": f"https://news.example.test/articles/{article.slug}"}
    )
    assert own.headers["Location"].endswith(f"/articles/{article.slug}/share")
    assert (
        client.get("/share", query_string={"url": "https://elsewhere.example/x"}).status_code == 404
    )
    assert client.get("/share").status_code == 404


def test_opening_the_confirmation_link_without_confirming_changes_nothing(
    client, session, clock, article
):
    submit(client, clock, article.slug, kind="full")
    path = mails(session)[-1].link("/sharing/verify/").split("news.example.test", 1)[1]
    for _ in range(3):  # a mail scanner opening the link
        page = client.get(path)
        assert page.status_code == 200 and "Confirm my request" in page.get_data(as_text=True)
    assert only_request(session).state is RequestState.UNVERIFIED
    assert client.post(path).status_code == 303


def test_private_page_explains_every_state(client, session, app, clock, article):
    from syndicate.sharing.context import SYSTEM, Sharing
    from syndicate.sharing.deciding import answer, ask_for_information, deny

    ctx = Sharing.for_app(app)
    submit(client, clock, article.slug, kind="full")
    private = verify(client, session)
    request = only_request(session)
    expected = {
        "info_requested": "asked you a question",
        "pending": "has your request",
        "denied": "declined your request",
    }
    ask_for_information(session, request, "Which page?", actor=SYSTEM, now=clock.now(), ctx=ctx)
    session.commit()
    page = client.get(private).get_data(as_text=True)
    assert expected["info_requested"] in page and "Which page?" in page
    assert "Your answer" in page
    empty = client.post(f"{private}/answer", data={"answer": "  "})
    assert empty.status_code == 422
    answer(session, request, "My own.", now=clock.now(), ctx=ctx)
    deny(session, request, "Not this one.", actor=SYSTEM, now=clock.now(), ctx=ctx)
    session.commit()
    page = client.get(private).get_data(as_text=True)
    assert expected["denied"] in page and "Not this one." in page
    assert "Withdraw my request" not in page
    late = client.post(f"{private}/answer", data={"answer": "More."}, follow_redirects=True)
    assert late.status_code == 409


def test_button_page_offers_both_snippets(client, article, make_user, login):
    login(make_user())
    page = client.get("/dashboard/sharing/button").get_data(as_text=True)
    assert (
        '&lt;a href="https://news.example.test/share?url=https%3A//f5mag.example/2026/03/'
        'us-china-fentanyl-talks"&gt;Request to share this article&lt;/a&gt;'
    ) in page
    assert '&lt;form action="https://news.example.test/share" method="get"&gt;' in page
    assert f'&lt;input type="hidden" name="url" value="{CANONICAL}"&gt;' in page


def _hidden(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="(started|csrf_token)" type="hidden" value="([^"]*)"', page))


def test_every_bad_field_of_the_share_form_is_shown_at_once_beside_it(
    client, session, clock, article
):
    response = submit(
        client,
        clock,
        article.slug,
        name="",
        email="not an email",
        where_url="https://evil.example/in/ada",
        audience_size="lots",
        kind="excerpt",
        excerpt_words="",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field, message in [
        ("name", "Please fill in your name."),
        ("email", "That is not an email address we can write to."),
        ("where_url", "Give the address of your page on linkedin.com."),
        ("audience_size", "Give the audience size as a whole number"),
        ("excerpt_words", "Say how many words you would like to quote."),
    ]:
        assert f'id="{field}-error"' in page and message in page, field
        assert re.search(f'aria-describedby="[^"]*{field}-error"', page), field
    assert count_requests(session) == 0


def test_a_form_sent_too_fast_with_a_bad_field_says_both(client, session, clock, article):
    response = submit(client, clock, article.slug, wait=1, email="not an email")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "quicker than a person" in page
    assert 'id="email-error"' in page
    assert count_requests(session) == 0


def test_a_correction_keeps_the_answers_and_the_fill_time_of_the_first_form(
    client, session, clock, article
):
    first = _hidden(client.get(f"/articles/{article.slug}/share").get_data(as_text=True))
    clock.advance(timedelta(seconds=10))
    corrected = client.post(
        f"/articles/{article.slug}/share",
        data={**first, **request_fields(email="ada@", message="Keep this, please.")},
    )
    assert corrected.status_code == 422
    page = corrected.get_data(as_text=True)
    assert 'value="Ada Reader"' in page and "Keep this, please." in page
    assert 'value="ada@"' in page
    # The stamp of the first form, unchanged: the time spent on it still counts...
    assert _hidden(page)["started"] == first["started"]
    # ...so the corrected form goes through at once, though the minimum fill time (3 s)
    # has not passed since the correction was shown.
    fixed = client.post(
        f"/articles/{article.slug}/share",
        data={**_hidden(page), **request_fields(message="Keep this, please.")},
    )
    assert fixed.status_code == 303
    assert count_requests(session) == 1


def test_a_form_too_old_to_count_is_shown_again_with_a_new_stamp_and_the_answers(
    client, session, clock, article
):
    first = _hidden(client.get(f"/articles/{article.slug}/share").get_data(as_text=True))
    clock.advance(timedelta(days=3))
    old = client.post(f"/articles/{article.slug}/share", data={**first, **request_fields()})
    assert old.status_code == 400
    page = old.get_data(as_text=True)
    assert "too old" in page and 'value="Ada Reader"' in page
    assert _hidden(page)["started"] != first["started"]
    clock.advance(timedelta(seconds=10))
    again = client.post(
        f"/articles/{article.slug}/share", data={**_hidden(page), **request_fields()}
    )
    assert again.status_code == 303
    assert count_requests(session) == 1
