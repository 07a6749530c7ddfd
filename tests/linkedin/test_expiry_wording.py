"""How the warning that a LinkedIn connection is about to expire words the time left."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from syndicate.linkedin import services
from syndicate.linkedin.models import LinkedInConnection
from syndicate.web.models import Alert
from tests.sharing.conftest import mails


@pytest.fixture
def staff(staff_user):  # noqa: ANN001, ANN201
    return staff_user(email="owner@example.org")


def test_six_days_less_a_few_seconds_left_is_worded_six_days(staff, oauth_browser, session, clock):
    oauth_browser.connect()
    connection = session.scalar(select(LinkedInConnection))
    clock.set(connection.expires_at - timedelta(days=6) + timedelta(seconds=40))

    assert services.warn_expiring(session, now=clock.now()) == 1
    [mail] = mails(session, "owner@example.org")
    assert mail.subject == "LinkedIn connection expires in 6 days"
    assert "Sam Sandbox expires in 6 days. Reconnect it" in mail.text
    alert = session.scalar(select(Alert).where(Alert.resolved_at.is_(None)))
    assert "expires in 6 days." in alert.message


def test_less_than_a_day_left_is_worded_in_hours(staff, oauth_browser, session, clock):
    oauth_browser.connect()
    connection = session.scalar(select(LinkedInConnection))
    clock.set(connection.expires_at - timedelta(hours=20, minutes=10))

    assert services.warn_expiring(session, now=clock.now()) == 1
    [mail] = mails(session, "owner@example.org")
    assert mail.subject == "LinkedIn connection expires in 20 hours"
