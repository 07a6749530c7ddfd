import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from syndicate.staff.models import ApiToken, Role, User
from tests.factories import PASSWORD


def test_login_with_right_password_opens_dashboard(client, make_user, session):
    user = make_user(email="ed@example.test")
    response = client.post("/login", data={"email": "ED@example.test ", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dashboard/")
    assert client.get("/dashboard/articles").status_code == 200
    session.refresh(user)
    assert user.last_login_at is not None


def test_login_with_wrong_password_is_refused_without_saying_which_part(client, make_user):
    make_user(email="ed@example.test")
    wrong_password = client.post("/login", data={"email": "ed@example.test", "password": "nope"})
    unknown_email = client.post("/login", data={"email": "who@example.test", "password": "nope"})
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert "Wrong email or password." in wrong_password.get_data(as_text=True)
    assert client.get("/dashboard/articles").status_code == 302


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"],
)
def test_login_never_redirects_off_site(client, make_user, target):
    make_user(email="ed@example.test")
    response = client.post(
        "/login", data={"email": "ed@example.test", "password": PASSWORD, "next": target}
    )
    assert response.headers["Location"] == "/dashboard/"


def test_login_returns_to_the_page_asked_for(client, make_user):
    make_user(email="ed@example.test")
    response = client.post(
        "/login",
        data={
            "email": "ed@example.test",
            "password": PASSWORD,
            "next": "/dashboard/articles?status=draft",
        },
    )
    assert response.headers["Location"] == "/dashboard/articles?status=draft"


def test_dashboard_sends_anonymous_visitors_to_login(client):
    response = client.get("/dashboard/articles")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


# --- sessions ---------------------------------------------------------------------------


def _browser(app, email: str = "ed@example.test", password: str = PASSWORD):  # noqa: ANN202
    """A new browser that signs in through the form."""
    browser = app.test_client()
    response = browser.post("/login", data={"email": email, "password": password})
    assert response.status_code == 302
    return browser


def _signed_in(browser) -> bool:  # noqa: ANN001
    response = browser.get("/dashboard/profile")
    assert response.status_code in (200, 302)
    return response.status_code == 200


def _copy_of(browser, app):  # noqa: ANN001, ANN202
    """Another browser holding a copy of this one's session cookie (a stolen cookie)."""
    copy = app.test_client()
    copy.set_cookie("syndicate_session", browser.get_cookie("syndicate_session").value)
    return copy


def test_logout_ends_the_session(client, make_user, login):
    login(make_user())
    assert client.post("/logout").status_code == 303
    assert client.get("/dashboard/articles").status_code == 302


def test_a_cookie_copied_before_logout_is_refused_after_it(app, make_user):
    make_user(email="ed@example.test")
    browser = _browser(app)
    copy = _copy_of(browser, app)
    assert _signed_in(copy)
    assert browser.post("/logout").status_code == 303
    replayed = copy.get("/dashboard/profile")
    assert replayed.status_code == 302
    assert "/login" in replayed.headers["Location"]


def test_logout_ends_only_the_session_of_the_browser_that_signed_out(app, make_user):
    make_user(email="ed@example.test")
    laptop, phone = _browser(app), _browser(app)
    laptop.post("/logout")
    assert not _signed_in(laptop)
    assert _signed_in(phone)


def test_password_change_ends_every_other_session_and_renews_its_own(app, make_user):
    make_user(email="ed@example.test")
    laptop, phone = _browser(app), _browser(app)
    old_laptop_cookie = _copy_of(laptop, app)
    response = laptop.post(
        "/dashboard/profile", data={"time_zone": "UTC", "new_password": "another long password"}
    )
    assert response.status_code == 303
    assert _signed_in(laptop)
    assert not _signed_in(phone)
    assert not _signed_in(old_laptop_cookie)
    assert _signed_in(_browser(app, password="another long password"))


@pytest.mark.parametrize(
    ("change", "ends_sessions"),
    [
        ({"role": "editor", "time_zone": "UTC"}, True),  # deactivated (no is_active)
        ({"role": "editor", "time_zone": "UTC", "is_active": "y"}, True),  # admin no more
        ({"role": "admin", "time_zone": "Asia/Tokyo", "is_active": "y"}, False),
    ],
)
def test_deactivation_or_losing_admin_ends_every_session_of_the_user(
    app, client, make_user, login, session, change, ends_sessions
):
    target = make_user(email="ed@example.test", role=Role.ADMIN)
    laptop, phone = _browser(app), _browser(app)
    login(make_user(role=Role.ADMIN))
    assert client.post(f"/dashboard/users/{target.id}", data=change).status_code == 303
    assert _signed_in(laptop) is _signed_in(phone) is not ends_sessions
    if "is_active" not in change:  # reactivated, the old sessions stay ended
        data = {**change, "is_active": "y"}
        assert client.post(f"/dashboard/users/{target.id}", data=data).status_code == 303
        assert not _signed_in(laptop)
        assert _signed_in(_browser(app))


@pytest.mark.parametrize("app_overrides", [{"SESSION_LIFETIME": "1h"}])
def test_a_session_ends_after_the_session_lifetime(app, make_user, clock):
    make_user(email="ed@example.test")
    browser = _browser(app)
    clock.advance(timedelta(minutes=59))
    assert _signed_in(browser)
    clock.advance(timedelta(minutes=2))
    assert not _signed_in(browser)


def test_the_session_cookie_lasts_as_long_as_the_session(app, make_user):
    make_user(email="ed@example.test")
    browser = app.test_client()
    response = browser.post("/login", data={"email": "ed@example.test", "password": PASSWORD})
    cookie = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("syndicate_session=")
    )
    assert "Max-Age=1209600" in cookie or "Expires=" in cookie
    assert app.permanent_session_lifetime == timedelta(days=14)


