"""Posts need a connected target: the sandbox's member, holding a token the sandbox accepts."""

from __future__ import annotations

import pytest

from syndicate.posts.dispatcher import Dispatcher, DispatchSettings


@pytest.fixture
def app_overrides(sandbox_settings):
    return sandbox_settings


@pytest.fixture
def target(make_sandbox_target, make_user):
    owner = make_user(email="owner@example.test")
    return make_sandbox_target(connected_by=owner, time_zone="Europe/Berlin")


@pytest.fixture
def dispatcher(app, clock):
    from pathlib import Path

    def make(owner: str = "w1", client=None, **settings) -> Dispatcher:
        options = {
            "site_url": app.config["SITE_URL"],
            "static_folder": Path(app.static_folder),
            **settings,
        }
        return Dispatcher(
            app.extensions["database"],
            client=client or app.extensions["linkedin_client"],
            vault=app.extensions["token_vault"],
            clock=clock,
            settings=DispatchSettings(**options),
            owner=owner,
        )

    return make
