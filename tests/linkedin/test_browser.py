"""In Chromium, as under `make run`: connect a LinkedIn account through the mounted sandbox."""

import socket

import pytest

from syndicate import create_app
from syndicate.linkedin.models import LinkedInConnection
from tests import factories
from tests.conftest import LiveServer, app_config

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sandbox_app(fresh_database, tmp_path):
    port = free_port()
    app = create_app(app_config(
        fresh_database, INSTANCE_PATH=str(tmp_path / "instance"), WTF_CSRF_ENABLED=True,
        SITE_URL=f"http://127.0.0.1:{port}", LINKEDIN_SANDBOX=True,
        # The sandbox knows only the real current months; the app's clock stays real too.
        LINKEDIN_AUTH_BASE="", LINKEDIN_API_BASE="", LINKEDIN_CLIENT_ID="",
        LINKEDIN_CLIENT_SECRET=""))
    server = LiveServer(app, port=port)
    with server:
        yield app, server
    app.extensions["database"].engine.dispose()


def test_staff_connects_a_sandbox_account_through_the_consent_page(sandbox_app, browser):
    app, server = sandbox_app
    with app.extensions["database"].transaction() as session:
        factories.make_user(session, now=app.extensions["clock"].now(),
                            email="editor@example.test", time_zone="America/New_York")
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/login")
        page.get_by_label("Email").fill("editor@example.test")
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{server.url}/dashboard/connections/")
        assert "LinkedIn sandbox" in page.content()
        page.get_by_role("button", name="Connect a LinkedIn account").click()
        page.wait_for_url("**/linkedin-sandbox/oauth/v2/authorization**")
        assert "not LinkedIn" in page.content()
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url("**/dashboard/connections/")
        page.get_by_text("Connected Sam Sandbox").wait_for()
        body = page.locator("main").inner_text()
        assert "Sandbox Magazine" in body and "Sandbox Press" in body
        assert " America/New_York" in body
    finally:
        page.close()
    with app.extensions["database"].transaction() as session:
        connection = session.query(LinkedInConnection).one()
        assert connection.member_urn == "urn:li:person:sandbox-member-1"
