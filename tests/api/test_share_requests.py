"""Share requests over the API: list, read with the audit trail, and decide as the dashboard does."""

from __future__ import annotations

import pytest

from tests.sharing.conftest import mails, pending_request


@pytest.fixture
def pending(session, app, make_article, clock):  # noqa: ANN001, ANN201
    article = make_article(title="Worth sharing")
    session.commit()
    return pending_request(session, app, article, clock)


def test_list_and_read_a_request(api, pending):
    listed = api.get("/share-requests?state=pending")
    assert listed.status_code == 200
    [item] = listed.get_json()["items"]
    assert item["public_id"] == pending.public_id
    assert item["article_title"] == "Worth sharing"
    assert item["history"] is None
    assert api.get("/share-requests?state=approved").get_json()["items"] == []

    fetched = api.get(f"/share-requests/{pending.public_id}").get_json()
    assert fetched["state"] == "pending"
    assert [e["to_state"] for e in fetched["history"]][-1] == "pending"


def test_grant_with_conditions_then_a_second_decision_is_409(api, pending, session):
    granted = api.post(
        f"/share-requests/{pending.public_id}/decide",
        {"decision": "grant", "credit_line": "First in Worth", "note": "Enjoy"},
        key="decide-1",
    )
    assert granted.status_code == 200, granted.get_json()
    body = granted.get_json()
    assert body["state"] == "approved"
    assert body["credit_line"] == "First in Worth"
    assert body["permission"]["record_url"].startswith("https://news.example.test/permissions/")
    # The reader is told by email, with the link to their record.
    assert body["permission"]["record_url"] in mails(session, pending.requester_email)[-1].text

    again = api.post(f"/share-requests/{pending.public_id}/decide",
                     {"decision": "deny", "note": "Changed my mind"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "invalid_transition"


def test_deny_needs_a_reason_and_ask_sends_a_question(api, pending):
    refused = api.post(f"/share-requests/{pending.public_id}/decide", {"decision": "deny"})
    assert refused.status_code == 422
    assert refused.get_json()["error"]["details"][0]["field"] == "note"

    asked = api.post(f"/share-requests/{pending.public_id}/decide",
                     {"decision": "ask", "note": "Which newsletter?"})
    assert asked.status_code == 200
    assert asked.get_json()["state"] == "info_requested"

    bad = api.post(f"/share-requests/{pending.public_id}/decide", {"decision": "maybe"})
    assert bad.status_code == 422
    assert api.post("/share-requests/nope/decide", {"decision": "ask", "note": "?"}
                    ).status_code == 404
