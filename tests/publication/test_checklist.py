"""The first-run checklist on the dashboard's home: each step ticks itself from what exists,
the progress counts them, and hiding it lasts."""

import lxml.html
import pytest

from syndicate.publication import services
from syndicate.publication.models import ChecklistState
from syndicate.staff.models import Role
from tests import factories


def steps(client) -> tuple[dict[str, bool], str]:
    """Each step's state as the home page shows it, and the progress line."""
    answer = client.get("/dashboard/")
    assert answer.status_code == 200
    tree = lxml.html.fromstring(answer.get_data(as_text=True))
    shown = {
        li.get("data-step"): "done" in li.get("class").split()
        for li in tree.xpath("//li[@data-step]")
    }
    for li in tree.xpath("//li[@data-step]"):
        state = li.xpath(".//*[contains(@class,'checklist-state')]")[0].text_content()
        assert state == ("Done" if shown[li.get("data-step")] else "To do")
    progress = tree.xpath("//*[@id='checklist-count']")[0].text_content()
    return shown, progress


@pytest.fixture
def admin_in(staff_user):
    return staff_user(email="admin@example.test", role=Role.ADMIN)


def test_each_step_flips_when_its_state_changes(
    client, session, admin_in, make_connection, make_target, make_article, make_user, clock, app
):
    shown, progress = steps(client)
    assert list(shown) == list(services.STEPS)
    assert not any(shown.values()) and progress == "0 of 6 done"

    make_connection()
    session.commit()
    assert steps(client)[0]["linkedin"] and steps(client)[1] == "1 of 6 done"

    article = make_article(title="First")
    session.commit()
    assert steps(client)[0]["article"]

    target = make_target()
    factories.make_post(
        session, article=article, target=target, now=clock.now(), site_url=app.config["SITE_URL"]
    )
    session.commit()
    assert steps(client)[0]["post"]

    assert client.post("/dashboard/publication", data={"name": "Harbour Weekly"}).status_code == 303
    assert steps(client)[0]["name"]

    editor = make_user(email="editor@example.test", role=Role.EDITOR)
    session.commit()
    assert steps(client)[0]["editor"]

    answer = client.post("/dashboard/checklist/feeds")
    assert answer.status_code == 303 and answer.headers["Location"] == "/dashboard/feeds"
    shown, progress = steps(client)
    assert all(shown.values()) and progress == "6 of 6 done"

    # And back: the name emptied goes to the settings' (none here), the editor deactivated.
    client.post("/dashboard/publication", data={"name": ""})
    editor.is_active = False
    session.commit()
    shown, progress = steps(client)
    assert not shown["name"] and not shown["editor"] and progress == "4 of 6 done"


def test_the_demo_name_is_not_a_chosen_name(session):
    assert services.name_is_chosen(session, {"SITE_NAME": services.DEMO_SITE_NAME}) is False
    assert services.name_is_chosen(session, {"SITE_NAME": "Harbour Weekly"}) is True
    assert services.name_is_chosen(session, {"SITE_NAME": "", "FEED_TITLE": "Harbour"}) is True
    assert services.name_is_chosen(session, {"SITE_NAME": ""}) is False


def test_steps_link_to_where_they_are_done(client, admin_in):
    page = client.get("/dashboard/").get_data(as_text=True)
    for href in (
        "/dashboard/connections/",
        "/dashboard/sources/",
        "/dashboard/articles/new",
        "/dashboard/posts/new",
        "/dashboard/publication",
        "/dashboard/users",
    ):
        assert f'href="{href}"' in page, href
    assert 'action="/dashboard/checklist/feeds"' in page


def test_an_editor_is_told_who_does_the_admin_steps(client, staff_user):
    staff_user(email="ed@example.test", role=Role.EDITOR)
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'href="/dashboard/users"' not in page
    assert "An administrator adds staff under Users." in page


def test_dismissing_lasts_across_sign_ins_and_is_per_person(
    client, session, admin_in, make_user, login
):
    answer = client.post("/dashboard/checklist/dismiss")
    assert answer.status_code == 303 and answer.headers["Location"] == "/dashboard/articles"
    assert session.get(ChecklistState, admin_in.id).dismissed_at is not None
    home = client.get("/dashboard/")
    assert home.status_code == 302 and home.headers["Location"] == "/dashboard/articles"

    client.post("/logout")
    login(admin_in)
    assert client.get("/dashboard/").status_code == 302  # still hidden after signing in again

    other = make_user(email="other@example.test", role=Role.EDITOR)
    login(other)
    assert client.get("/dashboard/").status_code == 200  # someone else's is not hidden

    login(admin_in)
    settings_page = client.get("/dashboard/publication").get_data(as_text=True)
    assert "The checklist is hidden" in settings_page
    assert client.post("/dashboard/checklist/show").status_code == 303
    assert client.get("/dashboard/").status_code == 200


def test_checklist_posts_need_the_csrf_token(app, client, admin_in, session):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.post("/dashboard/checklist/dismiss").status_code == 400
        assert client.post("/dashboard/checklist/feeds").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert session.get(ChecklistState, admin_in.id) is None


def test_signing_in_lands_on_the_checklist(client, make_user):
    make_user(email="new@example.test", role=Role.ADMIN)
    answer = client.post(
        "/login", data={"email": "new@example.test", "password": factories.PASSWORD}
    )
    assert answer.status_code in (302, 303) and answer.headers["Location"] == "/dashboard/"
    assert "Getting started" in client.get("/dashboard/").get_data(as_text=True)
