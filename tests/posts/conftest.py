"""Posts need a connected target: a connection holding a real sandbox token."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from syndicate.linkedin.models import (
    ConnectionState,
    LinkedInConnection,
    LinkedInTarget,
    TargetKind,
)
from syndicate.posts.dispatcher import Dispatcher, DispatchSettings

SCOPES = [
    "openid",
    "profile",
    "email",
    "w_member_social",
    "w_organization_social",
    "r_organization_admin",
]


def connect_target(
    session,
    app,
    sandbox,
    now: datetime,
    *,
    urn="urn:li:person:sandbox-member-1",
    kind=TargetKind.MEMBER,
    user=None,
    **target_fields,
) -> LinkedInTarget:
    token = sandbox.state.mint_token(SCOPES, client_id="syndicate-test")
    vault = app.extensions["token_vault"]
    connection = (
        session.query(LinkedInConnection)
        .filter_by(member_urn="urn:li:person:sandbox-member-1")
        .one_or_none()
    )
    if connection is None:
        connection = LinkedInConnection(
            member_urn="urn:li:person:sandbox-member-1",
            name="Sam Sandbox",
            access_token_encrypted=vault.encrypt(token),
            expires_at=now + timedelta(days=60),
            scopes=" ".join(SCOPES),
            state=ConnectionState.ACTIVE,
            connected_by_id=user.id if user else None,
            created_at=now,
            updated_at=now,
        )
        session.add(connection)
    target = LinkedInTarget(
        connection=connection,
        urn=urn,
        kind=kind,
        display_name=target_fields.pop("display_name", "Sam Sandbox"),
        time_zone=target_fields.pop("time_zone", "Europe/Berlin"),
        queue_slots=target_fields.pop("queue_slots", []),
        created_at=now,
        updated_at=now,
        **target_fields,
    )
    session.add(target)
    session.commit()
    return target


@pytest.fixture
def app_overrides(sandbox_settings):
    return sandbox_settings


@pytest.fixture
def target(session, app, linkedin_sandbox, clock, make_user):
    owner = make_user(email="owner@example.test")
    return connect_target(session, app, linkedin_sandbox, clock.now(), user=owner)


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
