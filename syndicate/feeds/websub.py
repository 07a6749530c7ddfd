"""Our own WebSub hub: subscription requests, intent verification, leases, signed deliveries.

Requests are stored and answered 202 at once; the scheduler verifies intent (a GET with
``hub.challenge``), queues one delivery per subscriber whenever a topic's bytes change
(driven by the article events), and sends them with retries and backoff. Every outgoing
request goes through the URL guard (``syndicate.fetch.Fetcher``). These functions take a
Session; the scheduler's jobs in ``feeds/jobs.py`` own the transactions around them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from syndicate import claims, events
from syndicate.claims import Leases
from syndicate.db import changed_rows
from syndicate.errors import DomainError
from syndicate.feeds.archives import feed_exists
from syndicate.feeds.context import (
    BY_FILENAME,
    CONTENT_TYPES,
    FORMATS,
    FeedKey,
    FeedNotFound,
    FeedSettings,
    feed_path,
)
from syndicate.feeds.models import (
    DeliveryState,
    SubscriptionState,
    WebSubDelivery,
    WebSubSubscription,
)
from syndicate.feeds.rendering import render_feed
from syndicate.fetch import FetchedResponse, FetchError, HttpStatusError
from syndicate.web.params import digits

DEFAULT_LEASE_SECONDS = 10 * 24 * 3600
MIN_LEASE_SECONDS = 3600
MAX_LEASE_SECONDS = 30 * 24 * 3600
MAX_SECRET_BYTES = 199  # the spec: "MUST be less than 200 bytes"
MAX_URL = 1000  # topic and callback share one unique index (PostgreSQL caps its rows)
MAX_ATTEMPTS = 8
# Seconds to wait after the n-th failed attempt.
BACKOFF_SECONDS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 12 * 3600)
SEND_LEASE = timedelta(minutes=5)
CONSUMER = "feeds.websub"
_TOPIC_PATH = re.compile(
    r"/feeds/(?:(?P<kind>category|tag|author)/(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)/)?"
    r"(?P<file>rss\.xml|atom\.xml|feed\.json)"
)


class WebSubError(DomainError):
    """A subscription request we refuse; the message says why and is fit to show."""

    status = 400  # the hub's answer to a subscriber (W3C WebSub 5.1.3: a 4xx with the reason)


class Poster(Protocol):
    """What the hub needs from the URL guard: a checked GET and a checked POST."""

    def get(self, url: str, *, headers: dict[str, str] | None = None) -> FetchedResponse: ...

    def post(
        self, url: str, *, data: bytes, headers: dict[str, str] | None = None
    ) -> FetchedResponse: ...


def topic_key(topic: str, settings: FeedSettings) -> FeedKey | None:
    """The current feed a topic URL names, or None if it is not one of ours."""
    if not topic.startswith(settings.site_url + "/"):
        return None
    path = topic[len(settings.site_url) :]
    match = _TOPIC_PATH.fullmatch(path)
    if match is None:
        return None
    kind = match["kind"] or "site"
    return FeedKey(kind, match["slug"], BY_FILENAME[match["file"]])


def _check_callback(callback: str) -> str:
    parts = urlsplit(callback)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.hostname
        or parts.fragment
        or len(callback) > MAX_URL
        or "@" in parts.netloc
    ):
        raise WebSubError(
            "hub.callback must be an absolute http(s) URL without a fragment "
            f"or credentials, of at most {MAX_URL} characters."
        )
    return callback


def _lease(raw: str | None) -> int:
    if raw is None or raw.strip() == "":
        return DEFAULT_LEASE_SECONDS
    seconds = digits(raw.strip())
    if seconds is None:
        raise WebSubError("hub.lease_seconds must be a whole number of seconds.")
    return min(max(seconds, MIN_LEASE_SECONDS), MAX_LEASE_SECONDS)


@dataclass(frozen=True)
class SubscriptionRequest:
    mode: str
    topic: str
    callback: str
    lease_seconds: int
    secret: str | None


def parse_request(
    form: Mapping[str, str], session: Session, settings: FeedSettings
) -> SubscriptionRequest:
    """Check a hub request's fields; raise WebSubError with the reason for a 400."""
    mode = (form.get("hub.mode") or "").strip()
    if mode == "publish":
        raise WebSubError("This hub learns of changes by itself; publish requests are not needed.")
    if mode not in {"subscribe", "unsubscribe"}:
        raise WebSubError("hub.mode must be subscribe or unsubscribe.")
    callback = _check_callback((form.get("hub.callback") or "").strip())
    topic = (form.get("hub.topic") or "").strip()
    key = topic_key(topic, settings)
    if key is None:
        raise WebSubError(
            "hub.topic must be the URL of one of this site's feeds "
            f"(for example {settings.site_url}/feeds/rss.xml)."
        )
    if not feed_exists(session, key):
        raise WebSubError("hub.topic names no feed: its category, tag or author does not exist.")
    secret = form.get("hub.secret")
    if secret is not None and len(secret.encode()) > MAX_SECRET_BYTES:
        raise WebSubError("hub.secret must be less than 200 bytes.")
    return SubscriptionRequest(
        mode, topic, callback, _lease(form.get("hub.lease_seconds")), secret or None
    )


