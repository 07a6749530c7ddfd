"""Outgoing webhooks: endpoints, fan-out of events into outbox deliveries, signed sending.

An events consumer turns each subscribed event into one delivery per matching endpoint, in
the consumer's transaction, each with an outbox message (kind ``webhook.deliver``). The
outbox drains them: one POST per attempt through the URL guard, signed with HMAC-SHA256 over
``timestamp + "." + body``. 2xx is done; 410 deactivates the endpoint; anything else (other
statuses, timeouts, refused connections) is retried with the outbox's backoff until its
attempts run out, and every attempt is logged for the dashboard. The sending itself, which
owns its transactions, is in ``webhooks/jobs.py``; these functions take a Session.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from syndicate import outbox, wording
from syndicate.crypto import TokenVault, UndecryptableSecret
from syndicate.db import Page, paginate
from syndicate.errors import DomainError
from syndicate.fetch import default_resolver, is_forbidden_address
from syndicate.models import Event, OutboxMessage, OutboxState
from syndicate.staff.models import User
from syndicate.webhooks.models import (
    EVENT_KINDS,
    OUTBOX_KIND,
    TEST_KIND,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 (a public marker, not a secret)
MAX_ATTEMPTS = 8
SNIPPET = 300
SIGNATURE_HEADER = "Syndicate-Signature"
Resolver = Callable[[str, int], Sequence[str]]


class WebhookError(DomainError):
    """Bad input for an endpoint; the message is fit to show and names the field."""


# --- endpoints -------------------------------------------------------------------------


@dataclass
class EndpointInput:
    url: str
    event_kinds: list[str]
    description: str = ""
    is_active: bool = True


def check_endpoint_url(
    url: str, *, allow_private: bool, resolver: Resolver = default_resolver
) -> str:
    """An http(s) URL without credentials whose host resolves to public addresses only
    (private ones too when FETCH_ALLOW_PRIVATE); the sender checks again on every POST."""
    url = url.strip()
    if not url or len(url) > 2000:
        raise WebhookError("Give the receiver's URL (at most 2000 characters).", "url")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise WebhookError("That URL is malformed.", "url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("Give an absolute http:// or https:// URL.", "url")
    if "@" in parts.netloc:
        raise WebhookError("Leave user names and passwords out of the URL.", "url")
    try:
        addresses = list(resolver(parts.hostname, port))
    except (OSError, UnicodeError, ValueError):
        raise WebhookError(f"{parts.hostname} could not be resolved.", "url") from None
    if not addresses or any(is_forbidden_address(a, allow_private) for a in addresses):
        raise WebhookError(
            f"{parts.hostname} is not a public address; webhooks go to public servers only.",
            "url",
        )
    return url


def check_kinds(kinds: Sequence[str]) -> list[str]:
    unknown = sorted(set(kinds) - set(EVENT_KINDS))
    if unknown:
        raise WebhookError("Unknown event kinds: " + ", ".join(unknown) + ".", "event_kinds")
    if not kinds:
        raise WebhookError("Choose at least one event.", "event_kinds")
    return [k for k in EVENT_KINDS if k in kinds]


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def create_endpoint(
    session: Session,
    data: EndpointInput,
    *,
    vault: TokenVault,
    user: User | None,
    now: datetime,
    allow_private: bool,
    resolver: Resolver = default_resolver,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret, which is shown once and stored encrypted."""
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=check_endpoint_url(data.url, allow_private=allow_private, resolver=resolver),
        description=data.description.strip()[:200],
        event_kinds=check_kinds(data.event_kinds),
        secret_encrypted=vault.encrypt(secret),
        is_active=data.is_active,
        created_by_id=user.id if user else None,
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    session.flush()
    return endpoint, secret


