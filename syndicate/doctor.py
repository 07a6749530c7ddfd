"""`syndicate doctor`: check settings, database, Redis, SMTP and LinkedIn, and say what is wrong.

Each check gives a name, whether it passed, what it found and, when there is something to
do, a hint. A passing check with a hint is a warning. Network checks give up after five
seconds. Nothing printed contains a password, token or key.
"""

from __future__ import annotations

import smtplib
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import click
import requests
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.pool import NullPool

from syndicate.web.params import digits
from syndicate.wording import count

if TYPE_CHECKING:
    from syndicate.mail.smtp import MisconfiguredMailer, SmtpMailer

TIMEOUT = 5.0
# LinkedIn supports each monthly version for at least a year, then answers 426.
VERSION_WARN_MONTHS = 11
MIN_SECRET_KEY_LENGTH = 32


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    message: str
    hint: str = ""

    @property
    def status(self) -> str:
        if not self.ok:
            return "FAIL"
        return "warn" if self.hint else "ok"


def diagnose(make_app: Callable[[], Flask]) -> list[Check]:
    """Build the app and check it; settings that stop the app from starting are a failure."""
    from syndicate.config import ConfigError

    try:
        app = make_app()
    except ConfigError as exc:
        return [Check("settings", False, str(exc), "Fix the setting and run doctor again.")]
    try:
        return run_checks(app)
    finally:
        app.extensions["database"].engine.dispose()


@click.command("doctor")
def doctor_command() -> None:
    """Check settings, database, Redis, SMTP and LinkedIn; exit 1 when anything is wrong."""
    from syndicate import create_app

    checks = diagnose(create_app)
    click.echo(format_report(checks))
    failed = [check.name for check in checks if not check.ok]
    if failed:
        click.echo(f"\n{len(failed)} problem(s): {', '.join(failed)}", err=True)
        sys.exit(1)


def run_checks(app: Flask, *, timeout: float = TIMEOUT) -> list[Check]:
    """Every check, in the order an operator would fix things."""
    config = app.config
    now: datetime = app.extensions["clock"].now()
    checks = list(settings_checks(config))
    checks.append(linkedin_version_check(config["LINKEDIN_VERSION"], now=now))
    checks.extend(database_checks(app, timeout=timeout))
    checks.append(redis_check(config["RATELIMIT_STORAGE_URI"], timeout=timeout))
    checks.append(smtp_check(app.extensions["mailer"], timeout=timeout))
    checks.append(linkedin_reachable_check(config, timeout=timeout))
    return checks


def format_report(checks: Iterable[Check]) -> str:
    lines = []
    for check in checks:
        lines.append(f"{check.status:<4}  {check.name}: {check.message}")
        if check.hint:
            lines.append(f"      -> {check.hint}")
    return "\n".join(lines)


