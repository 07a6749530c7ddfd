"""The posting pages: compose and schedule in the staff member's zone, edit, approve, settings."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from syndicate.posts import auto_rules, context, views
from syndicate.posts.models import AutoPostRule, Post, PostState
from tests import factories

EMOJI = "\N{GRINNING FACE}"  # two UTF-16 code units: LinkedIn counts it as 2


@pytest.fixture
def editor(staff_user):
    return staff_user(email="editor@example.test", time_zone="Europe/Berlin")


@pytest.fixture
def article(make_article):
    return make_article(title="Talks (finally) resume", summary="Both sides meet.", tags=["Trade"])


def compose_url(article, target):
    return f"/dashboard/posts/new?article={article.id}&target={target.id}"


def form(**fields):
    data = {
        "commentary": "Read this (now) #news",
        "card_title": "Talks resume",
        "card_description": "Both sides meet.",
        "when": "at",
        "scheduled_at": "2026-03-05T18:00",
        "save": "Save post",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def count_posts(session):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Post))


def only_post(session):
    session.expire_all()
    return session.scalars(select(Post)).one()


# --- access ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/posts/",
        "/dashboard/posts/new",
        "/dashboard/posts/calendar",
        "/dashboard/posts/targets",
        "/dashboard/posts/rules",
        "/dashboard/posts/1",
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_anonymous_posts_change_nothing(client, session, article, target):
    response = client.post(compose_url(article, target), data=form())
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count_posts(session) == 0


# --- compose ---------------------------------------------------------------------------


def test_compose_prefills_template_with_utm_link_and_names_the_zone(
    client, editor, article, target
):
    page = client.get(compose_url(article, target)).get_data(as_text=True)
    assert "Talks (finally) resume" in page
    assert "utm_source=linkedin&amp;utm_medium=social&amp;utm_campaign=" in page
    assert "#Trade" in page
    assert "Date and time in Europe/Berlin" in page
    # The input holds the time as every page writes it (not a locale's datetime-local).
    assert 'value="2026-03-02 11:00 Europe/Berlin"' in page
    assert 'type="datetime-local"' not in page
    # The server-side preview shows the escaped text and LinkedIn's count.
    assert r"Talks \(finally\) resume" in page
    assert " / 3000" in page


def test_scheduling_stores_the_utc_instant_of_the_staff_members_wall_time(
    client, session, make_user, login, article, target
):
    login(make_user(time_zone="Asia/Tokyo"))
    response = client.post(compose_url(article, target), data=form())
    assert response.status_code == 303
    post = only_post(session)
    assert post.scheduled_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)  # 18:00 JST
    assert post.state is PostState.SCHEDULED
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Scheduled for 2026-03-05 18:00 Asia/Tokyo" in shown
    # The target posts in Berlin: its zone is shown too.
    assert "2026-03-05 10:00 Europe/Berlin" in shown


def test_a_time_skipped_by_dst_moves_forward_and_says_so(client, session, editor, article, target):
    response = client.post(compose_url(article, target), data=form(scheduled_at="2026-03-29T02:30"))
    assert response.status_code == 303
    assert only_post(session).scheduled_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2026-03-29 02:30 does not exist in Europe/Berlin" in shown
    assert "it will go out at 2026-03-29 03:30 Europe/Berlin" in shown


def test_second_post_for_the_same_article_and_target_is_409_with_a_link(
    client, session, editor, article, target
):
    assert client.post(compose_url(article, target), data=form()).status_code == 303
    first = only_post(session)
    warned = client.get(compose_url(article, target)).get_data(as_text=True)
    assert "already has a post for Sam Sandbox" in warned
    assert f'href="/dashboard/posts/{first.id}"' in warned
    again = client.post(compose_url(article, target), data=form(scheduled_at="2026-03-06T10:00"))
    assert again.status_code == 409
    assert f'href="/dashboard/posts/{first.id}"' in again.get_data(as_text=True)
    assert count_posts(session) == 1
    deliberate = client.post(
        compose_url(article, target), data=form(scheduled_at="2026-03-06T10:00", reshare="y")
    )
    assert deliberate.status_code == 303
    assert count_posts(session) == 2


def test_text_over_3000_as_linkedin_counts_is_422_beside_the_field(
    client, session, editor, article, target
):
    text = "a" * 2999 + EMOJI  # 3000 Python characters, 3001 for LinkedIn
    response = client.post(compose_url(article, target), data=form(commentary=text))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="commentary-error"' in page and "this is 3001 once escaped" in page
    assert count_posts(session) == 0
    fits = client.post(compose_url(article, target), data=form(commentary="a" * 2998 + EMOJI))
    assert fits.status_code == 303


def test_escapes_count_towards_the_limit(client, session, editor, article, target):
    response = client.post(compose_url(article, target), data=form(commentary="(" * 1501))
    assert response.status_code == 422 and "this is 3002 once escaped" in response.get_data(
        as_text=True
    )


def test_preview_button_renders_without_saving(client, session, editor, article, target):
    response = client.post(
        compose_url(article, target),
        data=form(commentary="Deal (at last) for @desk", save=None, preview="Preview"),
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert r"Deal \(at last\) for \@desk" in page
    assert "27 / 3000" in page
    assert count_posts(session) == 0


def test_preview_endpoint_answers_escaped_text_and_linkedin_length(client, editor):
    answer = client.post("/dashboard/posts/preview", data={"commentary": f"Hi (you) {EMOJI}\r\n"})
    assert answer.status_code == 200
    assert answer.json == {
        "sent": f"Hi \\(you\\) {EMOJI}",
        "length": 13,
        "too_long": False,
        "max": 3000,
        "shown": f"Hi (you) {EMOJI}",
        "rest": "",
    }
    assert (
        client.post("/dashboard/posts/preview", data={"commentary": "x" * 30_000}).status_code
        == 413
    )


def test_queue_choice_takes_the_targets_next_free_slot(client, session, editor, article, target):
    target.queue_slots = [{"weekday": 0, "time": "09:00"}]
    session.commit()
    response = client.post(compose_url(article, target), data=form(when="queue"))
    assert response.status_code == 303
    # Now is Monday 2026-03-02 10:00 in Berlin, past the slot: the next Monday, 09:00 CET.
    assert only_post(session).scheduled_at == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)


def test_queue_choice_without_slots_explains_beside_the_choice(client, editor, article, target):
    response = client.post(compose_url(article, target), data=form(when="queue"))
    assert response.status_code == 422
    assert "has no queue slots yet" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "instant"),
    [
        ("2026-03-05 10:00 Europe/Berlin", datetime(2026, 3, 5, 9, 0, tzinfo=UTC)),  # as shown
        ("2026-03-05 10:00", datetime(2026, 3, 5, 9, 0, tzinfo=UTC)),  # the label's zone
        ("2026-03-05T10:00", datetime(2026, 3, 5, 9, 0, tzinfo=UTC)),  # datetime-local
        ("2026-03-05 10:00 America/New_York", datetime(2026, 3, 5, 15, 0, tzinfo=UTC)),
        ("  2026-03-05   10:00  UTC ", datetime(2026, 3, 5, 10, 0, tzinfo=UTC)),
    ],
)
def test_the_time_is_read_as_pages_write_it_and_as_before(
    client, session, editor, article, target, typed, instant
):
    response = client.post(compose_url(article, target), data=form(scheduled_at=typed))
    assert response.status_code == 303, response.get_data(as_text=True)
    assert only_post(session).scheduled_at == instant


def test_a_time_with_an_unknown_zone_is_refused_naming_it(client, session, editor, article, target):
    response = client.post(
        compose_url(article, target), data=form(scheduled_at="2026-03-05 10:00 Mars/Olympus")
    )
    assert response.status_code == 422
    assert "Mars/Olympus is not a time zone" in response.get_data(as_text=True)
    assert count_posts(session) == 0


def test_the_post_page_shows_the_time_in_its_input_and_keeps_it_when_unchanged(
    client, session, editor, article, target
):
    client.post(compose_url(article, target), data=form())
    post = only_post(session)
    page = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert 'value="2026-03-05 18:00 Europe/Berlin"' in page
    response = client.post(
        f"/dashboard/posts/{post.id}",
        data={"commentary": post.commentary, "scheduled_at": "2026-03-05 18:00 Europe/Berlin"},
    )
    assert response.status_code == 303
    assert only_post(session).scheduled_at == datetime(2026, 3, 5, 17, 0, tzinfo=UTC)


def test_every_problem_of_the_compose_form_is_shown_at_once(
    client, session, editor, article, target
):
    response = client.post(
        compose_url(article, target), data=form(commentary="", scheduled_at="next tuesday")
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="commentary-error"' in page and "Write the text of the post." in page
    assert 'id="scheduled_at-error"' in page and "YYYY-MM-DD" in page
    assert count_posts(session) == 0


def test_the_service_checks_also_run_when_the_form_itself_is_invalid(
    client, session, editor, article, target
):
    # The card title is too long for the form (a WTForms check), the time for the service.
    response = client.post(
        compose_url(article, target),
        data=form(card_title="x" * 401, scheduled_at="2026-03-01T10:00 soon"),
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="card_title-error"' in page
    assert 'id="scheduled_at-error"' in page and "YYYY-MM-DD" in page


def test_a_past_time_and_an_empty_text_are_both_refused_by_the_service(
    session, editor, article, target
):
    from syndicate.errors import DomainErrors
    from syndicate.posts import composing

    data = composing.PostInput(
        commentary=" ", card_title="", when=datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    )
    with pytest.raises(DomainErrors) as refused:
        composing.create_post(
            session,
            article,
            target,
            data,
            user=editor,
            now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            site_url="https://news.example.test",
            campaign="test",
        )
    assert {e.field_name for e in refused.value.errors} == {"commentary", "scheduled_at"}
    assert [d["field"] for d in refused.value.details()] == ["commentary", "scheduled_at"]


def test_draft_has_no_time(client, session, editor, article, target):
    response = client.post(compose_url(article, target), data=form(when="draft"))
    assert response.status_code == 303
    post = only_post(session)
    assert post.state is PostState.DRAFT and post.scheduled_at is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Pick a date and time"),
        ("next tuesday", "YYYY-MM-DD"),
        ("9999-12-31T23:59", "between the years 1900 and 2999"),
        ("2026-03-01T10:00", "in the past"),
    ],
)
def test_bad_times_are_422_beside_the_time_field(
    client, session, editor, article, target, value, message
):
    response = client.post(compose_url(article, target), data=form(scheduled_at=value))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="scheduled_at-error"' in page and message in page
    assert count_posts(session) == 0


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?article=abc&target=1", 400),
        ("?article=99999999999&target=1", 400),
        ("?article=999999&target=1", 404),
    ],
)
def test_compose_refuses_bad_ids(client, editor, target, query, status):
    assert client.get("/dashboard/posts/new" + query).status_code == status


def test_compose_refuses_unpublished_articles(client, editor, make_article, target):
    draft = make_article(publish=False)
    response = client.get(compose_url(draft, target))
    assert response.status_code == 422 and "publish the article first" in response.get_data(
        as_text=True
    )


def test_chooser_offers_published_articles_and_targets(client, editor, article, target):
    page = client.get("/dashboard/posts/new").get_data(as_text=True)
    assert f'<option value="{article.id}">' in page
    assert "Sam Sandbox (member, Europe/Berlin)" in page


def test_chooser_says_to_connect_first_without_targets(client, editor, article):
    page = client.get("/dashboard/posts/new").get_data(as_text=True)
    assert "Connect a LinkedIn account" in page


def test_forms_without_the_csrf_token_are_refused(app, client, session, editor, article, target):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(compose_url(article, target), data=form())
    assert response.status_code == 400 and "reload the page" in response.get_data(as_text=True)
    assert client.post("/dashboard/posts/preview", data={"commentary": "x"}).status_code == 400
    assert count_posts(session) == 0


# --- one post --------------------------------------------------------------------------


def test_editing_text_and_time_while_scheduled(client, session, editor, article, target, make_post):
    post = make_post(article=article, target=target, user=editor)
    response = client.post(
        f"/dashboard/posts/{post.id}",
        data={
            "commentary": "New words",
            "card_title": "New title",
            "card_description": "",
            "scheduled_at": "2026-03-10T08:15",
        },
    )
    assert response.status_code == 303
    post = only_post(session)
    assert post.commentary == "New words" and post.card_title == "New title"
    assert post.scheduled_at == datetime(2026, 3, 10, 7, 15, tzinfo=UTC)
    assert "rescheduled" in post.history[-1].detail


def test_time_left_as_shown_keeps_the_stored_instant(
    client, session, editor, article, target, make_post
):
    exact = datetime(2026, 3, 4, 12, 0, 30, tzinfo=UTC)  # seconds are not shown in the field
    post = make_post(article=article, target=target, user=editor, when=exact)
    response = client.post(
        f"/dashboard/posts/{post.id}",
        data={"commentary": "Only the text", "card_title": "T", "scheduled_at": "2026-03-04T13:00"},
    )
    assert response.status_code == 303
    post = only_post(session)
    assert post.scheduled_at == exact and len(post.history) == 1


def test_cancel_then_no_more_changes(client, session, editor, article, target, make_post):
    post = make_post(article=article, target=target, user=editor)
    assert client.post(f"/dashboard/posts/{post.id}/cancel").status_code == 303
    assert only_post(session).state is PostState.CANCELLED
    page = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert "can no longer be changed" in page and "Cancel the post" not in page
    edit = client.post(
        f"/dashboard/posts/{post.id}", data={"commentary": "Too late", "card_title": "T"}
    )
    assert edit.status_code == 409
    assert client.post(f"/dashboard/posts/{post.id}/cancel").status_code == 409
    assert only_post(session).commentary != "Too late"


def test_published_post_shows_history_urn_and_live_link_and_cannot_change(
    client, session, editor, article, target, clock, linkedin_sandbox, make_post
):
    post = make_post(article=article, target=target, when=clock.now() + timedelta(minutes=5))
    clock.advance(timedelta(minutes=5))
    factories.record_published(session, post, now=clock.now())
    session.commit()
    post = only_post(session)
    page = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert post.linkedin_urn in page
    assert f'href="{linkedin_sandbox.base_url}/sandbox/"' in page
    for shown in ("scheduled → sending", "sending → published", "201", "w1"):
        assert shown in page
    assert "2026-03-02 10:05 Europe/Berlin" in page  # published, in the editor's zone
    edit = client.post(f"/dashboard/posts/{post.id}", data={"commentary": "x", "card_title": "T"})
    assert edit.status_code == 409


def test_live_link_goes_to_linkedin_when_talking_to_linkedin(app, article, target, make_post):
    post = make_post(article=article, target=target)
    post.linkedin_urn = "urn:li:share:7"
    app.config["LINKEDIN_API_BASE"] = "https://api.linkedin.com"
    with app.test_request_context():
        assert views.live_post_url(post) == "https://www.linkedin.com/feed/update/urn:li:share:7/"
        app.config["LINKEDIN_SANDBOX"] = True
        assert views.live_post_url(post) == "https://api.linkedin.com/sandbox/"


def test_unknown_post_is_404(client, editor):
    assert client.get("/dashboard/posts/424242").status_code == 404
    assert client.get("/dashboard/posts/99999999999").status_code == 404


# --- approval --------------------------------------------------------------------------


def test_editor_posts_wait_for_an_admin_who_approves(
    client, session, login, editor, admin, article, target
):
    target.needs_approval = True
    session.commit()
    client.post(compose_url(article, target), data=form())
    post = only_post(session)
    assert post.state is PostState.AWAITING_APPROVAL
    page = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert "waits for an administrator" in page and ">Approve<" not in page
    assert client.post(f"/dashboard/posts/{post.id}/approve").status_code == 403
    assert only_post(session).state is PostState.AWAITING_APPROVAL

    login(admin)
    assert ">Approve<" in client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert client.post(f"/dashboard/posts/{post.id}/approve").status_code == 303
    post = only_post(session)
    assert post.state is PostState.SCHEDULED and post.approved_by_id == admin.id
    assert post.history[-1].actor == "admin@example.test"
    assert client.post(f"/dashboard/posts/{post.id}/approve").status_code == 409


def edit_form(post, **fields):
    data = {
        "commentary": post.commentary,
        "card_title": post.card_title,
        "card_description": post.card_description,
        "scheduled_at": "",  # empty: the time as it is
    }
    data.update(fields)
    return data


def test_an_editors_edit_of_an_approved_post_needs_approval_again(
    client, session, login, editor, admin, article, target
):
    target.needs_approval = True
    session.commit()
    client.post(compose_url(article, target), data=form())
    login(admin)
    post = only_post(session)
    client.post(f"/dashboard/posts/{post.id}/approve")
    assert only_post(session).state is PostState.SCHEDULED

    login(editor)
    post = only_post(session)
    client.post(f"/dashboard/posts/{post.id}", data=edit_form(post))  # saved unchanged
    assert only_post(session).state is PostState.SCHEDULED
    response = client.post(
        f"/dashboard/posts/{post.id}", data=edit_form(post, commentary="Changed after approval")
    )
    assert response.status_code == 303
    post = only_post(session)
    assert post.state is PostState.AWAITING_APPROVAL and post.approved_by_id is None
    assert post.commentary == "Changed after approval"
    last = post.history[-1]
    assert (last.from_state, last.to_state) == ("scheduled", "awaiting_approval")
    assert last.actor == "editor@example.test" and "approve it again" in last.detail
    page = client.get(f"/dashboard/posts/{post.id}").get_data(as_text=True)
    assert "waits for an administrator" in page

    # An administrator's own edit is its own approval.
    login(admin)
    client.post(f"/dashboard/posts/{post.id}/approve")
    client.post(f"/dashboard/posts/{post.id}", data=edit_form(post, commentary="Admin's words"))
    post = only_post(session)
    assert post.state is PostState.SCHEDULED and post.commentary == "Admin's words"


# --- the list and trouble --------------------------------------------------------------


def test_failed_posts_show_with_their_reason_until_dismissed(
    client, session, editor, article, target, clock, make_post
):
    post = make_post(article=article, target=target)
    post.last_error = "LinkedIn answered 500 five times"
    context.record(session, post, PostState.FAILED, now=clock.now(), actor="w1")
    session.commit()
    page = client.get("/dashboard/posts/").get_data(as_text=True)
    assert "Needs attention" in page and "LinkedIn answered 500 five times" in page
    response = client.post(
        f"/dashboard/posts/{post.id}/dismiss", data={"next": "/dashboard/posts/?state=failed"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard/posts/?state=failed"
    page = client.get("/dashboard/posts/").get_data(as_text=True)
    assert "Needs attention" not in page
    assert only_post(session).dismissed_at == clock.now()


def test_dismiss_ignores_a_foreign_next(client, editor, article, target, make_post):
    post = make_post(article=article, target=target)
    response = client.post(
        f"/dashboard/posts/{post.id}/dismiss", data={"next": "https://evil.example/"}
    )
    assert response.headers["Location"] == "/dashboard/posts/"


def test_list_filters_by_state_and_paginates(client, app, editor, make_article, target, make_post):
    app.config["PAGE_SIZE"] = 2
    for n in range(3):
        make_post(article=make_article(title=f"Piece {n}"), target=target)
    first = client.get("/dashboard/posts/?state=scheduled").get_data(as_text=True)
    assert "Page 1 of 2" in first and first.count('href="/dashboard/posts/') >= 2
    assert "Piece 0" in client.get("/dashboard/posts/?state=scheduled&page=2").get_data(
        as_text=True
    )
    assert "No post is published" in client.get("/dashboard/posts/?state=published").get_data(
        as_text=True
    )
    assert client.get("/dashboard/posts/?state=nonsense").status_code == 400
    assert client.get("/dashboard/posts/?page=0").status_code == 400


def test_empty_list_says_to_connect_linkedin_first(client, editor):
    page = client.get("/dashboard/posts/").get_data(as_text=True)
    assert "No post yet" in page and "connect a LinkedIn account" in page


# --- target settings -------------------------------------------------------------------


def settings(**fields):
    data = {
        "time_zone": "America/New_York",
        "queue_slots": "Mon 09:00, thursday 16:30",
        "daily_cap": "3",
        "template": "{title}\n\n{link}",
    }
    data.update(fields)
    return data


def test_target_settings_are_saved(client, session, editor, target):
    response = client.post(f"/dashboard/posts/targets/{target.id}", data=settings())
    assert response.status_code == 303
    session.expire_all()
    assert target.time_zone == "America/New_York" and target.daily_cap == 3
    assert target.queue_slots == [
        {"weekday": 0, "time": "09:00"},
        {"weekday": 3, "time": "16:30"},
    ]
    page = client.get(f"/dashboard/posts/targets/{target.id}").get_data(as_text=True)
    assert "Mon 09:00, Thu 16:30" in page and "{title}" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("time_zone", "Mars/Olympus", "Unknown time zone"),
        ("queue_slots", "Mon 25:00", "is not a time of day"),
        ("queue_slots", "someday", "is not a slot"),
        ("daily_cap", "0", "between 1 and 100"),
        ("daily_cap", "101", "between 1 and 100"),
        ("daily_cap", "lots", "Not a valid integer"),
        ("template", "{title} {nope}", "Unknown placeholder(s) in the template: {nope}"),
    ],
)
def test_bad_target_settings_are_422_beside_the_field(
    client, session, editor, target, field, value, message
):
    response = client.post(f"/dashboard/posts/targets/{target.id}", data=settings(**{field: value}))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page.replace("&#39;", "'")
    assert f'id="{field}-error"' in page
    session.expire_all()
    assert target.time_zone == "Europe/Berlin"


def test_only_admins_change_whether_posts_need_approval(
    client, session, login, editor, admin, target
):
    client.post(f"/dashboard/posts/targets/{target.id}", data=settings(needs_approval="y"))
    session.expire_all()
    assert target.needs_approval is False
    login(admin)
    client.post(f"/dashboard/posts/targets/{target.id}", data=settings(needs_approval="y"))
    session.expire_all()
    assert target.needs_approval is True


def test_targets_page_lists_targets_or_says_to_connect(client, session, editor, target):
    page = client.get("/dashboard/posts/targets").get_data(as_text=True)
    assert f'href="/dashboard/posts/targets/{target.id}"' in page
    target.is_active = False
    session.commit()
    page = client.get("/dashboard/posts/targets").get_data(as_text=True)
    assert "Connect a LinkedIn account" in page


# --- auto-post rules -------------------------------------------------------------------


def test_admin_adds_and_deletes_a_rule(client, session, login, admin, article, target):
    login(admin)
    response = client.post(
        "/dashboard/posts/rules",
        data={
            "name": "World news",
            "categories": ["world"],
            "targets": [str(target.id)],
            "publish": "directly",
            "is_active": "y",
        },
    )
    assert response.status_code == 303
    rule = session.scalars(select(AutoPostRule)).one()
    assert rule.category_slugs == ["world"] and rule.target_ids == [target.id]
    assert rule.publish_directly is True
    page = client.get("/dashboard/posts/rules").get_data(as_text=True)
    assert "World news" in page and "Sam Sandbox" in page
    assert client.post(f"/dashboard/posts/rules/{rule.id}/delete").status_code == 303
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(AutoPostRule)) == 0


def test_rule_with_unknown_category_or_no_target_is_422(client, session, login, admin, target):
    login(admin)
    bad = client.post(
        "/dashboard/posts/rules",
        data={"name": "x", "categories": ["nope"], "targets": [str(target.id)], "publish": "hold"},
    )
    assert bad.status_code == 422 and "not a valid choice" in bad.get_data(as_text=True)
    forged = client.post(
        "/dashboard/posts/rules", data={"name": "x", "targets": ["abc"], "publish": "hold"}
    )
    assert forged.status_code == 422
    none = client.post("/dashboard/posts/rules", data={"name": "x", "publish": "hold"})
    assert none.status_code == 422 and "Choose at least one target" in none.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(AutoPostRule)) == 0


def test_editors_see_rules_but_cannot_change_them(client, session, editor, admin, target, clock):
    rule = auto_rules.create_rule(
        session,
        name="Everything",
        category_slugs=[],
        target_ids=[target.id],
        publish_directly=False,
        is_active=True,
        user=admin,
        now=clock.now(),
    )
    session.commit()
    page = client.get("/dashboard/posts/rules").get_data(as_text=True)
    assert "Everything" in page and "New rule" not in page
    created = client.post(
        "/dashboard/posts/rules", data={"name": "Mine", "targets": [str(target.id)]}
    )
    assert created.status_code == 403
    assert client.post(f"/dashboard/posts/rules/{rule.id}/delete").status_code == 403
    assert session.scalar(select(func.count()).select_from(AutoPostRule)) == 1


# --- the article editor's links --------------------------------------------------------


def test_article_snippet_links_each_target_and_existing_posts(app, article, target, make_post):
    post = make_post(article=article, target=target)
    with app.test_request_context():
        html = render_template_string('{% include "posts/_article_links.html" %}', article=article)
    assert f"/dashboard/posts/new?article={article.id}&amp;target={target.id}" in html
    assert "Post to LinkedIn as Sam Sandbox" in html
    assert f'href="/dashboard/posts/{post.id}"' in html