def request_subscription(
    session: Session, form: Mapping[str, str], settings: FeedSettings, *, now: datetime
) -> WebSubSubscription | None:
    """Record a (un)subscription request for verification; None for an unknown unsubscribe."""
    wanted = parse_request(form, session, settings)
    found = session.scalar(
        select(WebSubSubscription).where(
            WebSubSubscription.topic == wanted.topic, WebSubSubscription.callback == wanted.callback
        )
    )
    if found is None:
        if wanted.mode == "unsubscribe":
            return None
        found = WebSubSubscription(
            topic=wanted.topic,
            callback=wanted.callback,
            state=SubscriptionState.PENDING,
            lease_seconds=wanted.lease_seconds,
            created_at=now,
            updated_at=now,
        )
        session.add(found)
    found.pending_mode = wanted.mode
    found.pending_secret = wanted.secret
    found.pending_lease_seconds = wanted.lease_seconds
    found.pending_since = now
    found.updated_at = now
    session.flush()
    return found


# ---------------------------------------------------------------------------------------------
# Scheduler side: verification, deliveries and pings


def waiting_requests(session: Session, *, limit: int) -> list[tuple[int, datetime]]:
    """Subscriptions with a request to verify, the longest waiting first: (id, asked at)."""
    rows = session.execute(
        select(WebSubSubscription.id, WebSubSubscription.pending_since)
        .where(WebSubSubscription.pending_mode.is_not(None))
        .order_by(WebSubSubscription.pending_since)
        .limit(limit)
    ).all()
    # pending_since is set and cleared with pending_mode
    return [(sub_id, since) for sub_id, since in rows if since is not None]


@dataclass(frozen=True)
class PendingRequest:
    """What the hub asks the subscriber to confirm."""

    mode: str
    topic: str
    callback: str
    lease_seconds: int


def pending_request(session: Session, sub_id: int, since: datetime) -> PendingRequest | None:
    """The request asked at ``since``, unless it was settled or replaced meanwhile."""
    sub = session.get(WebSubSubscription, sub_id)
    if sub is None or sub.pending_since != since or sub.pending_mode is None:
        return None
    return PendingRequest(
        sub.pending_mode,
        sub.topic,
        sub.callback,
        sub.pending_lease_seconds or DEFAULT_LEASE_SECONDS,
    )


def settle_request(
    session: Session,
    sub_id: int,
    since: datetime,
    confirmed: bool,
    error: str | None,
    settings: FeedSettings,
    *,
    now: datetime,
) -> bool:
    """Record the outcome of the challenge; False if a newer request arrived meanwhile."""
    sub = session.get(WebSubSubscription, sub_id)
    # A newer request arrived while we asked: it gets its own verification.
    if sub is None or sub.pending_since != since:
        return False
    _settle(session, sub, confirmed, error, settings, now=now)
    return True


