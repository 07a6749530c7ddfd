"""The sandbox's in-memory world: apps, members, pages, codes, tokens, posts, images, switches."""

from __future__ import annotations

import fnmatch
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from syndicate.config import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from syndicate.linkedin_sandbox.text import LittleText

CODE_LIFETIME = timedelta(minutes=30)
CONSENT_LIFETIME = timedelta(minutes=30)
ACCESS_TOKEN_LIFETIME = timedelta(days=60)
REFRESH_TOKEN_LIFETIME = timedelta(days=365)
ID_TOKEN_LIFETIME = timedelta(hours=1)
UPLOAD_URL_LIFETIME = timedelta(hours=1)
ACTIVE_VERSION_MONTHS = 12

ALL_SCOPES = frozenset(
    {
        "openid",
        "profile",
        "email",
        "w_member_social",
        "r_member_social",
        "w_organization_social",
        "r_organization_social",
        "r_organization_admin",
        "rw_organization_admin",
        "r_member_postAnalytics",
    }
)
POSTING_ROLES = frozenset(
    {"ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "DIRECT_SPONSORED_CONTENT_POSTER"}
)
FAULT_KINDS = frozenset(
    {
        "401",
        "401-revoked",
        "401-expired",
        "403",
        "426",
        "429",
        "500",
        "504",
        "delay",
        "timeout-after-store",
    }
)
STATISTICS_FAULTS = FAULT_KINDS - {"delay", "timeout-after-store"}
CANCEL_ERRORS = frozenset({"user_cancelled_authorize", "user_cancelled_login"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

DEMO_MEMBER_SUB = "sandbox-member-1"

TokenStatus = Literal["active", "revoked", "expired"]


def _without_query(uri: str) -> str:
    """The URI without query and fragment."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass(frozen=True)
class SandboxClient:
    """An app registered with the sandbox; redirect URIs match exactly, ignoring the query."""

    client_id: str
    client_secret: str
    redirect_uris: frozenset[str] = frozenset()
    allow_loopback_redirects: bool = False
    scopes: frozenset[str] = ALL_SCOPES

    def accepts_redirect(self, uri: str) -> bool:
        """Whether `uri` may receive codes for this app."""
        parts = urlsplit(uri)
        if not parts.scheme or not parts.netloc or "#" in uri:
            return False
        if (
            self.allow_loopback_redirects
            and parts.scheme == "http"
            and (parts.hostname in LOOPBACK_HOSTS)
        ):
            return True
        return _without_query(uri) in {_without_query(r) for r in self.redirect_uris}


def demo_client() -> SandboxClient:
    """The default app: any http://127.0.0.1 or http://localhost redirect, every scope."""
    return SandboxClient(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, allow_loopback_redirects=True)


@dataclass(frozen=True)
class Member:
    """A LinkedIn member who can sign in to the sandbox."""

    sub: str
    given_name: str
    family_name: str
    email: str
    country: str = "US"
    language: str = "en"

    @property
    def name(self) -> str:
        """The display name."""
        return f"{self.given_name} {self.family_name}"

    @property
    def urn(self) -> str:
        """The author URN for posts."""
        return f"urn:li:person:{self.sub}"


@dataclass(frozen=True)
class Organization:
    """A LinkedIn page, with each member's role on it."""

    id: int
    name: str
    vanity_name: str
    roles: Mapping[str, str]

    @property
    def urn(self) -> str:
        """The author URN for posts."""
        return f"urn:li:organization:{self.id}"


def default_members() -> dict[str, Member]:
    """Sam signs in by default; Robin exists so posting as someone else can be refused."""
    members = [
        Member(DEMO_MEMBER_SUB, "Sam", "Sandbox", "sam.sandbox@example.com"),
        Member("sandbox-member-2", "Robin", "Reader", "robin.reader@example.com"),
    ]
    return {m.sub: m for m in members}


def default_organizations() -> dict[int, Organization]:
    """Pages where Sam is ADMINISTRATOR, CONTENT_ADMINISTRATOR, ANALYST and nothing."""
    orgs = [
        Organization(
            1001, "Sandbox Magazine", "sandbox-magazine", {DEMO_MEMBER_SUB: "ADMINISTRATOR"}
        ),
        Organization(
            1002, "Sandbox Press", "sandbox-press", {DEMO_MEMBER_SUB: "CONTENT_ADMINISTRATOR"}
        ),
        Organization(1003, "Sandbox Analytics", "sandbox-analytics", {DEMO_MEMBER_SUB: "ANALYST"}),
        Organization(1004, "Elsewhere Inc", "elsewhere-inc", {"sandbox-member-2": "ADMINISTRATOR"}),
    ]
    return {o.id: o for o in orgs}


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authorize request."""

    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    state: str | None
    nonce: str | None


@dataclass
class Consent:
    """A consent page shown and not yet answered."""

    id: str
    request: AuthorizationRequest
    expires_at: datetime
    answered: bool = False


@dataclass
class AuthorizationCode:
    """A single-use code bound to its app and redirect URI."""

    value: str
    request: AuthorizationRequest
    sub: str
    expires_at: datetime
    used: bool = False


@dataclass
class AccessToken:
    """An issued access token."""

    value: str
    client_id: str
    sub: str
    scopes: frozenset[str]
    authorized_at: datetime
    created_at: datetime
    expires_at: datetime
    usable_from: datetime
    revoked: bool = False
    forced_expired: bool = False

    def status_at(self, now: datetime) -> TokenStatus:
        """active, revoked or expired at `now`."""
        if self.revoked:
            return "revoked"
        if self.forced_expired or now >= self.expires_at:
            return "expired"
        return "active"


@dataclass
class RefreshToken:
    """A partner refresh token: 365 days from the first grant, never extended."""

    value: str
    client_id: str
    sub: str
    scopes: frozenset[str]
    authorized_at: datetime
    expires_at: datetime
    revoked: bool = False


@dataclass
class Post:
    """A post as LinkedIn stored it."""

    urn: str
    author: str
    commentary: str
    text: LittleText
    visibility: str
    distribution: dict[str, Any]
    content: dict[str, Any] | None
    reshare_disabled: bool
    created_at: datetime
    created_by: str
    deleted_at: datetime | None = None


@dataclass
class Image:
    """An image: initialized, then uploaded."""

    id: str
    owner: str
    initialized_by: str
    upload_expires_at: datetime
    data: bytes | None = None
    media_type: str | None = None
    uploaded_at: datetime | None = None

    @property
    def urn(self) -> str:
        """urn:li:image:{id}."""
        return f"urn:li:image:{self.id}"

    @property
    def status(self) -> str:
        """AVAILABLE once bytes arrived, WAITING_UPLOAD before."""
        return "AVAILABLE" if self.data is not None else "WAITING_UPLOAD"


@dataclass
class Fault:
    """The next `remaining` matching requests get `kind` instead of (or besides) the answer."""

    path: str
    kind: str
    remaining: int = 1
    method: str | None = None
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return (self.method is None or self.method == method) and fnmatch.fnmatchcase(
            path, self.path
        )


@dataclass
class Switches:
    """Behaviour switches; all off by default except duplicates of deleted posts."""

    auto_consent: bool = False
    cancel_authorize: str | None = None
    include_token_type: bool = False
    partner: bool = False
    # LinkedIn still calls a post a duplicate after it was deleted (composio #2710).
    duplicates_include_deleted: bool = True
    # A fault kind ("429", "500", "401"...) every statistics call answers while it is set.
    fail_statistics: str | None = None


def rolling_versions(now: datetime, months: int = ACTIVE_VERSION_MONTHS) -> frozenset[str]:
    """The YYYYMM versions of the last `months` months, this one included."""
    year, month, found = now.year, now.month, set()
    for _ in range(months):
        found.add(f"{year:04d}{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return frozenset(found)


def _versions(versions: Iterable[str] | None) -> frozenset[str] | None:
    """Validated YYYYMM versions, or None for the rolling window."""
    if versions is None:
        return None
    found = frozenset(versions)
    bad = sorted(
        str(v)
        for v in found
        if not (isinstance(v, str) and len(v) == 6 and v.isascii() and v.isdigit())
    )
    if bad:
        raise ValueError(f"versions must be YYYYMM strings, not {bad}")
    return found


def new_secret(length: int) -> str:
    """A random URL-safe string of about `length` characters."""
    return secrets.token_urlsafe(length * 3 // 4)


class SandboxState:
    """Everything the sandbox knows; every read and write of shared data holds `lock`."""

    def __init__(
        self,
        *,
        base_url: str,
        clients: Mapping[str, SandboxClient] | None = None,
        clock: Callable[[], datetime] | None = None,
        active_versions: Iterable[str] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.clients = dict(clients) if clients is not None else {SANDBOX_CLIENT_ID: demo_client()}
        self._clock = clock or (lambda: datetime.now(UTC))
        self._initial_versions = _versions(active_versions)
        self.reset()

    def reset(self) -> None:
        """Forget everything that happened; keep the apps, the clock and the base URL."""
        with self.lock:
            self.members = default_members()
            self.organizations = default_organizations()
            self.signed_in = DEMO_MEMBER_SUB
            self.switches = Switches()
            self.explicit_versions = self._initial_versions
            self.clock_offset = timedelta()
            self.token_delay = timedelta()
            self.consents: dict[str, Consent] = {}
            self.codes: dict[str, AuthorizationCode] = {}
            self.grants: dict[tuple[str, str], frozenset[str]] = {}
            self.tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, RefreshToken] = {}
            self.token_calls: Counter[str] = Counter()
            self.posts: dict[str, Post] = {}
            self.next_share_id = 7_100_000_000_000_000_001
            self.images: dict[str, Image] = {}
            self.faults: list[Fault] = []

    # time and versions

    def now(self) -> datetime:
        """The sandbox's time: the clock plus the offset set by the controls."""
        return self._clock().astimezone(UTC) + self.clock_offset

    def advance_clock(self, delta: timedelta) -> None:
        """Move the sandbox's time forward (or back, with a negative delta)."""
        with self.lock:
            self.clock_offset += delta

    def set_clock_offset(self, offset: timedelta) -> None:
        """Set how far the sandbox's time is from its clock."""
        with self.lock:
            self.clock_offset = offset

    def active_versions(self) -> frozenset[str]:
        """The explicit set if one was given, else the last twelve monthly versions."""
        with self.lock:
            if self.explicit_versions is not None:
                return self.explicit_versions
            return rolling_versions(self.now())

    def set_active_versions(self, versions: Iterable[str] | None) -> None:
        """Set the active YYYYMM versions; None returns to the rolling twelve months."""
        with self.lock:
            self.explicit_versions = _versions(versions)

    def sleep(self, seconds: float) -> None:
        """Wait, but wake up at once when the server stops."""
        if seconds > 0:
            self.stopping.wait(seconds)

    # switches and faults

    def set_switches(self, **values: Any) -> Switches:
        """Change some switches; unknown names or a bad cancel error raise ValueError."""
        known = {f.name for f in fields(Switches)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown switches: {', '.join(sorted(unknown))}")
        cancel = values.get("cancel_authorize")
        if cancel is not None and cancel not in CANCEL_ERRORS:
            raise ValueError(f"cancel_authorize must be one of {sorted(CANCEL_ERRORS)} or null")
        failing = values.get("fail_statistics")
        if failing is not None and failing not in STATISTICS_FAULTS:
            raise ValueError(f"fail_statistics must be one of {sorted(STATISTICS_FAULTS)} or null")
        for name, value in values.items():
            if name not in {"cancel_authorize", "fail_statistics"} and not isinstance(value, bool):
                raise ValueError(f"switch {name} takes true or false")
        with self.lock:
            self.switches = replace(self.switches, **values)
            return self.switches

    def inject(
        self,
        path: str,
        kind: str,
        *,
        count: int = 1,
        method: str | None = None,
        seconds: float = 0.0,
    ) -> Fault:
        """Queue a fault for the next `count` requests whose path matches the glob `path`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {sorted(FAULT_KINDS)}")
        if count < 1 or seconds < 0:
            raise ValueError("count must be at least 1 and seconds not negative")
        if kind in {"delay", "timeout-after-store"} and seconds <= 0:
            raise ValueError(f"{kind} needs seconds > 0")
        fault = Fault(path, kind, count, method.upper() if method else None, seconds)
        with self.lock:
            self.faults.append(fault)
        return fault

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first queued fault for this request, counted down."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self.lock:
            self.faults.clear()

    # tokens

    def revoke_tokens(self, value: str | None = None) -> int:
        """Revoke one access or refresh token, or every one when `value` is None."""
        with self.lock:
            tokens: list[AccessToken | RefreshToken] = [
                *self.tokens.values(),
                *self.refresh_tokens.values(),
            ]
            found = [t for t in tokens if value is None or t.value == value]
            for token in found:
                token.revoked = True
            return len(found)

    def expire_tokens(self, value: str | None = None) -> int:
        """Make one access token, or all, answer EXPIRED_ACCESS_TOKEN from now on."""
        with self.lock:
            found = [t for t in self.tokens.values() if value is None or t.value == value]
            for token in found:
                token.forced_expired = True
            return len(found)

    def set_token_delay(self, seconds: float) -> None:
        """Tokens issued from now on answer REVOKED_ACCESS_TOKEN for their first `seconds`."""
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        with self.lock:
            self.token_delay = timedelta(seconds=seconds)

    def mint_token(
        self, scopes: Iterable[str], *, sub: str = DEMO_MEMBER_SUB, client_id: str | None = None
    ) -> str:
        """An access token without the OAuth dance, for tests."""
        with self.lock:
            now = self.now()
            token = AccessToken(
                value="AQ" + new_secret(498),
                client_id=client_id or next(iter(self.clients)),
                sub=sub,
                scopes=frozenset(scopes),
                authorized_at=now,
                created_at=now,
                expires_at=now + ACCESS_TOKEN_LIFETIME,
                usable_from=now + self.token_delay,
            )
            self.tokens[token.value] = token
            return token.value

    def sign_in(self, sub: str) -> None:
        """Choose the member who answers the consent page."""
        with self.lock:
            if sub not in self.members:
                raise ValueError(f"no member {sub!r}")
            self.signed_in = sub

    # entities

    def member(self, sub: str) -> Member:
        """The member with this sub (tokens only exist for known members)."""
        with self.lock:
            return self.members[sub]

    def author_name(self, urn: str) -> str:
        """A member's or page's display name for an author URN."""
        with self.lock:
            kind, _, ident = urn.removeprefix("urn:li:").partition(":")
            if kind == "person" and ident in self.members:
                return self.members[ident].name
            if kind == "organization" and ident.isdigit() and int(ident) in self.organizations:
                return self.organizations[int(ident)].name
            return urn

    def role_of(self, sub: str, organization_id: int) -> str | None:
        """The member's role on a page, if any."""
        with self.lock:
            org = self.organizations.get(organization_id)
            return org.roles.get(sub) if org else None

    def post_list(self, *, include_deleted: bool = True) -> list[Post]:
        """Stored posts, newest first."""
        with self.lock:
            posts = [p for p in self.posts.values() if include_deleted or p.deleted_at is None]
        return sorted(posts, key=lambda p: (p.created_at, p.urn), reverse=True)
