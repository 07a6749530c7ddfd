"""The scheduler forgets staff sessions past their end, and keeps the live ones."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syndicate.staff.jobs import purge_expired_sessions
from syndicate.staff.models import StaffSession
from tests.factories import PASSWORD


def _sign_in(app) -> None:  # noqa: ANN001
    browser = app.test_client()
    response = browser.post("/login", data={"email": "ed@example.test", "password": PASSWORD})
    assert response.status_code in (302, 303)


@pytest.mark.parametrize("app_overrides", [{"SESSION_LIFETIME": "1h"}])
def test_sessions_past_their_end_are_purged_and_live_ones_kept(app, make_user, clock, session):
    make_user(email="ed@example.test")
    _sign_in(app)
    clock.advance(timedelta(minutes=30))
    _sign_in(app)  # a second browser, half an hour later
    clock.advance(timedelta(minutes=31))  # the first has ended, the second has not

    with app.app_context():
        assert purge_expired_sessions(app) == "staff: 1 expired session purged"
        assert purge_expired_sessions(app) == ""
    remaining = session.scalar(select(func.count()).select_from(StaffSession))
    assert remaining == 1
