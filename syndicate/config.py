"""Every setting in one place: its name, default, type and whether production requires it.

Settings are read from environment variables prefixed ``SYNDICATE_`` (``SYNDICATE_SITE_URL``
sets ``SITE_URL``), then from the mapping passed to ``create_app``. The README's settings
table is generated from ``SETTINGS`` by ``syndicate settings``.
"""

from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from cryptography.fernet import Fernet
from limits import parse_many

T = TypeVar("T")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it."""


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _as_str(value: Any) -> str:
    return str(value)


def _one_of(*choices: str) -> Callable[[Any], str]:
    """A parser accepting only these words (case-insensitive)."""

    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _whole_number(low: int, high: int) -> Callable[[Any], int]:
    """A parser accepting whole numbers from ``low`` to ``high``."""

    def parse(value: Any) -> int:
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise ValueError(f"expected {low} to {high}, got {number}")
        return number

    return parse


def _as_duration(value: Any) -> timedelta:
    """'2d', '36h', '90m', '45s' or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    try:
        if text and text[-1] in units:
            return timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return timedelta(seconds=float(text))
    except ValueError:
        raise ValueError(f"expected a duration such as 2d, 36h or 90m, got {value!r}") from None


def _duration_between(low: timedelta, high: timedelta) -> Callable[[Any], timedelta]:
    """A parser accepting durations from ``low`` to ``high``."""

    def parse(value: Any) -> timedelta:
        duration = _as_duration(value)
        if not low <= duration <= high:
            raise ValueError(f"expected {low} to {high}, got {duration}")
        return duration

    return parse


class StatsSchedule(tuple[tuple[timedelta, timedelta], ...]):
    """(interval, until age) steps, ages rising; shown as the text that sets it."""

    __slots__ = ()

    def __repr__(self) -> str:
        def short(delta: timedelta) -> str:
            seconds = int(delta.total_seconds())
            for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
                if seconds % size == 0:
                    return f"{seconds // size}{unit}"
            return f"{seconds}s"

        return repr(", ".join(f"{short(a)} until {short(b)}" for a, b in self))


def as_stats_schedule(value: Any) -> StatsSchedule:
    """'1h until 2d, 1d until 30d, 7d until 90d': (interval, until age) steps, ages rising."""
    if isinstance(value, StatsSchedule):
        return value
    steps: list[tuple[timedelta, timedelta]] = []
    for part in str(value).split(","):
        every, sep, until = part.strip().partition(" until ")
        if not sep:
            raise ValueError(
                f"expected steps such as '1h until 2d, 1d until 30d', got {part.strip()!r}"
            )
        interval, age = _as_duration(every), _as_duration(until)
        if interval < timedelta(minutes=5):
            raise ValueError(f"fetch at most every 5 minutes, not every {every.strip()}")
        if steps and age <= steps[-1][1]:
            raise ValueError("each step's age must be greater than the one before")
        steps.append((interval, age))
    if not steps:
        raise ValueError("give at least one step, such as '1d until 30d'")
    return StatsSchedule(steps)


@functools.cache
def time_zone_names() -> frozenset[str]:
    """Every IANA zone name this host knows ("localtime" and "Factory" are not places)."""
    return frozenset(available_timezones() - {"localtime", "Factory"})