def challenge_callback(poster: Poster, request: PendingRequest) -> tuple[bool, str | None]:
    """Ask the subscriber to echo a challenge: (confirmed, why not)."""
    challenge = secrets.token_urlsafe(32)
    query = {"hub.mode": request.mode, "hub.topic": request.topic, "hub.challenge": challenge}
    if request.mode == "subscribe":
        query["hub.lease_seconds"] = str(request.lease_seconds)
    callback = request.callback
    url = callback + ("&" if "?" in callback else "?") + urlencode(query)
    try:
        response = poster.get(url)
    except HttpStatusError as exc:
        return False, f"the callback answered HTTP {exc.status}"
    except FetchError as exc:
        return False, str(exc)
    if response.body.strip() != challenge.encode():
        return False, "the callback did not echo hub.challenge"
    return True, None


def _settle(
    session: Session,
    sub: WebSubSubscription,
    confirmed: bool,
    error: str | None,
    settings: FeedSettings,
    *,
    now: datetime,
) -> None:
    mode = sub.pending_mode
    if confirmed and mode == "subscribe":
        renewal = sub.state is SubscriptionState.ACTIVE
        sub.state = SubscriptionState.ACTIVE
        sub.secret = sub.pending_secret
        sub.lease_seconds = sub.pending_lease_seconds or DEFAULT_LEASE_SECONDS
        sub.lease_expires_at = now + timedelta(seconds=sub.lease_seconds)
        sub.verified_at = now
        sub.last_error = None
        # Deliveries start with the next change, not with what the subscriber just saw.
        key = topic_key(sub.topic, settings)
        if key is not None and not renewal:
            try:
                sub.last_etag = render_feed(session, key, settings).etag
            except FeedNotFound:
                sub.last_etag = None
    elif confirmed and mode == "unsubscribe":
        sub.state = SubscriptionState.UNSUBSCRIBED
        _drop_pending(session, sub)
    elif sub.state is SubscriptionState.PENDING:
        sub.state = SubscriptionState.REFUSED
    if error:
        sub.last_error = f"verification of {mode} failed: {error}"
    sub.pending_mode = None
    sub.pending_secret = None
    sub.pending_lease_seconds = None
    sub.pending_since = None
    sub.updated_at = now


def _drop_pending(session: Session, sub: WebSubSubscription) -> None:
    session.execute(
        update(WebSubDelivery)
        .where(
            WebSubDelivery.subscription_id == sub.id,
            WebSubDelivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        )
        .values(state=DeliveryState.DROPPED)
    )


