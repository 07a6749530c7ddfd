"""A LinkedIn sandbox on 127.0.0.1 that the app under test talks to over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests

from syndicate.linkedin.sandbox import running_sandbox
from syndicate.linkedin.sandbox_state import SandboxClient

SITE_URL = "https://news.example.test"
CLIENT_ID, CLIENT_SECRET = "syndicate-test", "syndicate-test-secret"


@pytest.fixture
def linkedin_sandbox():
    registered = SandboxClient(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uris=frozenset({SITE_URL + "/dashboard/connections/callback"}),
    )
    # The sandbox keeps real time: authlib checks id_token expiry against the real clock.
    with running_sandbox(clients={CLIENT_ID: registered}) as (base, sandbox):
        sandbox.state.set_switches(auto_consent=True)
        sandbox.base_url = base
        yield sandbox


@pytest.fixture
def app_overrides(linkedin_sandbox):
    base = linkedin_sandbox.base_url
    return {
        "LINKEDIN_AUTH_BASE": base,
        "LINKEDIN_API_BASE": base,
        "LINKEDIN_CLIENT_ID": CLIENT_ID,
        "LINKEDIN_CLIENT_SECRET": CLIENT_SECRET,
    }


class Browser:
    """Follows the OAuth dance between the app (test client) and the sandbox (real HTTP)."""

    def __init__(self, client) -> None:
        self.client = client

    def start(self, pages: bool = True):
        response = self.client.post(
            "/dashboard/connections/connect", data={"pages": "on"} if pages else {}
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        return response.headers["Location"]

    def at_linkedin(self, authorize_url: str) -> str:
        """What LinkedIn sends the browser back to: the callback URL with its query."""
        answer = requests.get(authorize_url, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text
        return answer.headers["Location"]

    def back_at_app(self, callback_url: str):
        parts = urlsplit(callback_url)
        return self.client.get(f"{parts.path}?{parts.query}")

    def connect(self, pages: bool = True):
        return self.back_at_app(self.at_linkedin(self.start(pages)))


@pytest.fixture
def oauth_browser(client):
    return Browser(client)
