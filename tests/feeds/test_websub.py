"""Our WebSub hub end to end on loopback: a real subscriber subscribes, confirms, is pushed."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from flask import Flask
from sqlalchemy import select

from syndicate import create_app
from syndicate.articles import services as articles
from syndicate.clock import FixedClock
from syndicate.db import get_database
from syndicate.feeds.jobs import deliver_websub
from syndicate.feeds.models import (
    DeliveryState,
    SubscriptionState,
    WebSubDelivery,
    WebSubSubscription,
)
from syndicate.fetch import Fetcher
from tests.conftest import START, app_config

SITE = "https://news.example.test"
TOPIC = f"{SITE}/feeds/rss.xml"
SECRET = "s3cret-shared-with-the-hub"


@dataclass
class Subscriber:
    """A WebSub subscriber: confirms intent (or not) and records what it is sent."""

    url: str = ""
    confirm: bool = True
    post_statuses: list[int] = field(default_factory=list)
    verifications: list[dict[str, str]] = field(default_factory=list)
    deliveries: list[tuple[dict[str, str], list[str], bytes]] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                subscriber.verifications.append(query)
                body = query.get("hub.challenge", "").encode() if subscriber.confirm else b"no"
                self.send_response(200 if subscriber.confirm else 404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                subscriber.deliveries.append(
                    (dict(self.headers), self.headers.get_all("Link") or [], body)
                )
                status = subscriber.post_statuses.pop(0) if subscriber.post_statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    sub = Subscriber()
    server = ThreadingHTTPServer(("127.0.0.1", 0), sub.handler())
    sub.url = f"http://127.0.0.1:{server.server_port}/callback?feed=main"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sub
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def hub_clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def hub_app(fresh_database: str, tmp_path: Path, hub_clock: FixedClock) -> Iterator[Flask]:
    """An app on a committed database, as the web and scheduler processes see it."""
    app = create_app(
        app_config(fresh_database, CLOCK=hub_clock, INSTANCE_PATH=str(tmp_path / "instance"))
    )
    yield app
    get_database(app).engine.dispose()


def _publish(app: Flask, title: str, clock: FixedClock) -> str:
    with get_database(app).transaction() as session:
        article = articles.create_article(
            session,
            articles.ArticleInput(title=title, authors=["Ada"], categories=["World"]),
            now=clock.now(),
        )
        articles.publish_article(session, article, now=clock.now())
        return article.public_id


def _subscribe(app: Flask, subscriber: Subscriber, **extra: str) -> int:
    form = {
        "hub.mode": "subscribe",
        "hub.topic": TOPIC,
        "hub.callback": subscriber.url,
        "hub.secret": SECRET,
        "hub.lease_seconds": "86400",
        **extra,
    }
    return app.test_client().post("/websub", data=form).status_code


def _tick(app: Flask) -> str:
    with app.app_context():
        return deliver_websub(app, poster=Fetcher.from_config(app.config))


def _subscription(app: Flask) -> WebSubSubscription:
    with get_database(app).transaction() as session:
        return session.scalars(select(WebSubSubscription)).one()


def test_subscriber_is_verified_then_receives_a_signed_delivery_after_a_publish(  # noqa: ANN001
    hub_app, subscriber, hub_clock
) -> None:
    _publish(hub_app, "Before subscribing", hub_clock)
    assert _subscribe(hub_app, subscriber) == 202
    assert _subscription(hub_app).state is SubscriptionState.PENDING
    _tick(hub_app)
    [check] = subscriber.verifications
    assert check["hub.mode"] == "subscribe" and check["hub.topic"] == TOPIC
    assert check["hub.lease_seconds"] == "86400" and check["feed"] == "main"
    sub = _subscription(hub_app)
    assert sub.state is SubscriptionState.ACTIVE
    assert sub.lease_expires_at == START + timedelta(days=1)
    assert subscriber.deliveries == []  # nothing changed since it subscribed

    hub_clock.advance(timedelta(minutes=1))
    _publish(hub_app, "Pushed & signed", hub_clock)
    _tick(hub_app)
    [(headers, links, body)] = subscriber.deliveries
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature"], expected)
    assert f'<{SITE}/websub>; rel="hub", <{TOPIC}>; rel="self"' in links
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0 and parsed.entries[0].title == "Pushed & signed"
    # The body is exactly what the topic URL serves.
    assert hub_app.test_client().get("/feeds/rss.xml").data == body

    _tick(hub_app)
    assert len(subscriber.deliveries) == 1, "one change, one delivery"


def test_every_format_and_category_topic_is_delivered(hub_app, subscriber, hub_clock) -> None:  # noqa: ANN001
    _publish(hub_app, "Seed", hub_clock)
    topics = [f"{SITE}/feeds/atom.xml", f"{SITE}/feeds/category/world/feed.json"]
    for topic in topics:
        assert _subscribe(hub_app, subscriber, **{"hub.topic": topic}) == 202
    _tick(hub_app)
    hub_clock.advance(timedelta(minutes=1))
    _publish(hub_app, "Second", hub_clock)
    _tick(hub_app)
    types = sorted(h["Content-Type"] for h, _, _ in subscriber.deliveries)
    assert types == ["application/atom+xml; charset=utf-8", "application/feed+json"]


def test_an_unconfirmed_subscription_never_becomes_active(
    hub_app,
    subscriber,
    hub_clock,  # noqa: ANN001
) -> None:
    subscriber.confirm = False
    _publish(hub_app, "Seed", hub_clock)
    assert _subscribe(hub_app, subscriber) == 202
    _tick(hub_app)
    assert _subscription(hub_app).state is SubscriptionState.REFUSED
    _publish(hub_app, "Unseen", hub_clock)
    _tick(hub_app)
    assert subscriber.deliveries == []


def test_a_410_ends_the_subscription(hub_app, subscriber, hub_clock) -> None:  # noqa: ANN001
    _publish(hub_app, "Seed", hub_clock)
    _subscribe(hub_app, subscriber)
    _tick(hub_app)
    subscriber.post_statuses = [410]
    _publish(hub_app, "Gone soon", hub_clock)
    _tick(hub_app)
    assert _subscription(hub_app).state is SubscriptionState.GONE
    _publish(hub_app, "Never sent", hub_clock)
    _tick(hub_app)
    assert len(subscriber.deliveries) == 1


def test_a_failed_delivery_is_retried_after_a_backoff(hub_app, subscriber, hub_clock) -> None:  # noqa: ANN001
    _publish(hub_app, "Seed", hub_clock)
    _subscribe(hub_app, subscriber)
    _tick(hub_app)
    subscriber.post_statuses = [503]
    _publish(hub_app, "Retry me", hub_clock)
    _tick(hub_app)
    with get_database(hub_app).transaction() as session:
        delivery = session.scalars(select(WebSubDelivery)).one()
        assert (delivery.state, delivery.attempts, delivery.last_status) == (
            DeliveryState.PENDING,
            1,
            503,
        )
        assert delivery.next_attempt_at == hub_clock.now() + timedelta(seconds=60)
    _tick(hub_app)
    assert len(subscriber.deliveries) == 1, "not before the backoff has passed"
    hub_clock.advance(timedelta(seconds=61))
    _tick(hub_app)
    assert len(subscriber.deliveries) == 2
    with get_database(hub_app).transaction() as session:
        assert session.scalars(select(WebSubDelivery)).one().state is DeliveryState.DELIVERED


def test_unsubscribing_and_lease_expiry_stop_deliveries(hub_app, subscriber, hub_clock) -> None:  # noqa: ANN001
    _publish(hub_app, "Seed", hub_clock)
    _subscribe(hub_app, subscriber)
    _tick(hub_app)
    assert (
        hub_app.test_client()
        .post(
            "/websub",
            data={
                "hub.mode": "unsubscribe",
                "hub.topic": TOPIC,
                "hub.callback": subscriber.url,
            },
        )
        .status_code
        == 202
    )
    _tick(hub_app)
    assert subscriber.verifications[-1]["hub.mode"] == "unsubscribe"
    assert _subscription(hub_app).state is SubscriptionState.UNSUBSCRIBED
    _subscribe(hub_app, subscriber, **{"hub.lease_seconds": "3600"})
    _tick(hub_app)
    assert _subscription(hub_app).state is SubscriptionState.ACTIVE
    hub_clock.advance(timedelta(hours=2))
    _publish(hub_app, "After the lease", hub_clock)
    _tick(hub_app)
    assert _subscription(hub_app).state is SubscriptionState.EXPIRED
    assert subscriber.deliveries == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"hub.mode": "subscribe!"}, "hub.mode"),
        ({"hub.topic": "https://elsewhere.test/feeds/rss.xml"}, "hub.topic"),
        ({"hub.topic": f"{SITE}/feeds/category/nope/rss.xml"}, "hub.topic"),
        ({"hub.callback": "ftp://127.0.0.1/cb"}, "hub.callback"),
        ({"hub.callback": "http://127.0.0.1/cb#frag"}, "hub.callback"),
        ({"hub.callback": "http://127.0.0.1/" + "a" * 1100}, "hub.callback"),
        ({"hub.secret": "x" * 200}, "hub.secret"),
        ({"hub.lease_seconds": "forever"}, "hub.lease_seconds"),
        ({"hub.lease_seconds": "3600²"}, "hub.lease_seconds"),
        ({"hub.lease_seconds": "٣٦٠٠"}, "hub.lease_seconds"),
    ],
)
def test_bad_subscription_requests_get_a_400_and_store_nothing(
    client,
    session,
    change,
    reason,  # noqa: ANN001
) -> None:
    form = {
        "hub.mode": "subscribe",
        "hub.topic": f"{SITE}/feeds/rss.xml",
        "hub.callback": "http://127.0.0.1:9/cb",
        **change,
    }
    response = client.post("/websub", data=form)
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert session.scalars(select(WebSubSubscription)).all() == []


def test_a_flood_of_subscription_requests_is_refused_and_stores_nothing(
    client, session, make_article  # noqa: ANN001
) -> None:
    make_article(title="Piece")
    session.commit()

    def ask(n: int) -> int:
        return client.post("/websub", data={
            "hub.mode": "subscribe",
            "hub.topic": f"{SITE}/feeds/rss.xml",
            "hub.callback": f"http://127.0.0.1:9/cb/{n}",
        }).status_code

    answers = [ask(n) for n in range(31)]
    assert answers == [202] * 30 + [429]
    assert len(session.scalars(select(WebSubSubscription)).all()) == 30
    # Reading feeds from the same address is not limited.
    assert {client.get("/feeds/rss.xml").status_code for _ in range(40)} == {200}


def test_the_hub_takes_form_posts_without_a_csrf_token(app, session) -> None:  # noqa: ANN001
    app.config["WTF_CSRF_ENABLED"] = True
    response = app.test_client().post(
        "/websub",
        data={
            "hub.mode": "subscribe",
            "hub.topic": f"{SITE}/feeds/rss.xml",
            "hub.callback": "http://127.0.0.1:9/cb",
        },
    )
    assert response.status_code == 202


def test_with_an_external_hub_every_affected_topic_is_pinged_once(  # noqa: ANN001
    fresh_database, tmp_path, subscriber, hub_clock
) -> None:
    app = create_app(
        app_config(
            fresh_database,
            CLOCK=hub_clock,
            INSTANCE_PATH=str(tmp_path / "instance"),
            WEBSUB_HUB=subscriber.url,
        )
    )
    try:
        assert f'<{subscriber.url}>; rel="hub"' in app.test_client().get(
            "/feeds/rss.xml"
        ).headers.getlist("Link")
        _publish(app, "Ping it", hub_clock)
        _tick(app)
        _tick(app)
        pings = [
            {k: v[0] for k, v in parse_qs(body.decode()).items()}
            for _, _, body in subscriber.deliveries
        ]
        assert all(p["hub.mode"] == "publish" and p["hub.url"] == p["hub.topic"] for p in pings)
        topics = sorted(p["hub.topic"] for p in pings)
        expected = sorted(
            f"{SITE}/feeds/{subject}{name}"
            for subject in ("", "category/world/", "author/ada/")
            for name in ("rss.xml", "atom.xml", "feed.json")
        )
        assert topics == expected
        assert subscriber.verifications == []
    finally:
        get_database(app).engine.dispose()
