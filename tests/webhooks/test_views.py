"""The webhooks dashboard: register with a secret shown once, the URL guard, test event, log."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from syndicate.webhooks import services
from syndicate.webhooks.jobs import deliver_webhooks
from syndicate.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.webhooks.conftest import signature_is_valid

ALL = list(services.EVENT_KINDS)


def _form(url: str, kinds: list[str] | None = None, active: bool = True) -> dict:
    data: dict = {"url": url, "description": "CMS", "event_kinds": kinds or ALL}
    if active:
        data["is_active"] = "y"
    return data


def test_register_shows_the_secret_once_and_stores_it_encrypted(
    client, login, admin, session, receiver, app
):
    login(admin)
    assert "No webhook endpoint yet" in client.get("/dashboard/webhooks").get_data(as_text=True)
    created = client.post("/dashboard/webhooks", data=_form(receiver.url, ["post.published"]))
    assert created.status_code == 201
    secret = re.search(r'<code id="new-secret">(whsec_[^<]+)</code>', created.get_data(as_text=True))
    assert secret is not None
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.event_kinds == ["post.published"]
    assert secret.group(1) not in endpoint.secret_encrypted
    assert app.extensions["token_vault"].decrypt(endpoint.secret_encrypted) == secret.group(1)
    listing = client.get("/dashboard/webhooks").get_data(as_text=True)
    assert secret.group(1) not in listing
    assert secret.group(1) not in client.get(f"/dashboard/webhooks/{endpoint.id}").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("https://user:pw@example.com/hook", "user names and passwords"),
        ("https://no-such-host.invalid/hook", "could not be resolved"),
        ("http://[::1", "malformed"),
        ("http://169.254.169.254/latest/meta-data", "not a public address"),
    ],
)
def test_urls_the_guard_refuses_are_422(client, login, admin, session, url, message):
    login(admin)
    response = client.post("/dashboard/webhooks", data=_form(url))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert session.scalars(select(WebhookEndpoint)).all() == []


def test_private_addresses_are_refused_unless_allowed(client, login, admin, app):
    app.config["FETCH_ALLOW_PRIVATE"] = False
    login(admin)
    refused = client.post("/dashboard/webhooks", data=_form("http://127.0.0.1:9/hook"))
    assert refused.status_code == 422
    assert "not a public address" in refused.get_data(as_text=True)
    with pytest.raises(services.WebhookError):
        services.check_endpoint_url("http://10.0.0.8/", allow_private=False)
    assert services.check_endpoint_url("http://10.0.0.8/", allow_private=True)
    public = services.check_endpoint_url(
        "https://hooks.example.com/x", allow_private=False, resolver=lambda h, p: ["93.184.215.14"]
    )
    assert public == "https://hooks.example.com/x"


def test_unknown_event_kinds_and_no_kinds_are_refused(client, login, admin):
    login(admin)
    assert client.post("/dashboard/webhooks", data=_form("http://93.184.215.14/", ["x.y"])
                       ).status_code == 422
    empty = client.post("/dashboard/webhooks",
                        data={"url": "http://93.184.215.14/", "is_active": "y"})
    assert empty.status_code == 422
    assert "Choose at least one event" in empty.get_data(as_text=True)


def test_editors_and_anonymous_visitors_cannot_manage_webhooks(client, login, make_user):
    assert client.get("/dashboard/webhooks").status_code == 302
    login(make_user(email="editor@example.test"))
    assert client.get("/dashboard/webhooks").status_code == 403
    assert client.post("/dashboard/webhooks", data=_form("http://93.184.215.14/")).status_code == 403


def test_the_test_event_button_sends_a_signed_test_event(
    app, client, login, admin, receiver, make_endpoint, session
):
    endpoint, secret = make_endpoint(receiver.url, ["post.failed"])
    login(admin)
    pressed = client.post(f"/dashboard/webhooks/{endpoint.id}/test")
    assert pressed.status_code == 303
    deliver_webhooks(app)
    [got] = receiver.received
    assert got.headers["Syndicate-Event"] == "webhook.test"
    assert got.json["data"]["sent_by"] == "admin@example.test"
    assert signature_is_valid(secret, got.headers["Syndicate-Signature"], got.body)
    page = client.get(f"/dashboard/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "webhook.test" in page and ">delivered<" in page


def test_edit_deactivate_and_delete_an_endpoint(app, client, login, admin, receiver,
                                                make_endpoint, session):
    endpoint, _secret = make_endpoint(receiver.url, ["post.failed"])
    login(admin)
    saved = client.post(f"/dashboard/webhooks/{endpoint.id}",
                        data=_form(receiver.url + "/v2", ["article.published"], active=False))
    assert saved.status_code == 303
    session.expire_all()
    endpoint = session.get(WebhookEndpoint, endpoint.id)
    assert endpoint.url.endswith("/hooks/v2")
    assert endpoint.is_active is False
    assert endpoint.event_kinds == ["article.published"]

    # An inactive endpoint is not sent a test event.
    client.post(f"/dashboard/webhooks/{endpoint.id}/test")
    assert session.scalars(select(WebhookDelivery)).all() == []

    bad = client.post(f"/dashboard/webhooks/{endpoint.id}", data=_form("gopher://x/"))
    assert bad.status_code == 422

    endpoint_id = endpoint.id
    assert client.post(f"/dashboard/webhooks/{endpoint_id}/delete").status_code == 303
    session.expire_all()
    assert session.get(WebhookEndpoint, endpoint_id) is None
    assert client.get(f"/dashboard/webhooks/{endpoint_id}").status_code == 404


def test_the_delivery_log_paginates(app, client, login, admin, receiver, make_endpoint, session,
                                    clock):
    endpoint, _secret = make_endpoint(receiver.url, ["post.failed"])
    for _ in range(app.config["PAGE_SIZE"] + 3):
        services.queue_test_event(session, endpoint, user=admin, now=clock.now())
    session.commit()
    login(admin)
    first = client.get(f"/dashboard/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert first.count("webhook.test") == app.config["PAGE_SIZE"]
    second = client.get(f"/dashboard/webhooks/{endpoint.id}?page=2").get_data(as_text=True)
    assert second.count("webhook.test") == 3
    assert "not tried yet" in second
    assert client.get(f"/dashboard/webhooks/{endpoint.id}?page=x").status_code == 400
