"""The API is rate-limited per token (its hash), not per address, with a JSON 429."""

from __future__ import annotations

from syndicate.staff.services import create_api_token
from tests.api.conftest import Api


def test_each_token_has_its_own_limit_and_429_is_json(app, api, client, session, make_user, clock):
    app.config["API_RATE_LIMIT"] = "3 per minute"
    for _ in range(3):
        assert api.get("/feeds").status_code == 200
    limited = api.get("/feeds")
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"

    # Another token from the same address is counted on its own.
    other = make_user(email="neighbour@example.test")
    _token, raw = create_api_token(session, other, "neighbour", now=clock.now())
    session.commit()
    assert Api(client, raw).get("/feeds").status_code == 200