def queue_deliveries(session: Session, settings: FeedSettings, *, now: datetime) -> int:
    """Queue one delivery for each live subscriber whose topic's bytes changed; expire leases."""
    for sub in session.scalars(
        select(WebSubSubscription).where(
            WebSubSubscription.state == SubscriptionState.ACTIVE,
            WebSubSubscription.lease_expires_at <= now,
        )
    ):
        sub.state = SubscriptionState.EXPIRED
        sub.updated_at = now
        _drop_pending(session, sub)
    live = session.scalars(
        select(WebSubSubscription)
        .where(WebSubSubscription.state == SubscriptionState.ACTIVE)
        .order_by(WebSubSubscription.id)
    ).all()
    etags: dict[str, str | None] = {}
    queued = 0
    for sub in live:
        if sub.topic not in etags:
            key = topic_key(sub.topic, settings)
            try:
                etags[sub.topic] = render_feed(session, key, settings).etag if key else None
            except FeedNotFound:
                etags[sub.topic] = None
        etag = etags[sub.topic]
        if etag is None or etag == sub.last_etag:
            continue
        session.add(
            WebSubDelivery(
                subscription_id=sub.id,
                etag=etag,
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        sub.last_etag = etag
        queued += 1
    session.flush()
    return queued


PING_KIND = "websub.ping"


def affected_topics(event: events.Event, settings: FeedSettings) -> list[str]:
    """Every current feed URL an article event touches: site-wide and its taxonomy, each format.

    The payload names the article's taxonomy after the change; a feed the article just left
    is not named, so an external hub learns of that removal with the next change there.
    """
    payload = event.payload or {}
    subjects: list[tuple[str, str | None]] = [("site", None)]
    for kind, field_name in (("category", "categories"), ("tag", "tags"), ("author", "authors")):
        subjects += [(kind, str(slug)) for slug in payload.get(field_name, []) or []]
    return [
        settings.site_url + feed_path(kind, slug, fmt)
        for kind, slug in dict.fromkeys(subjects)
        for fmt in FORMATS
    ]


def queue_pings_for_event(
    session: Session, event: events.Event, settings: FeedSettings, *, now: datetime
) -> int:
    """For an external hub: one outbox ping per topic the article event affects."""
    from syndicate import outbox

    topics = affected_topics(event, settings)
    for topic in topics:
        outbox.enqueue(session, PING_KIND, {"hub": settings.hub_url, "topic": topic}, now=now)
    return len(topics)


def ping_hub(poster: Poster, hub: str, topic: str) -> str:
    """Tell an external hub that a topic changed (``hub.mode=publish``); raise to retry."""
    body = urlencode({"hub.mode": "publish", "hub.topic": topic, "hub.url": topic}).encode()
    try:
        response = poster.post(
            hub, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
    except HttpStatusError as exc:
        if 400 <= exc.status < 500 and exc.status not in (408, 429):
            from syndicate.outbox import PermanentFailure

            raise PermanentFailure(f"the hub refused the ping: HTTP {exc.status}") from None
        raise
    return f"hub answered {response.status}"


def signature(secret: str, body: bytes) -> str:
    """The X-Hub-Signature value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


_DELIVERIES = WebSubDelivery.__table__
# Who holds a delivery being sent, and until when (see syndicate/claims.py). No owner or
# attempt to fence on: a sender that outlived its lease records its result all the same
# (delivery is at least once).
_DELIVERY_LEASES = Leases(
    id=_DELIVERIES.c.id,
    state=_DELIVERIES.c.state,
    held=DeliveryState.SENDING,
    expires_at=_DELIVERIES.c.lease_expires_at,
)


def due_delivery_ids(session: Session, *, now: datetime, limit: int) -> list[int]:
    """Deliveries due to be sent, and ones whose sender died (its lease is over)."""
    return list(
        session.scalars(
            select(WebSubDelivery.id)
            .where(
                or_(
                    (WebSubDelivery.state == DeliveryState.PENDING)
                    & (WebSubDelivery.next_attempt_at <= now),
                    _DELIVERY_LEASES.expired(now),
                )
            )
            .order_by(WebSubDelivery.id)
            .limit(limit)
        ).all()
    )


def claim_delivery(session: Session, delivery_id: int, *, now: datetime) -> bool:
    """Take a due delivery so no other process sends it; True only for the one that did."""
    return claims.take(
        session,
        _DELIVERIES,
        delivery_id,
        due=or_(_DELIVERIES.c.state == DeliveryState.PENDING, _DELIVERY_LEASES.expired(now)),
        values=_DELIVERY_LEASES.take(None, now + SEND_LEASE),
    )


@dataclass
class Outgoing:
    """One delivery's POST: where, what and how it is signed."""

    callback: str
    body: bytes
    headers: dict[str, str]


def prepare_delivery(
    session: Session, delivery_id: int, settings: FeedSettings, *, now: datetime
) -> Outgoing | None:
    delivery = session.get(WebSubDelivery, delivery_id)
    if delivery is None:
        return None
    sub = delivery.subscription
    newer = session.scalar(
        select(WebSubDelivery.id)
        .where(
            WebSubDelivery.subscription_id == sub.id,
            WebSubDelivery.id > delivery.id,
            WebSubDelivery.state.in_([DeliveryState.PENDING, DeliveryState.SENDING]),
        )
        .limit(1)
    )
    key = topic_key(sub.topic, settings)
    live = sub.state is SubscriptionState.ACTIVE and (
        sub.lease_expires_at is None or sub.lease_expires_at > now
    )
    if newer is not None or key is None or not live:
        # A newer delivery will carry the newest body anyway.
        delivery.state = DeliveryState.DROPPED
        return None
    try:
        feed = render_feed(session, key, settings)
    except FeedNotFound:
        delivery.state = DeliveryState.DROPPED
        return None
    headers = {
        "Content-Type": CONTENT_TYPES[key.fmt],
        "Link": f'<{settings.hub_url}>; rel="hub", <{sub.topic}>; rel="self"',
    }
    if sub.secret:
        headers["X-Hub-Signature"] = signature(sub.secret, feed.body)
    return Outgoing(sub.callback, feed.body, headers)


def record_delivery(
    session: Session, delivery_id: int, status: int | None, error: str | None, *, now: datetime
) -> str:
    delivery = session.get(WebSubDelivery, delivery_id)
    if delivery is None:
        return "dropped"
    sub = delivery.subscription
    delivery.attempts += 1
    delivery.last_status = status
    delivery.last_error = error
    delivery.lease_expires_at = None
    if status is not None and 200 <= status < 300:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = now
        return "delivered"
    if status == 410:
        # The subscriber is gone for good: end the subscription (WebSub §7).
        delivery.state = DeliveryState.DROPPED
        sub.state = SubscriptionState.GONE
        sub.last_error = "the callback answered 410 Gone"
        sub.updated_at = now
        _drop_pending(session, sub)
        return "dropped"
    sub.last_error = error or f"the callback answered HTTP {status}"
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = DeliveryState.FAILED
        return "failed"
    delivery.state = DeliveryState.PENDING
    wait = BACKOFF_SECONDS[min(delivery.attempts, len(BACKOFF_SECONDS)) - 1]
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    return "retrying"


# ---------------------------------------------------------------------------------------------
# Dashboard


@dataclass(frozen=True)
class TopicState:
    subscribers: int
    pending: int
    failing: int
    last_delivered_at: datetime | None


def topic_states(session: Session) -> dict[str, TopicState]:
    """Subscribers and delivery state per topic URL, for the dashboard (grouped queries)."""
    active = WebSubSubscription.state == SubscriptionState.ACTIVE
    subscribers = dict(
        session.execute(
            select(WebSubSubscription.topic, func.count())
            .where(active)
            .group_by(WebSubSubscription.topic)
        ).all()
    )
    waiting = [DeliveryState.PENDING, DeliveryState.SENDING]
    rows = session.execute(
        select(
            WebSubSubscription.topic,
            func.count().filter(WebSubDelivery.state.in_(waiting)),
            func.count().filter(
                or_(
                    WebSubDelivery.state == DeliveryState.FAILED,
                    WebSubDelivery.state.in_(waiting) & (WebSubDelivery.attempts > 0),
                )
            ),
            func.max(WebSubDelivery.delivered_at),
        )
        .join(WebSubDelivery.subscription)
        .where(active)
        .group_by(WebSubSubscription.topic)
    ).all()
    deliveries = {topic: (pending, failing, last) for topic, pending, failing, last in rows}
    return {
        topic: TopicState(count, *deliveries.get(topic, (0, 0, None)))
        for topic, count in subscribers.items()
    }


def prune_deliveries(
    session: Session, *, now: datetime, keep: timedelta = timedelta(days=30)
) -> int:
    """Forget settled deliveries older than ``keep`` so the table stays small."""
    result = session.execute(
        delete(WebSubDelivery).where(
            WebSubDelivery.state.in_(
                [DeliveryState.DELIVERED, DeliveryState.DROPPED, DeliveryState.FAILED]
            ),
            WebSubDelivery.created_at < now - keep,
        )
    )
    return changed_rows(result)
