"""Connecting LinkedIn accounts through the sandbox over real HTTP, and their lifecycle."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from syndicate.db import Database, make_engine
from syndicate.linkedin import jobs as linkedin_jobs
from syndicate.linkedin import services
from syndicate.linkedin.models import ConnectionState, LinkedInConnection, LinkedInTarget
from syndicate.web.models import Alert


@pytest.fixture
def staff(staff_user):
    return staff_user(time_zone="Europe/Berlin")


def _connections(session):
    return session.scalar(select(func.count()).select_from(LinkedInConnection))


def test_full_authorization_code_flow_stores_member_and_pages(staff, oauth_browser, session, clock):
    response = oauth_browser.connect()
    assert response.status_code == 302, response.get_data(as_text=True)
    connection = session.scalar(select(LinkedInConnection))
    assert connection.member_urn == "urn:li:person:sandbox-member-1"
    assert connection.state is ConnectionState.ACTIVE
    assert connection.connected_by_id == staff.id
    assert {"openid", "w_member_social", "w_organization_social"} <= connection.scope_set
    assert connection.expires_at - clock.now() == timedelta(days=60)
    targets = {t.urn: t for t in connection.targets}
    assert set(targets) == {
        "urn:li:person:sandbox-member-1",
        "urn:li:organization:1001",
        "urn:li:organization:1002",
    }  # 1003: an analyst may not post
    assert targets["urn:li:organization:1002"].role == "CONTENT_ADMINISTRATOR"
    assert targets["urn:li:person:sandbox-member-1"].time_zone == "Europe/Berlin"


def test_tokens_are_never_stored_in_plain_text(staff, oauth_browser, session, linkedin_sandbox):
    oauth_browser.connect()
    issued = [t.value for t in linkedin_sandbox.state.tokens.values()]
    assert issued
    dump = " ".join(
        str(row) for row in session.execute(text("SELECT * FROM linkedin_connections")).all()
    )
    for token in issued:
        assert token not in dump
        assert token[:40] not in dump


def test_member_only_connection_asks_for_no_page_scopes(staff, oauth_browser, session):
    oauth_browser.connect(pages=False)
    connection = session.scalar(select(LinkedInConnection))
    assert "w_organization_social" not in connection.scope_set
    assert [t.urn for t in connection.targets] == [connection.member_urn]


def test_reconnecting_keeps_the_same_connection_and_targets(staff, oauth_browser, session):
    oauth_browser.connect()
    first = session.scalar(select(LinkedInConnection))
    target_ids = sorted(t.id for t in first.targets)
    first.state = ConnectionState.RECONNECT_NEEDED
    session.commit()
    oauth_browser.connect()
    session.expire_all()
    again = session.scalar(select(LinkedInConnection))
    assert again.id == first.id and again.state is ConnectionState.ACTIVE
    assert sorted(t.id for t in again.targets) == target_ids
    assert _connections(session) == 1


def test_replayed_callback_is_refused_and_stores_nothing_more(staff, oauth_browser, session):
    callback = oauth_browser.at_linkedin(oauth_browser.start())
    assert oauth_browser.back_at_app(callback).status_code == 302
    replay = oauth_browser.back_at_app(callback)
    assert replay.status_code == 400
    assert "Start again" in replay.get_data(as_text=True)
    assert _connections(session) == 1


@pytest.mark.parametrize(
    "mangle",
    [
        lambda url: url.replace("state=", "state=forged"),
        lambda url: (
            "&".join(p for p in url.split("&") if not p.startswith("state=") and "?state=" not in p)
            + "&x=1"
        ),
    ],
)
def test_wrong_or_missing_state_is_refused_and_stores_nothing(
    staff, oauth_browser, session, mangle
):
    callback = oauth_browser.at_linkedin(oauth_browser.start())
    response = oauth_browser.back_at_app(mangle(callback))
    assert response.status_code == 400
    assert _connections(session) == 0


def test_state_from_another_browser_session_is_refused(
    app, staff, oauth_browser, session, make_user, clock
):
    callback = oauth_browser.at_linkedin(oauth_browser.start())
    other = app.test_client()
    intruder = make_user()
    from tests import factories
    from tests.linkedin.conftest import Browser

    factories.sign_in(other, session, intruder, now=clock.now())

    assert Browser(other).back_at_app(callback).status_code == 400
    assert _connections(session) == 0


def test_cancel_at_linkedin_comes_back_as_a_clear_message(
    staff, oauth_browser, session, linkedin_sandbox, client
):
    linkedin_sandbox.state.set_switches(cancel_authorize="user_cancelled_authorize")
    response = oauth_browser.connect()
    assert response.status_code == 302
    page = client.get("/dashboard/connections/").get_data(as_text=True)
    assert "You cancelled at LinkedIn; nothing was connected." in page
    assert _connections(session) == 0


def test_connect_requires_sign_in_and_csrf(app, client, linkedin_sandbox):
    assert client.post("/dashboard/connections/connect").status_code == 302
    assert client.get("/dashboard/connections/callback?code=x&state=y").status_code == 302


def test_disconnect_revokes_at_linkedin_and_deletes_tokens(
    staff, oauth_browser, session, client, linkedin_sandbox
):
    oauth_browser.connect()
    connection = session.scalar(select(LinkedInConnection))
    response = client.post(f"/dashboard/connections/{connection.id}/disconnect")
    assert response.status_code == 303
    session.expire_all()
    connection = session.scalar(select(LinkedInConnection))
    assert connection.state is ConnectionState.REVOKED
    assert connection.access_token_encrypted is None
    assert not any(t.is_active for t in connection.targets)
    assert all(t.revoked for t in linkedin_sandbox.state.tokens.values())


def test_undecryptable_token_marks_reconnect_needed_instead_of_crashing(
    app, staff, oauth_browser, session, clock
):
    oauth_browser.connect()
    connection = session.scalar(select(LinkedInConnection))
    connection.access_token_encrypted = "gAAAAA" + "x" * 80
    with pytest.raises(services.ReconnectNeeded):
        services.access_token(
            session, connection, vault=app.extensions["token_vault"], now=clock.now()
        )
    assert connection.state is ConnectionState.RECONNECT_NEEDED
    alert = session.scalar(select(Alert))
    assert alert.user_id == staff.id and "cannot be decrypted" in alert.message


def test_a_401_marks_the_connection_and_tells_its_owner(
    app, staff, oauth_browser, session, clock, linkedin_sandbox
):
    from syndicate.linkedin import client as li

    oauth_browser.connect()
    connection = session.scalar(select(LinkedInConnection))
    linkedin_sandbox.state.revoke_tokens()
    token = services.access_token(
        session, connection, vault=app.extensions["token_vault"], now=clock.now()
    )
    with pytest.raises(li.TokenRevoked) as caught:
        app.extensions["linkedin_client"].userinfo(token)
    services.handle_auth_failure(session, connection, caught.value, now=clock.now())
    assert connection.state is ConnectionState.RECONNECT_NEEDED
    assert "revoked" in connection.state_reason


def test_rotation_reencrypts_with_the_newest_key(app, staff, oauth_browser, session, runner):
    from cryptography.fernet import Fernet

    from syndicate.crypto import TokenVault

    oauth_browser.connect()
    old_keys = app.config["TOKEN_KEYS"]
    new_key = Fernet.generate_key().decode()
    app.config["TOKEN_KEYS"] = [new_key, *old_keys]
    app.extensions["token_vault"] = TokenVault(app.config["TOKEN_KEYS"])
    result = runner.invoke(args=["tokens", "rotate"])
    assert result.exit_code == 0 and "Re-encrypted 1 token" in result.output
    session.expire_all()
    connection = session.scalar(select(LinkedInConnection))
    assert TokenVault([new_key]).decrypt(connection.access_token_encrypted).startswith("AQ")


def test_expiry_warnings_go_out_at_14_7_and_1_days_once_each(
    app, staff, oauth_browser, session, clock
):
    oauth_browser.connect()
    connection = session.scalar(select(LinkedInConnection))
    sent = []
    for days_before in (20, 14, 13, 7, 7, 1, 0.5):
        clock.set(connection.expires_at - timedelta(days=days_before))
        sent.append(services.warn_expiring(session, now=clock.now()))
    assert sent == [0, 1, 0, 1, 0, 1, 0]
    alert = session.scalar(select(Alert).where(Alert.resolved_at.is_(None)))
    assert "expires in 24 hours" in alert.message and alert.user_id == staff.id


def test_two_workers_refreshing_one_token_call_linkedin_once(
    fresh_database, linkedin_sandbox, clock, tmp_path
):
    from syndicate import create_app
    from tests.conftest import app_config

    linkedin_sandbox.state.set_switches(partner=True)
    base = linkedin_sandbox.base_url
    app = create_app(
        app_config(
            fresh_database,
            INSTANCE_PATH=str(tmp_path / "i"),
            CLOCK=clock,
            LINKEDIN_AUTH_BASE=base,
            LINKEDIN_API_BASE=base,
            LINKEDIN_CLIENT_ID="syndicate-test",
            LINKEDIN_CLIENT_SECRET="syndicate-test-secret",
        )
    )
    client = app.test_client()
    from tests import factories

    with app.extensions["database"].transaction() as s:
        user = factories.make_user(s, now=clock.now())
        factories.sign_in(client, s, user, now=clock.now())
    from tests.linkedin.conftest import Browser

    Browser(client).connect()
    with app.extensions["database"].transaction() as s:
        connection_id = s.scalar(select(LinkedInConnection.id))
    clock.advance(timedelta(days=55))  # inside the refresh margin
    linkedin_sandbox.state.inject("/oauth/v2/accessToken", "delay", seconds=0.5)
    before = linkedin_sandbox.state.token_calls["refresh_token"]
    results = []

    def worker():
        database = Database(make_engine(fresh_database))
        try:
            results.append(
                linkedin_jobs.refresh_if_due(
                    database,
                    connection_id,
                    client=app.extensions["linkedin_client"],
                    vault=app.extensions["token_vault"],
                    now=clock.now(),
                )
            )
        finally:
            database.engine.dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    assert linkedin_sandbox.state.token_calls["refresh_token"] - before == 1
    app.extensions["database"].engine.dispose()


def test_connections_page_shows_state_expiry_with_zone_and_targets(staff, oauth_browser, client):
    oauth_browser.connect()
    page = client.get("/dashboard/connections/").get_data(as_text=True)
    assert "Sam Sandbox" in page and "Europe/Berlin" in page and "60 days left" in page
    assert "Sandbox Magazine" in page and "Disconnect" in page


def test_connections_page_rounds_the_time_left_to_the_nearest_day(
    staff, oauth_browser, client, clock
):
    oauth_browser.connect()
    clock.advance(timedelta(hours=3))  # 59 days and 21 hours left: nearer 60 than 59
    page = client.get("/dashboard/connections/").get_data(as_text=True)
    assert "60 days left" in page
    clock.advance(timedelta(days=59, hours=20))  # an hour left
    page = client.get("/dashboard/connections/").get_data(as_text=True)
    assert "60 minutes left" in page


def test_pages_whose_role_was_lost_become_inactive_on_reconnect(
    staff, oauth_browser, session, linkedin_sandbox
):
    import dataclasses

    oauth_browser.connect()
    state = linkedin_sandbox.state
    with state.lock:
        state.organizations[1001] = dataclasses.replace(state.organizations[1001], roles={})
    oauth_browser.connect()
    session.expire_all()
    active = set(session.scalars(select(LinkedInTarget.urn).where(LinkedInTarget.is_active)))
    assert active == {"urn:li:person:sandbox-member-1", "urn:li:organization:1002"}
