"""Request ids, JSON log lines and secrets kept out of the logs."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime

import pytest
from flask import Flask

from syndicate.web import logging as web_logging
from syndicate.web.logging import JsonFormatter, RequestIdFilter, TextFormatter, scrub


class Captured:
    """Log lines as a production handler would write them (formatter + request-id filter)."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)
        self.handler.addFilter(RequestIdFilter())

    @property
    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_logs() -> Iterator[Captured]:
    yield from _capture(JsonFormatter())


@pytest.fixture
def text_logs() -> Iterator[Captured]:
    yield from _capture(TextFormatter())


def _capture(formatter: logging.Formatter) -> Iterator[Captured]:
    captured = Captured(formatter)
    root = logging.getLogger()
    level = root.level
    root.addHandler(captured.handler)
    root.setLevel(logging.INFO)
    try:
        yield captured
    finally:
        root.removeHandler(captured.handler)
        root.setLevel(level)


def _access(captured: Captured) -> list[dict]:
    return [e for e in captured.json() if e["logger"] == "syndicate.access"]


@pytest.fixture
def app(app: Flask) -> Flask:
    """The web app plus routes that fail and that carry a secret in their path."""

    def boom() -> str:
        raise RuntimeError("upstream said no; Authorization: Bearer sk-live-123 password=hunter2")

    def reader(token: str) -> str:
        logging.getLogger("syndicate.test").info("reader link /sharing/r/%s opened", token)
        return "ok"

    app.add_url_rule("/test/boom", "test_boom", boom)
    app.add_url_rule("/sharing/r/<token>", "test_reader", reader)
    return app


# --- request ids ------------------------------------------------------------------------


def test_every_response_carries_a_new_request_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/no/such/page").headers["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second


def test_a_sane_incoming_request_id_is_kept(client):
    response = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.b_c-1"})
    assert response.headers["X-Request-ID"] == "edge-7f3a.b_c-1"


@pytest.mark.parametrize(
    "incoming",
    ["x" * 65, "has space", "semi;colon", "new\\nline", "<script>", "ünï", "a/b"],
)
def test_an_odd_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})
    returned = response.headers["X-Request-ID"]
    assert returned != incoming and len(returned) == 32


def test_errors_carry_the_request_id_too(client, json_logs):
    response = client.get("/test/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "trace-500"
    error = next(e for e in json_logs.json() if e["level"] == "ERROR")
    assert error["request_id"] == "trace-500"


# --- JSON lines -------------------------------------------------------------------------


def test_access_line_is_one_json_object_with_the_request_fields(client, json_logs):
    client.get("/articles/no-such-story", headers={"X-Request-ID": "req-1"})
    (entry,) = _access(json_logs)
    assert entry["level"] == "INFO"
    assert entry["request_id"] == "req-1"
    assert entry["method"] == "GET"
    assert entry["path"] == "/articles/no-such-story"
    assert entry["route"] == "/articles/<slug>"
    assert entry["status"] == 404
    assert isinstance(entry["duration_ms"], int | float) and entry["duration_ms"] >= 0
    assert entry["time"].endswith("Z")
    assert datetime.fromisoformat(entry["time"].replace("Z", "+00:00")).utcoffset().seconds == 0
    assert isinstance(entry["pid"], int)


def test_exceptions_are_a_string_field_with_secrets_masked(client, json_logs):
    client.get("/test/boom")
    error = next(e for e in json_logs.json() if e["level"] == "ERROR")
    assert "RuntimeError" in error["exc_info"] and "Traceback" in error["exc_info"]
    everything = "\n".join(json_logs.lines)
    assert "sk-live-123" not in everything and "hunter2" not in everything


def test_query_strings_never_reach_the_log(client, json_logs):
    client.get("/healthz?token=abc123&code=oauth-code-9")
    (entry,) = _access(json_logs)
    assert entry["path"] == "/healthz"
    assert "abc123" not in json_logs.stream.getvalue()
    assert "oauth-code-9" not in json_logs.stream.getvalue()


def test_secret_path_arguments_are_masked(client, json_logs):
    client.get("/sharing/r/reader-secret-token-42")
    everything = json_logs.stream.getvalue()
    assert "reader-secret-token-42" not in everything
    (entry,) = _access(json_logs)
    assert entry["path"] == "/sharing/r/[redacted]"


def test_headers_are_never_logged(client, json_logs):
    client.get("/healthz", headers={"Authorization": "Bearer tok-abc", "Cookie": "s=cookie-xyz"})
    everything = json_logs.stream.getvalue()
    assert "tok-abc" not in everything and "cookie-xyz" not in everything


def test_text_lines_carry_the_request_id(client, text_logs):
    client.get("/healthz", headers={"X-Request-ID": "plain-1"})
    (line,) = [line for line in text_logs.lines if "syndicate.access" in line]
    assert "[plain-1]" in line and "GET /healthz 200" in line
    assert line[:20].endswith("Z")


def test_lines_outside_requests_have_no_request_id(json_logs):
    logging.getLogger("syndicate.jobs").warning("tick")
    (entry,) = json_logs.json()
    assert entry["request_id"] is None and entry["message"] == "tick"


@pytest.mark.parametrize(
    ("message", "secret"),
    [
        ("calling with Authorization: Bearer abc.def-ghi", "abc.def-ghi"),
        ("token refresh sent refresh_token=r3fr3sh&client_secret=s3cr3t", "r3fr3sh"),
        ("token refresh sent refresh_token=r3fr3sh&client_secret=s3cr3t", "s3cr3t"),
        ('config {"password": "hunter2"}', "hunter2"),
        ("smtp://mailer:p4ss@mail.example.test:587 refused", "p4ss"),
        ("redis://:r3dis@127.0.0.1:6379/0 down", "r3dis"),
        ("callback /dashboard/connections/callback?code=AQT-code&state=st4te", "AQT-code"),
        ("callback /dashboard/connections/callback?code=AQT-code&state=st4te", "st4te"),
        ("opened https://news.example.test/sharing/r/Zq9-reader", "Zq9-reader"),
        # Every word scrub's quick check looks for, in any case.
        ("sent AUTHORIZATION: Basic dXNlcjpw", "dXNlcjpw"),
        ("sent API_KEY=k3y-value", "k3y-value"),
        ("config PASSWD: pw0rd", "pw0rd"),
        ("verify /hooks/check?signature=s1gn3d", "s1gn3d"),
        ("followed /s/AbC123 to the article", "AbC123"),
    ],
)
def test_scrub_masks_secrets(message, secret):
    cleaned = scrub(message)
    assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_scrub_leaves_ordinary_words_alone():
    text = "post 7 state: failed; status code: 429; basic auth is off; 5 tokens rotated"
    assert scrub(text) == text


# --- process set-up ---------------------------------------------------------------------


def test_configure_logging_json_writes_json_lines_to_stderr():
    program = (
        "import logging\n"
        "from syndicate.web.logging import configure_logging\n"
        "configure_logging({'LOG_FORMAT': 'json', 'LOG_LEVEL': 'info'})\n"
        "logging.getLogger('syndicate.jobs').info('scheduler started password=pw1')\n"
        "logging.getLogger('apscheduler.scheduler').info('chatter')\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    logging.getLogger('syndicate.jobs').exception('job failed')\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True
    )
    entries = [json.loads(line) for line in done.stderr.splitlines()]
    assert [e["message"] for e in entries] == [
        "scheduler started password=[redacted]",
        "job failed",
    ]
    assert "ZeroDivisionError" in entries[1]["exc_info"]
    assert done.stdout == ""


def test_configure_logging_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="text or json"):
        web_logging.dict_config("xml")