def redact_url(url: str) -> str:
    """The URL without user name, password or query (which may hold secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(malformed URL)"
    if ":" in host:
        host = f"[{host}]"
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


# --- settings ---------------------------------------------------------------------------


def settings_checks(config: Mapping[str, Any]) -> list[Check]:
    production = config["ENV"] == "production"
    checks = [
        Check(
            "settings: environment",
            True,
            f"SYNDICATE_ENV={config['ENV']}",
            "" if production else "Set SYNDICATE_ENV=production on a public server: it "
            "refuses unsafe defaults and turns on Secure cookies and HSTS.",
        )
    ]
    site = urlsplit(config["SITE_URL"])
    if production and site.scheme != "https":
        checks.append(Check("settings: site URL", False,
                            f"SYNDICATE_SITE_URL is {config['SITE_URL']}, not https",
                            "Serve the site over HTTPS and set SYNDICATE_SITE_URL to the "
                            "https:// address readers use."))
    else:
        checks.append(Check("settings: site URL", bool(site.netloc), config["SITE_URL"],
                            "" if site.netloc else "SYNDICATE_SITE_URL needs a host."))
    if production and len(str(config["SECRET_KEY"])) < MIN_SECRET_KEY_LENGTH:
        checks.append(Check("settings: secret key", False,
                            f"SYNDICATE_SECRET_KEY is shorter than {MIN_SECRET_KEY_LENGTH} "
                            "characters",
                            "Generate one: python -c 'import secrets; "
                            "print(secrets.token_urlsafe(48))'"))
    else:
        checks.append(Check("settings: secret key", True, "set"))
    checks.append(_token_keys_setting(config["TOKEN_KEYS"]))
    lease = config["DISPATCH_LEASE"].total_seconds()
    timeout = float(config["LINKEDIN_TIMEOUT"])
    checks.append(Check(
        "settings: dispatch lease",
        lease > timeout + 5,
        f"lease {lease:g} s, LinkedIn timeout {timeout:g} s",
        "" if lease > timeout + 5 else "SYNDICATE_DISPATCH_LEASE must exceed "
        "SYNDICATE_LINKEDIN_TIMEOUT by more than 5 s, or a slow answer lets a second "
        "worker send the same post.",
    ))
    if production and not (config["LINKEDIN_CLIENT_ID"] and config["LINKEDIN_CLIENT_SECRET"]):
        checks.append(Check("settings: LinkedIn app", False,
                            "SYNDICATE_LINKEDIN_CLIENT_ID or _CLIENT_SECRET is empty",
                            "Create an app at https://www.linkedin.com/developers/ and set "
                            "both; without them nobody can connect an account."))
    else:
        checks.append(Check("settings: LinkedIn app", True,
                            "client id set" if config["LINKEDIN_CLIENT_ID"] else "not set"))
    storage = str(config["RATELIMIT_STORAGE_URI"])
    checks.append(Check(
        "settings: rate-limit storage", True,
        storage if storage.startswith("memory") else redact_url(storage),
        "memory:// counts per process: with several gunicorn workers each has its own "
        "limit. Use redis://." if production and storage.startswith("memory") else "",
    ))
    checks.append(Check(
        "settings: proxy", True, f"SYNDICATE_PROXY_FIX_X_FOR={config['PROXY_FIX_X_FOR']}",
        "Behind nginx set SYNDICATE_PROXY_FIX_X_FOR=1 (the number of proxies), or every "
        "client shares the proxy's rate-limit bucket."
        if production and not config["PROXY_FIX_X_FOR"] else "",
    ))
    if production and not config["SMTP_URL"]:
        checks.append(Check("settings: mail", True, "SYNDICATE_SMTP_URL is empty",
                            "Emails are kept in the dashboard but never sent; set "
                            "SYNDICATE_SMTP_URL."))
    return checks


def _token_keys_setting(keys: list[str]) -> Check:
    for key in keys:
        try:
            Fernet(key)
        except (ValueError, TypeError):
            return Check("settings: token keys", False, "a key is not a Fernet key",
                         "Make one with: syndicate tokens new-key")
    return Check("settings: token keys", bool(keys), f"{len(keys)} key(s)",
                 "" if keys else "Set SYNDICATE_TOKEN_KEYS.")


def linkedin_version_check(version: str, *, now: datetime) -> Check:
    """LinkedIn-Version is YYYYMM, released monthly, sunset after about a year."""
    name = "LinkedIn version"
    hint = "Set SYNDICATE_LINKEDIN_VERSION to a recent month (YYYYMM) and restart."
    if len(version) != 6 or digits(version) is None or not 1 <= int(version[4:]) <= 12:
        return Check(name, False, f"{version!r} is not YYYYMM", hint)
    age = (now.year * 12 + now.month) - (int(version[:4]) * 12 + int(version[4:]))
    if age < 0:
        return Check(name, False, f"{version} is in the future", hint)
    old = f"{count(age, 'month')} old" if age else "this month's"
    if age >= 12:
        return Check(name, False, f"{version} is {old}: past LinkedIn's one-year "
                     "support, so LinkedIn answers 426 and sending is paused", hint)
    if age >= VERSION_WARN_MONTHS:
        return Check(name, False, f"{version} is {old} and about to be sunset "
                     "(LinkedIn will answer 426)", hint)
    return Check(name, True, f"{version} ({old})")


# --- database ---------------------------------------------------------------------------


def _probe_engine(engine: Engine, timeout: float) -> tuple[Engine, bool]:
    """An engine that gives up connecting after `timeout` (PostgreSQL), and whether it is ours."""
    if engine.dialect.name == "postgresql":
        return create_engine(engine.url, poolclass=NullPool,
                             connect_args={"connect_timeout": max(1, int(timeout))}), True
    return engine, False


def database_checks(app: Flask, *, timeout: float = TIMEOUT) -> list[Check]:
    from syndicate import migrate
    from syndicate.db import get_database

    engine, owned = _probe_engine(get_database(app).engine, timeout)
    where = engine.url.render_as_string(hide_password=True)
    try:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            current = migrate.current_revision(engine)
        except Exception as exc:  # noqa: BLE001 - any driver error means "unreachable"
            return [Check("database", False, f"{where} unreachable: {_brief(exc)}",
                          "Check SYNDICATE_DATABASE_URL and that the server is running.")]
        checks = [Check("database", True, f"{where} reachable")]
        head = migrate.head_revision()
        if current != head:
            checks.append(Check("database schema", False,
                                f"at {current or 'no revision'}, newest is {head}",
                                "Run: syndicate db upgrade"))
            return checks
        checks.append(Check("database schema", True, f"at the newest revision {head}"))
        checks.append(_stored_tokens_check(engine, app.config["TOKEN_KEYS"]))
        checks.extend(_signed_records_check(engine, app))
        return checks
    finally:
        if owned:
            engine.dispose()


def _stored_tokens_check(engine: Engine, keys: list[str]) -> Check:
    """Which key opens each stored token: tells when an old key may be dropped."""
    from syndicate.linkedin.models import LinkedInConnection

    newest, every = Fernet(keys[0]), MultiFernet([Fernet(k) for k in keys])
    on_newest = on_older = unreadable = 0
    with engine.connect() as connection:
        rows = connection.execute(select(LinkedInConnection.access_token_encrypted,
                                         LinkedInConnection.refresh_token_encrypted)).all()
    for sealed in (value for row in rows for value in row if value):
        try:
            newest.decrypt(sealed.encode())
            on_newest += 1
            continue
        except InvalidToken:
            pass
        try:
            every.decrypt(sealed.encode())
            on_older += 1
        except InvalidToken:
            unreadable += 1
    message = f"{on_newest} on the newest key, {on_older} on older keys, {unreadable} unreadable"
    if unreadable:
        return Check("stored tokens", False, message,
                     "A key that encrypted them is missing from SYNDICATE_TOKEN_KEYS (put it "
                     "back), or they were tampered with; those connections must reconnect.")
    if on_older:
        return Check("stored tokens", True, message,
                     "Run `syndicate tokens rotate` before dropping the older keys.")
    return Check("stored tokens", True, message)


def _signed_records_check(engine: Engine, app: Flask) -> list[Check]:
    """Whether every permission record verifies against the key the site publishes."""
    from syndicate.config import ConfigError
    from syndicate.sharing.records import records_by_key
    from syndicate.sharing.signing import signer_for

    try:
        key_id = signer_for(app).key_id
    except ConfigError:
        return []  # the settings check has said what is wrong with the key
    with engine.connect() as connection:
        on_current, on_other = records_by_key(connection, key_id)
    message = f"{on_current} signed with the current key {key_id}, {on_other} with other keys"
    if on_other:
        return [Check("permission records", False, message,
                      "Their signatures do not verify against the published key. After "
                      "every process has the new SYNDICATE_SHARING_SIGNING_KEY, run: "
                      "syndicate sharing re-sign")]
    return [Check("permission records", True, message)]


# --- network services -------------------------------------------------------------------


def redis_check(uri: str, *, timeout: float = TIMEOUT) -> Check:
    name = "Redis"
    if not uri.startswith(("redis://", "rediss://", "unix://")):
        return Check(name, True, f"not used (rate limits in {uri.split(':', 1)[0]})")
    try:
        import redis
    except ImportError:
        return Check(name, False, "the redis package is not installed",
                     "pip install 'flask-limiter[redis]' (it brings redis).")
    where = redact_url(uri)
    try:
        client = redis.Redis.from_url(uri, socket_connect_timeout=timeout,
                                      socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return Check(name, False, f"{where} unreachable: {_brief(exc)}",
                     "Check SYNDICATE_RATELIMIT_STORAGE_URI and that redis-server runs; "
                     "rate-limited pages fail while it is down.")
    return Check(name, True, f"{where} answers PING")


def smtp_check(mailer: SmtpMailer | MisconfiguredMailer | None, *,
               timeout: float = TIMEOUT) -> Check:
    """Connect as the mail job would (EHLO, STARTTLS, login), send nothing, QUIT."""
    from syndicate.mail.smtp import Handshake, MisconfiguredMailer

    name = "SMTP"
    if mailer is None:
        return Check(name, True, "not configured (mail is only shown in the dashboard)")
    if isinstance(mailer, MisconfiguredMailer):
        return Check(name, False, mailer.problem, "Fix SYNDICATE_SMTP_URL or SYNDICATE_MAIL_FROM.")
    handshake = Handshake()
    try:
        with mailer.connect(timeout=timeout, handshake=handshake):
            pass
    except (OSError, smtplib.SMTPException) as exc:
        if handshake.starttls_missing:
            return Check(name, False, f"{mailer.endpoint} offers no STARTTLS",
                         "The URL insists on it (?starttls=1).")
        return Check(name, False, f"{mailer.endpoint}: {_brief(exc)}",
                     "Check SYNDICATE_SMTP_URL (host, port, user, password) and the firewall.")
    return Check(name, True, f"{mailer.endpoint}: {', '.join(handshake.steps)} and QUIT ok")


def linkedin_reachable_check(config: Mapping[str, Any], *, timeout: float = TIMEOUT) -> Check:
    name = "LinkedIn"
    if config.get("LINKEDIN_SANDBOX"):
        return Check(name, True, "the built-in sandbox (development only)")
    url = f"{str(config['LINKEDIN_AUTH_BASE']).rstrip('/')}/oauth/.well-known/openid-configuration"
    try:
        answer = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        return Check(name, False, f"{redact_url(url)}: {_brief(exc)}",
                     "Check outbound HTTPS to LinkedIn (firewall, proxy, DNS) and "
                     "SYNDICATE_LINKEDIN_AUTH_BASE.")
    try:
        document = answer.json() if answer.status_code == 200 else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or "issuer" not in document:
        return Check(name, False, f"{redact_url(url)} answered {answer.status_code} without "
                     "an OpenID configuration", "Check SYNDICATE_LINKEDIN_AUTH_BASE.")
    return Check(name, True, f"{redact_url(url)} reachable")


def _brief(exc: BaseException) -> str:
    """The first line of an error, secrets masked (drivers sometimes echo what they got)."""
    from syndicate.web.logging import scrub

    text = str(exc).strip().splitlines()
    detail = scrub(text[0]) if text else ""
    return f"{type(exc).__name__}: {detail}"[:300] if detail else type(exc).__name__