def test_only_requests_with_a_staff_session_look_it_up(app, engine, make_user, make_article):
    make_user(email="ed@example.test")
    make_article()
    lookups = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if "staff_sessions" in statement:
            lookups.append(statement)

    visitor, staff = app.test_client(), _browser(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        for path in ("/", "/feeds/rss.xml", "/feeds/atom.xml", "/healthz"):
            assert visitor.get(path).status_code == 200, path
        assert staff.get("/feeds/rss.xml").status_code == 200
        assert lookups == []
        assert staff.get("/dashboard/articles").status_code == 200
        assert len(lookups) == 1
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_editor_cannot_manage_users(client, make_user, login, session):
    editor = make_user(role=Role.EDITOR)
    login(editor)
    assert client.get("/dashboard/users").status_code == 403
    response = client.post(
        "/dashboard/users",
        data={
            "email": "new@example.test",
            "role": "admin",
            "time_zone": "UTC",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 403
    assert (
        client.post(
            f"/dashboard/users/{editor.id}",
            data={"role": "admin", "time_zone": "UTC", "is_active": "y"},
        ).status_code
        == 403
    )
    session.refresh(editor)
    assert editor.role is Role.EDITOR


def test_admin_creates_a_user_who_can_sign_in(client, make_user, login, session):
    login(make_user(role=Role.ADMIN))
    response = client.post(
        "/dashboard/users",
        data={
            "email": "new@example.test",
            "name": "New",
            "role": "editor",
            "time_zone": "Europe/Berlin",
            "password": "a long enough password",
        },
    )
    assert response.status_code == 303
    created = session.scalar(select(User).where(User.email == "new@example.test"))
    assert created.role is Role.EDITOR and created.time_zone == "Europe/Berlin"
    assert "a long enough password" not in created.password_hash
    assert created.password_hash.startswith("scrypt:")


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {
                "email": "new@example.test",
                "role": "editor",
                "time_zone": "Mars/Olympus",
                "password": "a long enough password",
            },
            "Unknown time zone",
        ),
        (
            {
                "email": "new@example.test",
                "role": "editor",
                "time_zone": "UTC",
                "password": "short",
            },
            "at least 12",
        ),
        (
            {
                "email": "not-an-email",
                "role": "editor",
                "time_zone": "UTC",
                "password": "a long enough password",
            },
            "not an email address",
        ),
        (
            {
                "email": "new@example.test",
                "role": "owner",
                "time_zone": "UTC",
                "password": "a long enough password",
            },
            "Not a valid choice",
        ),
    ],
)
def test_bad_new_user_input_is_refused_and_nothing_stored(
    client, make_user, login, session, data, message
):
    login(make_user(role=Role.ADMIN))
    response = client.post("/dashboard/users", data=data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert session.scalar(select(User).where(User.email == "new@example.test")) is None


def test_last_admin_cannot_demote_themselves(client, make_user, login, session):
    admin = make_user(role=Role.ADMIN)
    login(admin)
    response = client.post(
        f"/dashboard/users/{admin.id}",
        data={"role": "editor", "time_zone": "UTC", "is_active": "y"},
    )
    assert response.status_code == 422
    assert "last active administrator" in response.get_data(as_text=True)
    session.refresh(admin)
    assert admin.role is Role.ADMIN


def test_api_token_is_shown_once_stored_hashed_and_works_until_revoked(
    client, make_user, login, session
):
    login(make_user())
    page = client.post("/dashboard/tokens", data={"name": "CMS hook"}).get_data(as_text=True)
    secret = re.search(r'<code id="new-token">(syn_[^<]+)</code>', page).group(1)
    token = session.scalar(select(ApiToken))
    assert secret not in token.token_hash and token.prefix == secret[:10]
    assert secret not in client.get("/dashboard/tokens").get_data(as_text=True)

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200 and me.json["role"] == "editor"
    session.refresh(token)
    assert token.last_used_at is not None

    client.post(f"/dashboard/tokens/{token.id}/revoke")
    refused = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401
    assert refused.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header", ["", "Bearer", "Bearer syn_wrong", "Basic abc", "Bearer " + "x" * 5000]
)
def test_api_refuses_missing_or_bad_tokens_with_json(client, header):
    response = client.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json["error"]["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_users_token_cannot_be_revoked(client, make_user, login, session, clock):
    from syndicate.staff.services import create_api_token

    owner = make_user()
    token, _secret = create_api_token(session, owner, "mine", now=clock.now())
    login(make_user())
    assert client.post(f"/dashboard/tokens/{token.id}/revoke").status_code == 404
    session.refresh(token)
    assert token.revoked_at is None


def test_login_attempts_are_rate_limited_per_address(client, make_user):
    make_user(email="ed@example.test")
    answers = [
        client.post("/login", data={"email": "ed@example.test", "password": "guess"}).status_code
        for _ in range(11)
    ]
    assert answers[:10] == [401] * 10
    assert answers[10] == 429
    # Another address is not held back by the first one's failures.
    other = client.post(
        "/login",
        data={"email": "ed@example.test", "password": "guess"},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert other.status_code == 401


# --- time zones -------------------------------------------------------------------------


def test_profile_offers_every_known_zone_in_a_labelled_select_with_the_current_one_chosen(
    client, make_user, login
):
    login(make_user(time_zone="America/Argentina/Buenos_Aires"))
    page = client.get("/dashboard/profile").get_data(as_text=True)
    assert '<label for="time_zone">Time zone</label>' in page
    select = re.search(r'<select[^>]*id="time_zone"[^>]*>(.*?)</select>', page, re.S).group(1)
    assert '<optgroup label="Europe">' in select and '<optgroup label="America">' in select
    assert re.search(r'<option selected value="America/Argentina/Buenos_Aires">', select)
    assert select.count("<option") > 400
    assert "Mars/Olympus" not in select and "localtime" not in select


def test_an_unknown_zone_posted_to_the_profile_is_a_form_error_and_nothing_is_stored(
    client, make_user, login, session
):
    user = make_user(time_zone="Europe/Berlin", name="Before")
    login(user)
    response = client.post(
        "/dashboard/profile", data={"name": "After", "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(
        r'<p class="error" id="time_zone-error">Unknown time zone &#39;Mars/Olympus&#39;', page
    )
    assert re.search(r'aria-describedby="[^"]*\btime_zone-error\b', page)
    session.refresh(user)
    assert user.saved_time_zone == "Europe/Berlin" and user.name == "Before"


def test_an_admin_cannot_give_a_user_an_unknown_zone(client, make_user, login, session):
    login(make_user(role=Role.ADMIN))
    editor = make_user(time_zone="Asia/Tokyo")
    response = client.post(
        f"/dashboard/users/{editor.id}",
        data={"role": "editor", "time_zone": "Mars/Olympus", "is_active": "y"},
    )
    assert response.status_code == 422
    assert "Unknown time zone" in response.get_data(as_text=True)
    session.refresh(editor)
    assert editor.saved_time_zone == "Asia/Tokyo"


@pytest.mark.parametrize("app_overrides", [{"TIME_ZONE": "Europe/Lisbon"}])
def test_a_saved_zone_the_host_does_not_know_falls_back_to_the_site_zone_and_says_so(
    client, make_user, make_article, login, session
):
    from sqlalchemy import text

    user = make_user(role=Role.ADMIN)
    make_article()
    # A row from before zones were checked.
    session.execute(
        text("UPDATE users SET time_zone = 'Mars/Olympus' WHERE id = :id"), {"id": user.id}
    )
    session.expire_all()
    login(user)
    for path in ("/", "/dashboard/articles", "/dashboard/posts/calendar", "/dashboard/users"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Europe/Lisbon" in response.get_data(as_text=True), path
    profile = client.get("/dashboard/profile").get_data(as_text=True)
    assert "The saved time zone Mars/Olympus is unknown here" in profile
    assert '<option selected value="Europe/Lisbon">' in profile
    # Choosing a zone stores it and the note goes.
    assert client.post("/dashboard/profile", data={"time_zone": "Europe/Lisbon"}).status_code == 303
    session.expire_all()
    assert session.get(User, user.id).saved_time_zone == "Europe/Lisbon"
    assert "is unknown here" not in client.get("/dashboard/profile").get_data(as_text=True)