def update_endpoint(
    session: Session,
    endpoint: WebhookEndpoint,
    data: EndpointInput,
    *,
    now: datetime,
    allow_private: bool,
    resolver: Resolver = default_resolver,
) -> None:
    endpoint.url = check_endpoint_url(data.url, allow_private=allow_private, resolver=resolver)
    endpoint.event_kinds = check_kinds(data.event_kinds)
    endpoint.description = data.description.strip()[:200]
    if data.is_active and not endpoint.is_active:
        endpoint.deactivated_reason = ""
    endpoint.is_active = data.is_active
    endpoint.updated_at = now
    session.flush()


def delete_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    session.delete(endpoint)
    session.flush()


def endpoints_page(session: Session, *, number: int, size: int) -> Page[WebhookEndpoint]:
    return paginate(
        session,
        select(WebhookEndpoint).order_by(
            WebhookEndpoint.created_at.desc(), WebhookEndpoint.id.desc()
        ),
        number=number,
        size=size,
    )


@dataclass(frozen=True)
class LoggedDelivery:
    """A delivery with its attempts and when the outbox will try it next, for the log."""

    delivery: WebhookDelivery
    state: str
    next_attempt_at: datetime | None
    outbox_error: str | None = None
    attempts: list[WebhookAttempt] = field(default_factory=list)


def deliveries_page(
    session: Session, endpoint: WebhookEndpoint, *, number: int, size: int
) -> Page[LoggedDelivery]:
    """The endpoint's deliveries, newest first, with every attempt."""
    where = WebhookDelivery.endpoint_id == endpoint.id
    total = session.scalar(select(func.count()).select_from(WebhookDelivery).where(where)) or 0
    rows = session.execute(
        select(WebhookDelivery, OutboxMessage)
        .outerjoin(OutboxMessage, OutboxMessage.id == WebhookDelivery.outbox_message_id)
        .options(selectinload(WebhookDelivery.attempt_log))
        .where(where)
        .order_by(WebhookDelivery.id.desc())
        .limit(size)
        .offset((number - 1) * size)
    ).all()
    items: list[LoggedDelivery] = []
    for delivery, message in rows:
        waiting = message is not None and message.state in (
            OutboxState.PENDING,
            OutboxState.FAILED,
        )
        state = delivery.state
        if message is not None and message.state is OutboxState.DEAD:
            # The outbox gave up (attempts used up, or a worker lost mid-attempt).
            state = state if state in ("gone", "skipped") else "dead"
        items.append(
            LoggedDelivery(
                delivery,
                state=state,
                next_attempt_at=message.available_at if waiting else None,
                outbox_error=message.last_error if message is not None else None,
                attempts=list(delivery.attempt_log),
            )
        )
    return Page(items, number, size, total)


# --- fan-out ---------------------------------------------------------------------------


