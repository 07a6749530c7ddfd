"""Cookies, security headers, redirects, CSRF on every form and the proxy-aware rate limit.

The login form's own `next=` refusals and CSRF basics live in tests/staff/; this file adds
what holds for every route and for the production configuration.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate import create_app
from syndicate.staff.models import Role
from syndicate.web.security import safe_next
from syndicate.web.services import raise_alert
from tests.conftest import app_config
from tests.factories import PASSWORD
from tests.web.test_authorization import dummy_arguments, routes

PAGES = ["/", "/login", "/healthz", "/no/such/page", "/api/v1/me", "/feeds/rss.xml"]
CSRF_MESSAGE = "The form expired or was not sent from this site"
# POST routes that take no CSRF token, and why.
CSRF_EXEMPT = {
    "/api/*": "API clients authenticate with a bearer token, not a cookie",
    "/websub": "WebSub subscribers are other servers",
}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _app(engine, connection, clock, database_url, tmp_path, **overrides) -> Flask:
    app = create_app(app_config(database_url, ENGINE=engine, CLOCK=clock,
                                INSTANCE_PATH=str(tmp_path / "instance"), **overrides))
    app.extensions["database"].sessions.configure(
        bind=connection, join_transaction_mode="create_savepoint"
    )
    return app


@pytest.fixture
def production_app(engine, connection, clock, database_url, tmp_path) -> Flask:
    """Production settings: every required one given, CSRF on."""
    return _app(engine, connection, clock, database_url, tmp_path,
                ENV="production", WTF_CSRF_ENABLED=True, FETCH_ALLOW_PRIVATE=False)


@pytest.fixture
def csrf_app(engine, connection, clock, database_url, tmp_path) -> Flask:
    return _app(engine, connection, clock, database_url, tmp_path, WTF_CSRF_ENABLED=True)


def _session_cookie(response) -> str:
    cookies = [h for h in response.headers.getlist("Set-Cookie")
               if h.startswith("syndicate_session=")]
    assert cookies, "no session cookie was set"
    return cookies[0]


# --- cookies ----------------------------------------------------------------------------


def test_production_session_cookie_is_secure_httponly_and_lax(production_app):
    client = production_app.test_client()
    cookie = _session_cookie(client.get("/login", base_url="https://news.example.test"))
    attributes = {part.strip().split("=")[0].lower(): part for part in cookie.split(";")}
    assert "secure" in attributes
    assert "httponly" in attributes
    assert attributes["samesite"].strip() == "SameSite=Lax"


def test_signed_in_production_cookie_keeps_its_flags(production_app, session, clock):
    from tests.factories import make_user

    make_user(session, now=clock.now(), email="ed@example.test")
    client = production_app.test_client()
    page = client.get("/login", base_url="https://news.example.test").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/login", base_url="https://news.example.test",
                           headers={"Referer": "https://news.example.test/login"},
                           data={"email": "ed@example.test", "password": PASSWORD,
                                 "csrf_token": token})
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_development_cookie_is_not_secure_so_http_works(client):
    client.get("/login")
    cookie = client.get_cookie("syndicate_session")
    assert cookie is None or not cookie.secure


# --- headers ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_csp_forbids_inline_code_and_framing(client, path):
    csp = client.get(path).headers["Content-Security-Policy"]
    directives = {d.strip().split()[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert directives["script-src"] == "script-src 'self'"
    assert directives["object-src"] == "object-src 'none'"


@pytest.mark.parametrize("path", PAGES)
def test_nosniff_and_no_framing_on_every_answer(client, path):
    headers = client.get(path).headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", PAGES)
def test_hsts_only_in_production(client, production_app, path):
    assert "Strict-Transport-Security" not in client.get(path).headers
    hsts = production_app.test_client().get(path, base_url="https://news.example.test") \
        .headers["Strict-Transport-Security"]
    max_age = int(re.search(r"max-age=(\d+)", hsts).group(1))
    assert max_age >= 31536000


# --- redirects --------------------------------------------------------------------------


def _browser_view(location: str) -> str:
    """What a browser makes of a Location: tabs and newlines dropped, backslashes as slashes."""
    return re.sub(r"[\t\n\r]", "", location).replace("\\", "/").lstrip(" ")


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="/\\:.@?#%evil.com htps\t\n\x00", max_size=30))
def test_safe_next_never_leaves_the_site(target):
    result = _browser_view(safe_next(target, "/dashboard/"))
    parts = urlsplit(result)
    assert result.startswith("/") and not result.startswith("//")
    assert not parts.scheme and not parts.netloc


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil.example",
     "http:evil.example", " //evil.example"],
)
def test_dismissing_an_alert_never_redirects_off_site(client, make_user, login, session,
                                                      clock, target):
    user = make_user()
    login(user)
    alert = raise_alert(session, "test:alert", "Look here", now=clock.now())
    response = client.post(f"/dashboard/alerts/{alert.id}/dismiss", data={"next": target})
    assert response.status_code == 303
    location = urlsplit(_browser_view(response.headers["Location"]))
    assert not location.netloc or location.netloc == "localhost"


# --- CSRF on every state-changing form --------------------------------------------------


def _exempt(rule: str) -> bool:
    from fnmatch import fnmatchcase

    return any(fnmatchcase(rule, pattern) for pattern in CSRF_EXEMPT)


def test_every_state_changing_form_refuses_a_missing_csrf_token(csrf_app, session, clock):
    from tests.factories import make_user, sign_in

    admin = make_user(session, now=clock.now(), role=Role.ADMIN)
    client = csrf_app.test_client()
    adapter = csrf_app.url_map.bind("localhost")
    checked, problems = 0, []
    for rule, method in routes(csrf_app):
        if method not in STATE_CHANGING:
            continue
        sign_in(client, session, admin, now=clock.now())
        path = adapter.build(rule.endpoint, dummy_arguments(rule), method=method)
        response = client.open(path, method=method, data={"anything": "1"})
        refused = response.status_code == 400 and CSRF_MESSAGE in response.get_data(as_text=True)
        if _exempt(rule.rule):
            if refused:
                problems.append(f"{method} {path} is listed as exempt but demands a token")
            continue
        checked += 1
        if not refused:
            problems.append(f"{method} {path}: {response.status_code} without a CSRF token")
    assert checked >= 10
    assert not problems, "\n".join(problems)


def test_a_csrf_token_from_another_session_is_refused(csrf_app, session, clock):
    from tests.factories import make_user, sign_in

    user = make_user(session, now=clock.now())
    other = csrf_app.test_client()
    page = other.get("/login").get_data(as_text=True)
    foreign = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    client = csrf_app.test_client()
    sign_in(client, session, user, now=clock.now())
    response = client.post("/dashboard/tokens", data={"name": "x", "csrf_token": foreign})
    assert response.status_code == 400


# --- the rate limit behind a proxy ------------------------------------------------------


@pytest.mark.parametrize("app_overrides", [{"PROXY_FIX_X_FOR": 1}])
def test_forged_forwarded_for_hops_do_not_escape_the_login_limit(client, make_user):
    make_user(email="ed@example.test")

    def attempt(forged: str, real: str) -> int:
        # The client sends a made-up X-Forwarded-For; the proxy (at 127.0.0.1) appends
        # the address it really saw, last.
        return client.post(
            "/login", data={"email": "ed@example.test", "password": "guess"},
            headers={"X-Forwarded-For": f"{forged}, {real}"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        ).status_code

    answers = [attempt(f"198.51.100.{i}", "203.0.113.7") for i in range(11)]
    assert answers[:10] == [401] * 10
    assert answers[10] == 429
    # A different client behind the same proxy has a bucket of its own.
    assert attempt("198.51.100.1", "203.0.113.8") == 401


def test_without_a_trusted_proxy_forwarded_for_is_ignored(client, make_user):
    make_user(email="ed@example.test")
    answers = [
        client.post("/login", data={"email": "ed@example.test", "password": "guess"},
                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                    environ_base={"REMOTE_ADDR": "192.0.2.10"}).status_code
        for i in range(11)
    ]
    assert answers[10] == 429
