"""What every sharing workflow shares: its settings and context, who acts, and its errors.

The workflows live beside it: ``asking`` (the public form, verification, the allowance),
``deciding`` (rules, grant, deny, ask, revoke), ``records`` (signed permission records),
``inbox`` (staff lists, export, bulk actions), ``standing`` (standing permissions),
``sweeps`` (what the scheduler's jobs run) and ``jobs`` (which owns their transactions).
Functions take a session first and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app
from limits import parse as parse_limit

from syndicate.articles.models import Article
from syndicate.config import _as_bool, _as_duration, derived, site_name
from syndicate.errors import DomainError, DomainErrors
from syndicate.sharing import emails
from syndicate.sharing.models import ActorKind, Permission, ShareLink, ShareRequest
from syndicate.sharing.signing import Signer, signer_for
from syndicate.staff.models import User

MAX_NAME = 200
MAX_EMAIL = 320
MAX_URL = 2000
MAX_MESSAGE = 5000
MAX_NOTE = 5000
MAX_CREDIT = 500
MAX_WORDS = 1_000_000
MAX_AUDIENCE = 1_000_000_000
MAX_FORM_AGE = timedelta(days=2)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- settings and context -------------------------------------------------------------------

DEFAULTS: dict[str, Any] = {
    "SHARING_PUBLISHER_NAME": "",
    "SHARING_CONTACT_EMAIL": "",
    "SHARING_AUTO_GRANT_LINKS": True,
    "SHARING_AUTO_GRANT_EXCERPT_WORDS": 0,
    "SHARING_MIN_FILL_SECONDS": 3.0,
    "SHARING_VERIFY_TTL": timedelta(hours=48),
    "SHARING_UNVERIFIED_TTL": timedelta(days=7),
    "SHARING_REMIND_AFTER": timedelta(days=7),
    "SHARING_CLOSE_AFTER": timedelta(days=30),
    "SHARING_WARN_BEFORE": timedelta(days=14),
    "SHARING_NOTIFY_CORRECTIONS": True,
    "SHARING_RATE_LIMIT_IP": "5 per hour",
    "SHARING_RATE_LIMIT_EMAIL": "3 per day",
}


def setting(config: Any, name: str) -> Any:
    value = config.get(name)
    return DEFAULTS[name] if value is None or value == "" else value


@dataclass(frozen=True)
class SharingSettings:
    """The publisher's rules and the feature's time limits (SYNDICATE_SHARING_* settings)."""

    publisher_name: str
    contact_email: str | None
    auto_grant_links: bool
    auto_grant_excerpt_words: int
    min_fill: timedelta
    verify_ttl: timedelta
    unverified_ttl: timedelta
    remind_after: timedelta
    close_after: timedelta
    warn_before: timedelta
    notify_corrections: bool
    # How many requests one email address may send, and over how long.
    email_allowance: tuple[int, timedelta]

    @classmethod
    def from_config(cls, config: Any) -> SharingSettings:
        return cls(
            publisher_name=str(setting(config, "SHARING_PUBLISHER_NAME") or site_name(config)),
            contact_email=str(setting(config, "SHARING_CONTACT_EMAIL")) or None,
            auto_grant_links=_as_bool(setting(config, "SHARING_AUTO_GRANT_LINKS")),
            auto_grant_excerpt_words=max(
                0, int(setting(config, "SHARING_AUTO_GRANT_EXCERPT_WORDS"))
            ),
            min_fill=_as_duration(setting(config, "SHARING_MIN_FILL_SECONDS")),
            verify_ttl=_as_duration(setting(config, "SHARING_VERIFY_TTL")),
            unverified_ttl=_as_duration(setting(config, "SHARING_UNVERIFIED_TTL")),
            remind_after=_as_duration(setting(config, "SHARING_REMIND_AFTER")),
            close_after=_as_duration(setting(config, "SHARING_CLOSE_AFTER")),
            warn_before=_as_duration(setting(config, "SHARING_WARN_BEFORE")),
            notify_corrections=_as_bool(setting(config, "SHARING_NOTIFY_CORRECTIONS")),
            email_allowance=_allowance(str(setting(config, "SHARING_RATE_LIMIT_EMAIL"))),
        )


# Every setting Sharing.for_app reads; a change to any of them builds a new context.
_CONTEXT_SETTINGS = (*DEFAULTS, "SITE_NAME", "FEED_TITLE", "SITE_URL", "SECRET_KEY", "TIME_ZONE")


def _allowance(text: str) -> tuple[int, timedelta]:
    """'3 per day' as (3, one day), in the rate-limit notation Flask-Limiter uses."""
    item = parse_limit(text)
    return item.amount, timedelta(seconds=item.get_expiry())


@dataclass(frozen=True)
class Sharing:
    """What the services need beside the session: rules, the public base URL, keys."""

    settings: SharingSettings
    site_url: str
    secret_key: str
    signer: Signer
    time_zone: str = "UTC"

    @classmethod
    def for_app(cls, app: Flask | None = None) -> Sharing:
        """The app's context, built again only when one of the settings it reads changed.

        Settings are read per request (tests and benchmarks change them on a running app);
        comparing them is cheaper than parsing durations and rate limits every time.
        """
        app = app or current_app._get_current_object()  # type: ignore[attr-defined]

        def build(config: Mapping[str, Any]) -> Sharing:
            return cls(
                settings=SharingSettings.from_config(config),
                site_url=str(config["SITE_URL"]).rstrip("/"),
                secret_key=str(config["SECRET_KEY"]),
                signer=signer_for(app),
                time_zone=str(config.get("TIME_ZONE") or "UTC"),
            )

        return derived(app, "sharing_context", _CONTEXT_SETTINGS, build)

    def url(self, path: str) -> str:
        return self.site_url + path

    def private_token(self, request: ShareRequest) -> str:
        """The reader's private key to their request: derived, so emails can repeat it.

        Only its SHA-256 is stored; without SECRET_KEY the database alone reveals nothing.
        """
        digest = hmac.new(
            self.secret_key.encode(), f"sharing-private:{request.public_id}".encode(), "sha256"
        ).digest()
        return _b64(digest)

    def private_url(self, request: ShareRequest) -> str:
        return self.url(f"/sharing/r/{self.private_token(request)}")

    def record_url(self, permission: Permission) -> str:
        return self.url(f"/permissions/{permission.public_id}")

    def share_url(self, link: ShareLink) -> str:
        return self.url(f"/s/{link.code}")

    def form_url(self, article: Article) -> str:
        return self.url(f"/articles/{article.slug}/share")

    def when(self, moment: datetime | None) -> str:
        return emails.when(moment, self.time_zone)

    def valid_until(self, ends_at: datetime) -> str:
        """A permission's end for its reader (the site's zone); see emails.valid_until."""
        return emails.valid_until(ends_at, self.time_zone)


def _b64(raw: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def canonical_url(article: Article, site_url: str) -> str:
    """Where the article lives: its canonical URL if it has one, else its page here."""
    return article.canonical_url or f"{site_url}/articles/{article.slug}"


# --- errors ---------------------------------------------------------------------------------


class SharingError(DomainError):
    """Bad input or a refused action; the message is fit to show and names the field."""


class SharingErrors(DomainErrors, SharingError):
    """Several problems of one submission (the share form's fields), reported together."""


class RequestRefused(SharingError):
    """A submission that looks automated (honeypot, too fast, altered form): nothing stored."""

    status = 400


class LinkProblem(SharingError):
    """A verification link that was altered (400), has expired or was used already (410)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message, status=status)


class TooManyRequests(SharingError):
    """This email address has sent as many requests as the publisher allows for now."""

    status = 429


class InvalidTransition(SharingError):
    """The request is no longer in a state that allows this (someone else acted first)."""

    status = 409
    code = "invalid_transition"


# --- who acts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    user_id: int | None = None
    label: str = ""

    @classmethod
    def staff(cls, user: User) -> Actor:
        return cls(ActorKind.STAFF, user.id, user.label[:200])


READER = Actor(ActorKind.READER, label="reader")
SYSTEM = Actor(ActorKind.SYSTEM, label="system")


def clean_text(
    value: str | None, limit: int, field_name: str, label: str, *, required: bool
) -> str:
    value = _CONTROL.sub("", value or "").strip()
    if required and not value:
        raise SharingError(f"Please fill in {label}.", field_name)
    if len(value) > limit:
        raise SharingError(
            f"{label[0].upper() + label[1:]} has at most {limit} characters.", field_name
        )
    return value


def check_http_url(value: str | None, field_name: str) -> str | None:
    value = (value or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(value) > MAX_URL:
        raise SharingError("Give a full web address starting with https://.", field_name)
    if _CONTROL.search(value) or " " in value:
        raise SharingError("A web address cannot contain spaces.", field_name)
    return value