def _body(
    delivery_id: str,
    kind: str,
    *,
    occurred_at: datetime,
    subject: str,
    event_id: int | None,
    data: dict[str, Any],
) -> str:
    return json.dumps(
        {
            "id": delivery_id,
            "type": kind,
            "event_id": event_id,
            "created_at": occurred_at.isoformat().replace("+00:00", "Z"),
            "subject": subject,
            "data": data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def queue_delivery(
    session: Session,
    endpoint: WebhookEndpoint,
    *,
    kind: str,
    subject: str,
    data: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
    event_id: int | None = None,
) -> WebhookDelivery:
    """A delivery of one event to one endpoint and its outbox message, in the caller's
    transaction."""
    public_id = str(uuid.uuid4())
    delivery = WebhookDelivery(
        public_id=public_id,
        endpoint_id=endpoint.id,
        event_id=event_id,
        event_kind=kind,
        body=_body(
            public_id, kind, occurred_at=occurred_at, subject=subject, event_id=event_id, data=data
        ),
        state="pending",
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    message = outbox.enqueue(
        session, OUTBOX_KIND, {"delivery_id": delivery.id}, now=now, max_attempts=MAX_ATTEMPTS
    )
    delivery.outbox_message_id = message.id
    session.flush()
    return delivery


def fan_out(session: Session, event: Event, *, now: datetime) -> int:
    """Queue the event for every active endpoint that asked for its kind; returns how many.

    Endpoints made after the event do not get it: a new endpoint starts with what happens next.
    """
    endpoints = session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.is_active, WebhookEndpoint.created_at <= event.created_at)
        .order_by(WebhookEndpoint.id)
    ).all()
    queued = 0
    for endpoint in endpoints:
        if event.kind in (endpoint.event_kinds or []):
            queue_delivery(
                session,
                endpoint,
                kind=event.kind,
                subject=event.subject,
                data=event.payload,
                occurred_at=event.created_at,
                now=now,
                event_id=event.id,
            )
            queued += 1
    return queued


def queue_test_event(
    session: Session, endpoint: WebhookEndpoint, *, user: User, now: datetime
) -> WebhookDelivery:
    """A harmless event so staff can check the receiver and its signature check."""
    return queue_delivery(
        session,
        endpoint,
        kind=TEST_KIND,
        subject=str(endpoint.id),
        data={"message": "A test event from syndicate.", "sent_by": user.email},
        occurred_at=now,
        now=now,
    )


# --- signing and sending ---------------------------------------------------------------


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The Syndicate-Signature header value: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300
) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    expected = signature(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True)
class Send:
    """One delivery as it goes out: where, what, and the secret that signs it."""

    delivery_id: int
    public_id: str
    kind: str
    url: str
    secret: str
    body: bytes


def _clean(text: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; receivers may send anything.
    return text.replace("\x00", "")[:limit]


def request_headers(send: Send, *, now: datetime) -> dict[str, str]:
    """The headers of one attempt, signed at ``now``."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(send.secret, int(now.timestamp()), send.body),
        "Syndicate-Event": send.kind,
        "Syndicate-Delivery": send.public_id,
    }


def prepare_send(
    session: Session, delivery_id: int, *, vault: TokenVault, now: datetime
) -> Send | str:
    """What to send, or the reason nothing is sent (which ends the outbox message)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return "skipped: the delivery was deleted with its endpoint"
    if delivery.state in ("delivered", "gone", "skipped"):
        return f"skipped: already {delivery.state}"
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        delivery.state = "skipped"
        delivery.finished_at = now
        return "skipped: the endpoint is inactive"
    try:
        secret = vault.decrypt(endpoint.secret_encrypted)
    except UndecryptableSecret:
        raise outbox.PermanentFailure(
            "the endpoint's secret cannot be decrypted with the configured keys"
        ) from None
    return Send(
        delivery.id,
        delivery.public_id,
        delivery.event_kind,
        endpoint.url,
        secret,
        delivery.body.encode(),
    )


def record_attempt(
    session: Session,
    send: Send,
    *,
    status: int | None,
    snippet: str,
    error: str,
    elapsed_ms: int,
    now: datetime,
) -> str:
    delivery = session.get(WebhookDelivery, send.delivery_id)
    if delivery is None:
        return "skipped"
    delivery.attempts += 1
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=delivery.attempts,
            at=now,
            status_code=status,
            response_snippet=_clean(snippet, SNIPPET),
            error=_clean(error, 2000),
            duration_ms=elapsed_ms,
        )
    )
    if status is not None and 200 <= status < 300:
        delivery.state, delivery.finished_at = "delivered", now
    elif status == 410:
        delivery.state, delivery.finished_at = "gone", now
        endpoint = delivery.endpoint
        endpoint.is_active = False
        endpoint.deactivated_reason = (
            f"The receiver answered 410 Gone on {wording.time_in_zone(now, 'UTC')}."
        )
        endpoint.updated_at = now
    else:
        message = (
            session.get(OutboxMessage, delivery.outbox_message_id)
            if delivery.outbox_message_id
            else None
        )
        last = message is None or message.attempts >= message.max_attempts
        delivery.state = "dead" if last else "failed"
        if last:
            delivery.finished_at = now
    session.flush()
    return delivery.state
