"""`syndicate doctor`: each check against real services, and the exit code."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from syndicate import create_app, doctor, migrate
from syndicate.config import ConfigError, resolve
from syndicate.crypto import TokenVault
from syndicate.db import make_engine
from syndicate.doctor import Check, diagnose, doctor_command, run_checks
from syndicate.linkedin_sandbox.app import running_sandbox
from syndicate.mail.smtp import make_mailer
from tests.conftest import START, app_config, missing_service
from tests.factories import make_connection
from tests.mail.conftest import SmtpServer, free_port, password_checker

REDIS_URL = os.environ.get("SYNDICATE_TEST_REDIS_URL", "")


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def settings(tmp_path: Path, **raw: object) -> dict[str, object]:
    return resolve(raw, tmp_path)


PRODUCTION = {
    "ENV": "production",
    "SECRET_KEY": "k" * 48,
    "SITE_URL": "https://news.example.test",
    "TOKEN_KEYS": Fernet.generate_key().decode(),
    "SHARING_SIGNING_KEY": "B" * 43 + "=",
    "LINKEDIN_CLIENT_ID": "id",
    "LINKEDIN_CLIENT_SECRET": "secret",
    "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0",
    "PROXY_FIX_X_FOR": "1",
    "SMTP_URL": "smtp://127.0.0.1:25",
}


# --- settings ---------------------------------------------------------------------------


def test_a_complete_production_configuration_passes(tmp_path):
    checks = doctor.settings_checks(settings(tmp_path, **PRODUCTION))
    assert all(c.ok and not c.hint for c in checks), doctor.format_report(checks)


def test_production_over_plain_http_fails(tmp_path):
    config = settings(tmp_path, **{**PRODUCTION, "SITE_URL": "http://news.example.test"})
    check = by_name(doctor.settings_checks(config))["settings: site URL"]
    assert not check.ok and "https" in check.message


def test_short_secret_key_fails_in_production(tmp_path):
    config = settings(tmp_path, **{**PRODUCTION, "SECRET_KEY": "short"})
    assert not by_name(doctor.settings_checks(config))["settings: secret key"].ok


def test_missing_linkedin_app_fails_in_production(tmp_path):
    config = settings(tmp_path, **{**PRODUCTION, "LINKEDIN_CLIENT_SECRET": ""})
    assert not by_name(doctor.settings_checks(config))["settings: LinkedIn app"].ok


def test_per_process_rate_limits_and_no_proxy_are_warnings_in_production(tmp_path):
    config = settings(tmp_path, **{**PRODUCTION, "RATELIMIT_STORAGE_URI": "memory://",
                                   "PROXY_FIX_X_FOR": "0", "SMTP_URL": ""})
    checks = by_name(doctor.settings_checks(config))
    for name in ("settings: rate-limit storage", "settings: proxy", "settings: mail"):
        assert checks[name].ok and checks[name].status == "warn", name


def test_lease_not_longer_than_the_timeout_fails(tmp_path):
    config = {**settings(tmp_path, **PRODUCTION), "DISPATCH_LEASE": timedelta(seconds=20),
              "LINKEDIN_TIMEOUT": 20.0}
    check = by_name(doctor.settings_checks(config))["settings: dispatch lease"]
    assert not check.ok and "5 s" in check.hint


def test_a_setting_that_stops_start_up_is_reported_not_raised():
    def broken():
        raise ConfigError("Production needs these settings: SYNDICATE_SECRET_KEY.")

    (check,) = diagnose(broken)
    assert not check.ok and "SYNDICATE_SECRET_KEY" in check.message


@pytest.mark.parametrize(
    ("version", "ok", "words"),
    [
        ("202603", True, "202603 (this month's)"),
        ("202602", True, "202602 (1 month old)"),
        ("202505", True, "10 months"),
        ("202504", False, "about to be sunset"),
        ("202503", False, "426"),
        ("202401", False, "426"),
        ("202604", False, "future"),
        ("2026-3", False, "YYYYMM"),
        ("202613", False, "YYYYMM"),
        ("20260²", False, "YYYYMM"),
    ],
)
def test_linkedin_version_age(version, ok, words):
    check = doctor.linkedin_version_check(version, now=START)  # 2026-03-02
    assert check.ok is ok and words in check.message


# --- database ---------------------------------------------------------------------------


def test_a_migrated_database_passes(app):
    checks = by_name(doctor.database_checks(app))
    assert checks["database"].ok and checks["database schema"].ok
    assert "password" not in checks["database"].message


def test_an_unmigrated_database_asks_for_an_upgrade(tmp_path):
    app = create_app(app_config(f"sqlite:///{tmp_path / 'empty.db'}",
                                INSTANCE_PATH=str(tmp_path / "i")))
    checks = by_name(doctor.database_checks(app))
    app.extensions["database"].engine.dispose()
    assert checks["database"].ok
    assert not checks["database schema"].ok
    assert checks["database schema"].hint == "Run: syndicate db upgrade"


def test_an_unreachable_database_fails_quickly_without_the_password(tmp_path):
    url = f"postgresql://syndicate:pa55word@127.0.0.1:{free_port()}/syndicate"
    app = create_app(app_config(url, INSTANCE_PATH=str(tmp_path / "i")))
    started = datetime.now(UTC)
    (check,) = doctor.database_checks(app)
    app.extensions["database"].engine.dispose()
    assert not check.ok and "unreachable" in check.message
    assert "pa55word" not in check.message
    assert datetime.now(UTC) - started < timedelta(seconds=10)


def _store_token(session, vault: TokenVault, n: int) -> None:
    make_connection(session, now=START, member_urn=f"urn:li:person:doctor-{n}",
                    access_token_encrypted=vault.encrypt(f"token-{n}"))
    session.commit()


@pytest.fixture
def keyed_app(fresh_database, tmp_path):
    """An app on a committed database (the doctor reads through its own connection)."""
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    app = create_app(app_config(fresh_database, INSTANCE_PATH=str(tmp_path / "i"),
                                TOKEN_KEYS=[new, old]))
    yield app, old, new
    app.extensions["database"].engine.dispose()


def test_tokens_on_an_older_key_ask_for_rotation(keyed_app):
    app, old, new = keyed_app
    with app.extensions["database"].sessions() as session:
        _store_token(session, TokenVault([old]), 1)
        _store_token(session, TokenVault([new]), 2)
    check = by_name(doctor.database_checks(app))["stored tokens"]
    assert check.ok and "1 on the newest key, 1 on older keys" in check.message
    assert "syndicate tokens rotate" in check.hint


def test_tokens_no_key_opens_fail(keyed_app):
    app, _old, _new = keyed_app
    with app.extensions["database"].sessions() as session:
        _store_token(session, TokenVault([Fernet.generate_key().decode()]), 3)
    check = by_name(doctor.database_checks(app))["stored tokens"]
    assert not check.ok and "1 unreadable" in check.message


def _grant_a_link(app) -> None:  # noqa: ANN001
    """One granted request, hence one signed permission record, committed."""
    from syndicate.sharing.asking import RequestInput, submit_request
    from syndicate.sharing.context import Sharing
    from syndicate.sharing.deciding import apply_rules
    from syndicate.sharing.models import RequestState
    from tests.factories import make_article

    ctx = Sharing.for_app(app)
    with app.extensions["database"].transaction() as session:
        article = make_article(session, now=START)
        request = submit_request(session, article, RequestInput(
            name="Ada Reader", email="ada@example.org", where="linkedin_profile",
            where_url="https://www.linkedin.com/in/ada", kind="link"), now=START, ctx=ctx)
        request.verified_at, request.state = START, RequestState.PENDING
        session.flush()
        apply_rules(session, request, now=START, ctx=ctx)


def test_records_signed_with_a_replaced_key_fail_until_signed_again(keyed_app):
    from tests.sharing.conftest import change_signing_key

    app, _old, _new = keyed_app
    _grant_a_link(app)
    check = by_name(doctor.database_checks(app))["permission records"]
    assert check.ok and check.message.startswith("1 signed with the current key")

    change_signing_key(app)
    check = by_name(doctor.database_checks(app))["permission records"]
    assert not check.ok and "0 signed with the current key" in check.message
    assert "1 with other keys" in check.message and "syndicate sharing re-sign" in check.hint

    assert app.test_cli_runner().invoke(args=["sharing", "re-sign"]).exit_code == 0
    assert by_name(doctor.database_checks(app))["permission records"].ok


# --- Redis ------------------------------------------------------------------------------


def test_redis_not_used_with_memory_storage():
    assert doctor.redis_check("memory://").ok


def test_reachable_redis_passes():
    if not REDIS_URL:
        missing_service("SYNDICATE_TEST_REDIS_URL is not set, so Redis tests cannot run")
    check = doctor.redis_check(REDIS_URL)
    assert check.ok and "PING" in check.message


def test_unreachable_redis_fails_without_the_password():
    check = doctor.redis_check(f"redis://:s3cret@127.0.0.1:{free_port()}/0", timeout=2)
    assert not check.ok and "unreachable" in check.message and "s3cret" not in check.message


# --- SMTP -------------------------------------------------------------------------------


def smtp_check(url: str) -> Check:
    """Doctor's SMTP check of the mailer the app would build from ``url``."""
    return doctor.smtp_check(make_mailer(url, "news@example.test"))


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(auth_require_tls=False,
                        authenticator=password_checker("mailer", "right")).start()
    yield server
    server.stop()


