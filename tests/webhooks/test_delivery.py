"""Deliveries over real HTTP to a receiver on 127.0.0.1: signed, once per event, retried, 410."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from syndicate import events
from syndicate.models import OutboxMessage, OutboxState
from syndicate.webhooks import services
from syndicate.webhooks.jobs import deliver_webhooks, enqueue_webhook_deliveries
from syndicate.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.webhooks.conftest import signature_is_valid


def _run(app) -> None:  # noqa: ANN001
    enqueue_webhook_deliveries(app)
    deliver_webhooks(app)


def _delivery(session) -> WebhookDelivery:  # noqa: ANN001
    session.expire_all()
    return session.scalars(select(WebhookDelivery)).one()


def test_an_event_reaches_each_subscribed_endpoint_once_signed(
    app, session, receiver, make_endpoint, make_article
):
    endpoint, secret = make_endpoint(receiver.url, ["article.published"])
    receiver.secret = secret
    make_endpoint(receiver.url.replace("/hooks", "/other"), ["post.published"])
    make_endpoint(receiver.url.replace("/hooks", "/off"), ["article.published"], is_active=False)
    article = make_article(title="Signed and sent")
    session.commit()

    assert enqueue_webhook_deliveries(app) == "webhooks: 1 deliveries queued"
    deliver_webhooks(app)
    _run(app)  # nothing new: the events consumer and the outbox each act once

    assert len(receiver.received) == 1
    [got] = receiver.received
    assert got.signed_ok is True
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["Syndicate-Event"] == "article.published"
    assert signature_is_valid(secret, got.headers["Syndicate-Signature"], got.body)
    assert not signature_is_valid("whsec_wrong", got.headers["Syndicate-Signature"], got.body)
    assert got.json["type"] == "article.published"
    assert got.json["subject"] == article.public_id
    assert got.json["data"]["title"] == "Signed and sent"
    assert got.json["id"] == got.headers["Syndicate-Delivery"]
    assert got.headers["Syndicate-Signature"].startswith(
        f"t={int(app.extensions['clock'].now().timestamp())},v1="
    )
    delivery = _delivery(session)
    assert delivery.endpoint_id == endpoint.id
    assert delivery.state == "delivered"
    assert delivery.attempt_log[0].status_code == 200
    assert delivery.attempt_log[0].response_snippet == '{"ok": true}'


def test_syndicate_verifies_its_own_signatures_with_a_time_window():
    body = b'{"a":1}'
    header = services.signature("whsec_x", 1_000, body)
    assert services.verify_signature("whsec_x", header, body, now=1_100)
    assert not services.verify_signature("whsec_x", header, body + b" ", now=1_100)
    assert not services.verify_signature("whsec_x", header, body, now=2_000)
    assert not services.verify_signature("whsec_x", "garbage", body, now=1_000)


def test_an_endpoint_made_after_an_event_does_not_get_it(app, session, receiver, make_endpoint,
                                                         make_article, clock):
    make_article()
    session.commit()
    clock.advance(timedelta(seconds=1))
    make_endpoint(receiver.url, ["article.published"])
    _run(app)
    assert receiver.received == []


def test_a_500_is_retried_later_and_then_delivered(app, session, receiver, make_endpoint,
                                                   make_article, clock, client, login, admin):
    endpoint, secret = make_endpoint(receiver.url, ["article.published"])
    receiver.secret = secret
    receiver.statuses = [500]
    make_article()
    session.commit()

    _run(app)
    assert len(receiver.received) == 1
    assert _delivery(session).state == "failed"
    deliver_webhooks(app)  # not due yet: the outbox waits out its backoff
    assert len(receiver.received) == 1

    clock.advance(timedelta(minutes=2))
    deliver_webhooks(app)
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first.headers["Syndicate-Delivery"] == second.headers["Syndicate-Delivery"]
    assert first.body == second.body
    assert first.signed_ok and second.signed_ok
    assert signature_is_valid(secret, second.headers["Syndicate-Signature"], second.body)
    delivery = _delivery(session)
    assert delivery.state == "delivered"
    assert [(a.number, a.status_code) for a in delivery.attempt_log] == [(1, 500), (2, 200)]
    assert "HTTP 500" in delivery.attempt_log[0].error

    login(admin)
    page = client.get(f"/dashboard/webhooks/{endpoint.id}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "delivered" in text and "500" in text and " Europe/Berlin" in text


def test_a_410_deactivates_the_endpoint(app, session, receiver, make_endpoint, make_article):
    endpoint, _secret = make_endpoint(receiver.url, ["article.published"])
    receiver.statuses = [410]
    make_article()
    session.commit()
    _run(app)

    session.expire_all()
    assert session.get(WebhookEndpoint, endpoint.id).is_active is False
    assert "410" in session.get(WebhookEndpoint, endpoint.id).deactivated_reason
    assert _delivery(session).state == "gone"
    assert session.scalars(select(OutboxMessage.state)).one() is OutboxState.DEAD

    make_article()
    session.commit()
    _run(app)
    assert len(receiver.received) == 1
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


@pytest.fixture
def app_overrides() -> dict[str, object]:
    return {"FETCH_TIMEOUT": 0.5}


def test_a_timeout_is_retried(app, session, receiver, make_endpoint, make_article, clock):
    make_endpoint(receiver.url, ["article.published"])
    receiver.delays = [1.5]
    make_article()
    session.commit()
    _run(app)
    attempt = session.scalars(select(WebhookAttempt)).one()
    assert attempt.status_code is None
    assert "did not answer" in attempt.error
    clock.advance(timedelta(minutes=2))
    deliver_webhooks(app)
    assert _delivery(session).state == "delivered"


def test_after_the_last_attempt_the_delivery_is_dead_and_shown(
    app, session, receiver, make_endpoint, make_article, clock, client, login, admin
):
    endpoint, _secret = make_endpoint(receiver.url, ["article.published"])
    receiver.statuses = [503] * services.MAX_ATTEMPTS
    make_article()
    session.commit()
    enqueue_webhook_deliveries(app)
    for _ in range(services.MAX_ATTEMPTS + 2):
        deliver_webhooks(app)
        clock.advance(timedelta(hours=2))
    assert len(receiver.received) == services.MAX_ATTEMPTS
    assert _delivery(session).state == "dead"
    assert session.scalars(select(OutboxMessage.state)).one() is OutboxState.DEAD

    login(admin)
    text = client.get(f"/dashboard/webhooks/{endpoint.id}").get_data(as_text=True)
    assert ">dead<" in text
    assert text.count("503") >= services.MAX_ATTEMPTS


def test_share_request_and_post_events_are_handed_on(app, session, receiver, make_endpoint, clock):
    make_endpoint(receiver.url, ["share_request.created", "share_request.decided", "post.failed"])
    for kind in ("share_request.created", "share_request.decided", "post.failed", "post.published"):
        events.emit(session, kind, "subject-1", {"kind": kind}, now=clock.now())
    session.commit()
    _run(app)
    assert sorted(r.headers["Syndicate-Event"] for r in receiver.received) == [
        "post.failed", "share_request.created", "share_request.decided",
    ]
    assert all(json.loads(r.body)["data"]["kind"] == r.headers["Syndicate-Event"]
               for r in receiver.received)


def test_a_deleted_endpoint_s_queued_delivery_is_dropped(app, session, receiver, make_endpoint,
                                                         make_article):
    endpoint, _secret = make_endpoint(receiver.url, ["article.published"])
    make_article()
    session.commit()
    enqueue_webhook_deliveries(app)
    services.delete_endpoint(session, session.get(WebhookEndpoint, endpoint.id))
    session.commit()
    deliver_webhooks(app)
    assert receiver.received == []
    assert session.scalars(select(OutboxMessage.outcome)).one().startswith("skipped")


def test_a_receiver_with_another_secret_refuses_and_the_delivery_is_retried(
    app, session, receiver, make_endpoint, make_article
):
    make_endpoint(receiver.url, ["article.published"])
    receiver.secret = "whsec_not-the-one-we-were-given"
    make_article()
    session.commit()
    _run(app)
    assert [r.signed_ok for r in receiver.received] == [False]
    delivery = _delivery(session)
    assert delivery.state == "failed"
    assert delivery.attempt_log[0].status_code == 401
