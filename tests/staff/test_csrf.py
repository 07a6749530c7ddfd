import pytest

from tests.factories import PASSWORD


@pytest.fixture
def app_overrides():
    return {"WTF_CSRF_ENABLED": True}


def test_forms_without_csrf_token_are_refused(client, make_user):
    make_user(email="ed@example.test")
    response = client.post("/login", data={"email": "ed@example.test", "password": PASSWORD})
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)


def test_login_form_with_its_csrf_token_works(client, make_user):
    import re

    make_user(email="ed@example.test")
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login", data={"email": "ed@example.test", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302


def test_session_cookie_is_httponly_and_lax(client, make_user):
    make_user(email="ed@example.test")
    client.get("/login")
    cookie = client.get_cookie("syndicate_session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
