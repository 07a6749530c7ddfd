"""Fixtures for tests that talk to the LinkedIn sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from syndicate.linkedin_sandbox.app import running_sandbox
from syndicate.linkedin_sandbox.state import SandboxClient
from tests.factories import SANDBOX_MEMBER

SITE_URL = "https://news.example.test"
CLIENT_ID, CLIENT_SECRET = "syndicate-test", "syndicate-test-secret"


@pytest.fixture
def linkedin_sandbox():
    """A sandbox with this test suite registered as a LinkedIn app; consent is automatic."""
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
def sandbox_settings(linkedin_sandbox) -> dict[str, object]:
    """App settings that point the app at the sandbox."""
    base = linkedin_sandbox.base_url
    return {
        "LINKEDIN_AUTH_BASE": base,
        "LINKEDIN_API_BASE": base,
        "LINKEDIN_CLIENT_ID": CLIENT_ID,
        "LINKEDIN_CLIENT_SECRET": CLIENT_SECRET,
        # The sandbox accepts the last twelve monthly versions, counted in real time.
        "LINKEDIN_VERSION": datetime.now(UTC).strftime("%Y%m"),
    }


def post_body(
    commentary: str = "A new article", author: str = SANDBOX_MEMBER, **extra: Any
) -> dict[str, Any]:
    """A /rest/posts body as LinkedIn documents it: public, in the main feed, re-sharable."""
    return {
        "author": author,
        "commentary": commentary,
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
        **extra,
    }