def test_reachable_smtp_passes(smtp_server):
    check = smtp_check(smtp_server.url())
    assert check.ok and "EHLO" in check.message
    assert smtp_server.inbox.seen == []  # nothing was sent


def test_smtp_login_is_tried_with_the_configured_credentials(smtp_server):
    good = smtp_check(smtp_server.url(userinfo="mailer:right"))
    bad = smtp_check(smtp_server.url(userinfo="mailer:wrong"))
    assert good.ok and "login" in good.message
    assert not bad.ok and "wrong" not in bad.message


def test_smtp_without_the_starttls_the_url_insists_on_fails(smtp_server):
    check = smtp_check(smtp_server.url(query="starttls=1"))
    assert not check.ok and check.message.endswith("offers no STARTTLS")
    assert "?starttls=1" in check.hint


def test_smtp_on_a_closed_port_fails():
    check = smtp_check(f"smtp://127.0.0.1:{free_port()}")
    assert not check.ok and "127.0.0.1" in check.message


def test_malformed_smtp_url_fails():
    check = smtp_check("mail://nowhere")
    assert not check.ok and "smtp://" in check.message


def test_smtp_not_configured_is_fine():
    assert smtp_check("").ok


# --- LinkedIn ---------------------------------------------------------------------------


def test_reachable_linkedin_passes():
    with running_sandbox() as (base, _sandbox):
        check = doctor.linkedin_reachable_check({"LINKEDIN_AUTH_BASE": base})
    assert check.ok


