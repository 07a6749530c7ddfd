"""A LinkedIn sandbox on 127.0.0.1 that the app under test talks to over real HTTP."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests


@pytest.fixture
def app_overrides(sandbox_settings):
    return sandbox_settings


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