def as_time_zone(value: Any) -> str:
    """An IANA zone name such as Europe/Berlin; anything else would fail on the first page."""
    name = str(value).strip()
    if name not in time_zone_names():
        raise ValueError(f"expected an IANA time zone such as Europe/Berlin, got {value!r}")
    return name


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[Any], Any]
    doc: str
    required_in_production: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SHARING_SIGNING_KEY",
        None,
        _as_str,
        "Ed25519 private key (base64 of 32 bytes) that signs permission records; "
        "development keeps a generated one in the instance folder.",
        required_in_production=True,
    ),
    Setting(
        "SHARING_PUBLISHER_NAME",
        "",
        _as_str,
        "The publisher named in credit lines and sharing emails; empty uses SITE_NAME.",
    ),
    Setting("SHARING_CONTACT_EMAIL", "", _as_str, "Reply-to address of sharing emails."),
    Setting(
        "SHARING_AUTO_GRANT_LINKS",
        True,
        _as_bool,
        "Grant link-only requests at once (linking needs no permission).",
    ),
    Setting(
        "SHARING_AUTO_GRANT_EXCERPT_WORDS",
        0,
        int,
        "Grant excerpts up to this many words at once; 0 sends every excerpt to a person.",
    ),
    Setting(
        "SHARING_MIN_FILL_SECONDS",
        timedelta(seconds=3),
        _as_duration,
        "A share form sent faster than this is refused as a bot.",
    ),
    Setting(
        "SHARING_VERIFY_TTL",
        timedelta(hours=48),
        _as_duration,
        "How long an email confirmation link works.",
    ),
    Setting(
        "SHARING_UNVERIFIED_TTL",
        timedelta(days=7),
        _as_duration,
        "Unconfirmed requests are deleted after this.",
    ),
    Setting(
        "SHARING_REMIND_AFTER",
        timedelta(days=7),
        _as_duration,
        "Staff are reminded of requests pending this long.",
    ),
    Setting(
        "SHARING_CLOSE_AFTER",
        timedelta(days=30),
        _as_duration,
        "Requests pending this long are closed and the reader told.",
    ),
    Setting(
        "SHARING_WARN_BEFORE",
        timedelta(days=14),
        _as_duration,
        "Grantees are warned this long before a permission ends.",
    ),
    Setting(
        "SHARING_NOTIFY_CORRECTIONS",
        True,
        _as_bool,
        "Email grantees when an article they hold a permission for is corrected or retracted.",
    ),
    Setting(
        "SHARING_RATE_LIMIT_IP",
        "5 per hour",
        _as_str,
        "Share requests per address (Flask-Limiter syntax).",
    ),
    Setting("SHARING_RATE_LIMIT_EMAIL", "3 per day", _as_str, "Share requests per email address."),
    Setting(
        "SHARING_VISIT_FLUSH_SECONDS",
        1.0,
        float,
        "How often each worker writes counted share-link visits.",
    ),
    Setting(
        "SHARING_LINK_CACHE_SECONDS",
        5.0,
        float,
        "How long a worker trusts a share link's target before looking again.",
    ),
    Setting(
        "API_RATE_LIMIT",
        "600 per minute",
        _as_str,
        "Requests allowed per API token (Flask-Limiter syntax).",
    ),
    Setting(
        "LOG_FORMAT",
        "text",
        _one_of("text", "json"),
        "text, or json: one JSON object per line with the request id.",
    ),
    Setting(
        "LOG_LEVEL", "info", _one_of("debug", "info", "warning", "error"), "Lowest level logged."
    ),
    Setting(
        "METRICS_TOKEN",
        "",
        _as_str,
        "Bearer token that opens /metrics to other hosts (loopback is always allowed).",
    ),
    Setting(
        "METRICS_DIR",
        "",
        _as_str,
        "Directory where web workers share request counters (gunicorn.conf.py sets it).",
    ),
    Setting(
        "RATELIMIT_STORAGE_URI",
        "memory://",
        _as_str,
        "Rate-limit counters: memory:// (one process) or redis://host:6379/0 (shared by "
        "every worker, needed with several).",
    ),
    Setting(
        "ENV",
        "development",
        _as_str,
        "development, production or testing; production refuses unsafe defaults.",
    ),
    Setting(
        "SECRET_KEY",
        None,
        _as_str,
        "Signs sessions and links. Development keeps a generated one in the instance folder.",
        required_in_production=True,
    ),
    Setting(
        "SITE_URL",
        "http://127.0.0.1:5000",
        _as_str,
        "Public base URL for every absolute link (feeds, emails, share links).",
        required_in_production=True,
    ),
    Setting(
        "SITE_NAME",
        "",
        _as_str,
        "The publication's name: in the header and titles of public pages, and the feeds' "
        "title and the publisher in credit lines and emails unless FEED_TITLE or "
        "SHARING_PUBLISHER_NAME say otherwise. Empty uses FEED_TITLE, then SITE_URL's host. "
        "A name an administrator sets under Publication in the dashboard wins.",
    ),
    Setting(
        "DATABASE_URL",
        None,
        _as_str,
        "SQLAlchemy URL; default: SQLite file syndicate.db in the instance folder.",
    ),
    Setting(
        "TOKEN_KEYS",
        None,
        _as_list,
        "Fernet keys, newest first, comma-separated; encrypt OAuth tokens at rest. "
        "Development keeps a generated one in the instance folder.",
        required_in_production=True,
    ),
    Setting(
        "TIME_ZONE",
        "UTC",
        as_time_zone,
        "IANA zone used for new staff accounts and for the public pages.",
    ),
    Setting(
        "SESSION_LIFETIME",
        timedelta(days=14),
        _duration_between(timedelta(minutes=5), timedelta(days=90)),
        "How long a staff sign-in lasts (5 minutes to 90 days). Signing out ends that "
        "browser's session at once, a password change or deactivation every session of the user.",
    ),
    Setting("PAGE_SIZE", 20, int, "Rows per page in lists."),
    Setting(
        "LINKEDIN_SANDBOX",
        False,
        _as_bool,
        "Serve the built-in LinkedIn sandbox at /linkedin-sandbox and talk to it instead of "
        "LinkedIn (make run turns this on; never in production).",
    ),
    Setting("LINKEDIN_CLIENT_ID", "", _as_str, "LinkedIn app client id."),
    Setting("LINKEDIN_CLIENT_SECRET", "", _as_str, "LinkedIn app client secret."),
    Setting(
        "LINKEDIN_AUTH_BASE",
        "https://www.linkedin.com",
        _as_str,
        "Base URL of LinkedIn's OAuth endpoints (the sandbox's URL under make run).",
    ),
    Setting(
        "LINKEDIN_API_BASE",
        "https://api.linkedin.com",
        _as_str,
        "Base URL of LinkedIn's REST API (the sandbox's URL under make run).",
    ),
    Setting(
        "LINKEDIN_VERSION",
        "202611",
        _as_str,
        "The LinkedIn-Version header (YYYYMM); LinkedIn sunsets versions after a year.",
    ),
    Setting(
        "LINKEDIN_TIMEOUT",
        20.0,
        float,
        "Seconds to wait for LinkedIn's answer; after that a post's outcome is unknown "
        "and is settled later, never retried blind.",
    ),
    Setting(
        "DISPATCH_LEASE",
        timedelta(minutes=2),
        _as_duration,
        "How long a worker owns a post it is sending; a dead worker's posts are "
        "recovered after this. Must exceed SYNDICATE_LINKEDIN_TIMEOUT by 5 s.",
    ),
    Setting(
        "DISPATCH_RECONCILE_AFTER",
        timedelta(minutes=2),
        _as_duration,
        "Wait before settling a post whose outcome is unknown.",
    ),
    Setting(
        "MISSED_AFTER",
        timedelta(days=2),
        _as_duration,
        "A scheduled post this late (e.g. after downtime) is marked missed, not sent.",
    ),
    Setting(
        "POST_STATS_SCHEDULE",
        as_stats_schedule("1h until 2d, 1d until 30d, 7d until 90d"),
        as_stats_schedule,
        "How often a published post's LinkedIn figures are fetched, by its age; after the "
        "last age they are no longer fetched.",
    ),
    Setting(
        "POST_STATS_BATCH",
        50,
        _whole_number(1, 100),
        "Posts of one page whose figures are fetched in one LinkedIn call (fewer when the "
        "URL would pass 4000 characters).",
    ),
    Setting(
        "UTM_CAMPAIGN",
        "syndicate",
        _as_str,
        "utm_campaign of links in LinkedIn posts (utm_source=linkedin, utm_medium=social).",
    ),
    Setting(
        "SMTP_URL",
        "",
        _as_str,
        "smtp://user:pass@host:port (smtps:// for TLS); empty shows mail in the dashboard.",
    ),
    Setting("MAIL_FROM", "syndicate@localhost", _as_str, "From address of every email."),
    Setting("WEBSUB_HUB", "", _as_str, "External WebSub hub; empty makes syndicate its own hub."),
    Setting(
        "FEED_ITEMS",
        20,
        _whole_number(1, 500),
        "Articles per archive page; each feed shows the newest ones not yet archived "
        "(this many, up to twice as many less one; everything until two pages can be archived).",
    ),
    Setting(
        "FEED_TTL_MINUTES",
        15,
        _whole_number(1, 1440),
        "How often readers should poll feeds: RSS ttl, sy: hints and Cache-Control max-age.",
    ),
    Setting("FEED_TITLE", "", _as_str, "Title of the feeds; empty uses SITE_NAME."),
    Setting(
        "PROXY_FIX_X_FOR",
        0,
        int,
        "Number of reverse proxies in front whose X-Forwarded-* headers are trusted.",
    ),
    Setting(
        "FETCH_ALLOW_PRIVATE",
        False,
        _as_bool,
        "Let server-side fetches reach private and loopback addresses (tests only).",
    ),
    Setting("FETCH_TIMEOUT", 10.0, float, "Seconds a server-side fetch may take in all."),
    Setting("FETCH_MAX_BYTES", 10 * 1024 * 1024, int, "Largest body a server-side fetch reads."),
    Setting("FETCH_MAX_REDIRECTS", 5, int, "Redirects a server-side fetch follows."),
    Setting("SOURCE_SYNC_MINUTES", 60, int, "Default interval for periodically synced sources."),
    Setting(
        "SCHEDULER_TICK_SECONDS",
        10,
        int,
        "How often the scheduler process runs its jobs (a due post waits at most this).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def _instance_secret(instance_path: Path, filename: str, make: Callable[[], str]) -> str:
    """Read or create a development secret kept beside the SQLite database.

    Web and scheduler processes must agree on it, so it cannot be random per process.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / filename
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def site_name(config: Mapping[str, Any]) -> str:
    """The publication's name as its readers see it (SYNDICATE_SITE_NAME and its fallbacks)."""
    return str(
        config.get("SITE_NAME")
        or config.get("FEED_TITLE")
        or urlsplit(str(config.get("SITE_URL") or "")).netloc
        or "syndicate"
    )


def derived(app: Any, name: str, keys: Iterable[str], build: Callable[[Mapping[str, Any]], T]) -> T:
    """``build(app.config)``, kept in app.extensions until one of the ``keys`` it reads changes.

    For objects that hot paths need per request (feed settings, the sharing context):
    comparing a few values is cheaper than parsing them again, and tests that change a
    setting on a running app still get a fresh object.
    """
    config = app.config
    values = [config.get(key) for key in keys]
    known = app.extensions.get(name)
    if known is None or known[0] != values:
        known = app.extensions[name] = (values, build(config))
    return known[1]  # type: ignore[no-any-return]


def resolve(raw: Mapping[str, Any], instance_path: Path) -> dict[str, Any]:
    """Turn raw values into typed settings, filling defaults and checking production needs."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        value = raw.get(setting.name)
        if value is None or value == "":
            values[setting.name] = setting.default
            continue
        try:
            values[setting.name] = setting.parse(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"SYNDICATE_{setting.name} is malformed: {exc}") from None

    env = values["ENV"]
    if env not in {"development", "production", "testing"}:
        raise ConfigError("SYNDICATE_ENV must be development, production or testing")
    if env == "production":
        missing = [
            f"SYNDICATE_{s.name}"
            for s in SETTINGS
            if s.required_in_production and raw.get(s.name) in (None, "", [])
        ]
        if missing:
            raise ConfigError(
                "Production needs these settings: "
                + ", ".join(missing)
                + ". See README.md, section Configure."
            )
    else:
        if not values["SECRET_KEY"]:
            values["SECRET_KEY"] = _instance_secret(
                instance_path, "secret_key", lambda: secrets.token_urlsafe(48)
            )
        if not values["SHARING_SIGNING_KEY"]:
            values["SHARING_SIGNING_KEY"] = _instance_secret(
                instance_path,
                "sharing_signing_key",
                lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
            )
        if not values["TOKEN_KEYS"]:
            values["TOKEN_KEYS"] = [
                _instance_secret(instance_path, "token_key", lambda: Fernet.generate_key().decode())
            ]
    for key in values["TOKEN_KEYS"]:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                "SYNDICATE_TOKEN_KEYS holds a key that is not a Fernet key "
                "(make one with: syndicate tokens new-key)"
            ) from None
    if not values["DATABASE_URL"]:
        instance_path.mkdir(parents=True, exist_ok=True)
        values["DATABASE_URL"] = f"sqlite:///{instance_path / 'syndicate.db'}"
    values["SITE_URL"] = values["SITE_URL"].rstrip("/")
    for name in ("SHARING_RATE_LIMIT_IP", "SHARING_RATE_LIMIT_EMAIL", "API_RATE_LIMIT"):
        try:
            parse_many(values[name])
        except ValueError:
            raise ConfigError(
                f"SYNDICATE_{name} is not a rate limit such as '5 per hour'"
            ) from None
    if values["DISPATCH_LEASE"].total_seconds() <= values["LINKEDIN_TIMEOUT"] + 5:
        raise ConfigError(
            "SYNDICATE_DISPATCH_LEASE must be longer than "
            "SYNDICATE_LINKEDIN_TIMEOUT plus 5 seconds, or a slow answer could "
            "let a second worker send the same post"
        )
    if values["LINKEDIN_SANDBOX"]:
        if env == "production":
            raise ConfigError("SYNDICATE_LINKEDIN_SANDBOX is for development, not production")
        _point_at_sandbox(values, raw)
    return values


# Where create_app mounts the LinkedIn sandbox, and the demo app the sandbox registers: the
# sandbox reads these from here, so settings never import the sandbox.
SANDBOX_PATH = "/linkedin-sandbox"
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - the sandbox's published demo secret


def _point_at_sandbox(values: dict[str, Any], raw: Mapping[str, Any]) -> None:
    """Default the LinkedIn settings to the sandbox mounted on this very app."""
    base = values["SITE_URL"] + SANDBOX_PATH
    for name, value in (
        ("LINKEDIN_AUTH_BASE", base),
        ("LINKEDIN_API_BASE", base),
        ("LINKEDIN_CLIENT_ID", SANDBOX_CLIENT_ID),
        ("LINKEDIN_CLIENT_SECRET", SANDBOX_CLIENT_SECRET),
    ):
        if not raw.get(name):
            values[name] = value


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The raw values of every known ``SYNDICATE_*`` variable that is set."""
    return {
        name: environ[f"SYNDICATE_{name}"] for name in _BY_NAME if f"SYNDICATE_{name}" in environ
    }