def test_unreachable_linkedin_fails():
    check = doctor.linkedin_reachable_check(
        {"LINKEDIN_AUTH_BASE": f"http://127.0.0.1:{free_port()}"}, timeout=2
    )
    assert not check.ok and "firewall" in check.hint


class _NotLinkedIn(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>captive portal</html>")

    def log_message(self, *args: object) -> None:
        pass


def test_something_else_answering_fails():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotLinkedIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        check = doctor.linkedin_reachable_check(
            {"LINKEDIN_AUTH_BASE": f"http://127.0.0.1:{server.server_port}"}
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert not check.ok and "OpenID" in check.message


# --- the whole run and the command ------------------------------------------------------


def test_run_checks_reports_every_area(app):
    names = [c.name for c in run_checks(app, timeout=2)]
    for name in ("settings: environment", "LinkedIn version", "database", "database schema",
                 "Redis", "SMTP", "LinkedIn"):
        assert name in names


def _environment(url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    env.update({
        "SYNDICATE_ENV": "testing",
        "SYNDICATE_DATABASE_URL": url,
        "SYNDICATE_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATE_LINKEDIN_VERSION": datetime.now(UTC).strftime("%Y%m"),
        **{f"SYNDICATE_{k}": v for k, v in extra.items()},
    })
    return env


def test_command_exits_0_when_everything_is_right(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'ok.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    with running_sandbox() as (base, _sandbox):
        for name, value in _environment(url, tmp_path, LINKEDIN_AUTH_BASE=base).items():
            monkeypatch.setenv(name, value)
        result = CliRunner().invoke(doctor_command, [])
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output


def test_command_exits_1_and_says_what_is_wrong(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for name, value in _environment(
        url, tmp_path, LINKEDIN_AUTH_BASE=f"http://127.0.0.1:{free_port()}"
    ).items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(doctor_command, [])
    assert result.exit_code == 1
    assert "FAIL  database schema" in result.output
    assert "syndicate db upgrade" in result.output


def test_command_reports_a_broken_setting(tmp_path, monkeypatch):
    for name, value in _environment("sqlite://", tmp_path, ENV="production").items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(doctor_command, [])
    assert result.exit_code == 1
    assert "FAIL  settings: Production needs these settings" in result.output
