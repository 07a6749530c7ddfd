"""/metrics: the Prometheus text format, request and cache counters, database gauges, access."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask

from syndicate import migrate
from syndicate.db import make_engine
from syndicate.linkedin.models import ConnectionState, LinkedInTarget
from syndicate.models import OutboxMessage, OutboxState
from syndicate.posts.models import PostState
from syndicate.web import metrics
from syndicate.web.metrics import Counters, fold_dead_process, prepare_directory
from tests import factories
from tests.conftest import app_config

ROOT = Path(__file__).resolve().parents[2]
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|NaN|[+-]Inf)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of an exposition, checking the format line by line as Prometheus would."""
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            assert kind in {"counter", "gauge", "untyped"}
            typed.add(name)
            continue
        if line.startswith("# HELP ") or not line:
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a valid sample line: {line!r}"
        name, inside, value = match.groups()
        assert name in typed, f"{name} has no TYPE line before its samples"
        labels = frozenset(_LABEL.findall(inside or ""))
        samples[(name, labels)] = float(value)
    return samples


def value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape(client, **kwargs) -> dict:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.get_data(as_text=True))


def test_requests_are_counted_by_url_rule_method_and_status(client):
    for _ in range(3):
        client.get("/healthz")
    client.get("/articles/first-story")
    client.get("/articles/second-story")
    client.get("/no/such/page")
    client.post("/healthz")
    samples = scrape(client)
    assert value(samples, "syndicate_http_requests_total",
                 route="/healthz", method="GET", status="200") == 3
    # Two different paths, one rule: the label set stays bounded.
    assert value(samples, "syndicate_http_requests_total",
                 route="/articles/<slug>", method="GET", status="404") == 2
    assert value(samples, "syndicate_http_requests_total",
                 route="(unmatched)", method="GET", status="404") == 1
    # Werkzeug matches no rule for a wrong method either.
    assert value(samples, "syndicate_http_requests_total",
                 route="(unmatched)", method="POST", status="405") == 1
    routes = {dict(labels).get("route") for name, labels in samples
              if name == "syndicate_http_requests_total"}
    assert not any("story" in (route or "") for route in routes)


def test_unknown_methods_share_one_label(client):
    client.open("/healthz", method="BREW")
    client.open("/healthz", method="WHATEVER")
    samples = scrape(client)
    methods = {dict(labels)["method"] for name, labels in samples
               if name == "syndicate_http_requests_total"}
    assert "OTHER" in methods and "BREW" not in methods


def test_feed_cache_hits_and_misses_are_counted(client, make_article):
    make_article(title="Cached story")
    client.get("/feeds/rss.xml")
    client.get("/feeds/rss.xml")
    client.get("/feeds/rss.xml", headers={"Accept-Encoding": "gzip"})
    samples = scrape(client)
    assert value(samples, "syndicate_feed_cache_requests_total", result="miss") == 1
    assert value(samples, "syndicate_feed_cache_requests_total", result="hit") == 2


def _connection(session, clock, n: int, *, state=ConnectionState.ACTIVE, expires_in=None,
                refresh=False) -> LinkedInTarget:
    now = clock.now()
    connection = factories.make_connection(
        session, now=now, member_urn=f"urn:li:person:metrics-{n}", name=f"Member {n}", state=state,
        access_token_encrypted="sealed",
        expires_at=now + expires_in if expires_in is not None else None,
        refresh_token_encrypted="sealed-refresh" if refresh else None,
    )
    return factories.make_target(session, now=now, connection=connection)


def _post(session, clock, article, target, state: PostState, due_in: timedelta) -> None:
    """A re-share (one article serves them all) put in ``state``, due ``due_in`` from now."""
    due = clock.now() + due_in
    factories.make_post(session, article=article, target=target, now=clock.now(),
                        site_url="https://news.example.test", reshare=True,
                        state=state, due_at=due, scheduled_at=due)


def test_gauges_come_from_the_database(client, session, clock, make_article):
    article = make_article()
    active = _connection(session, clock, 1, expires_in=timedelta(days=10))
    _connection(session, clock, 2, expires_in=timedelta(days=10), refresh=True)
    _connection(session, clock, 3, expires_in=timedelta(days=30))
    paused = _connection(session, clock, 4, state=ConnectionState.RECONNECT_NEEDED,
                         expires_in=timedelta(days=1))
    _post(session, clock, article, active, PostState.UNKNOWN, -timedelta(seconds=90))
    _post(session, clock, article, active, PostState.SCHEDULED, -timedelta(seconds=30))
    _post(session, clock, article, active, PostState.SCHEDULED, timedelta(hours=1))
    _post(session, clock, article, active, PostState.FAILED, -timedelta(days=1))
    # Waiting for a reconnection on purpose: not dispatcher lag.
    _post(session, clock, article, paused, PostState.SCHEDULED, -timedelta(hours=5))
    now = clock.now()
    for state, available in [(OutboxState.PENDING, now - timedelta(seconds=40)),
                             (OutboxState.PENDING, now + timedelta(minutes=5)),
                             (OutboxState.DEAD, now - timedelta(days=2))]:
        session.add(OutboxMessage(kind="mail", payload={}, state=state, available_at=available,
                                  created_at=now))
    session.flush()

    samples = scrape(client)
    assert value(samples, "syndicate_database_up") == 1
    assert value(samples, "syndicate_posts", state="scheduled") == 3
    assert value(samples, "syndicate_posts", state="unknown") == 1
    assert value(samples, "syndicate_posts", state="failed") == 1
    assert value(samples, "syndicate_posts", state="published") == 0
    assert value(samples, "syndicate_dispatcher_lag_seconds") == 90
    assert value(samples, "syndicate_outbox_messages", kind="mail", state="pending") == 2
    assert value(samples, "syndicate_outbox_messages", kind="mail", state="dead") == 1
    assert value(samples, "syndicate_outbox_lag_seconds") == 40
    assert value(samples, "syndicate_linkedin_connections", state="active") == 3
    assert value(samples, "syndicate_linkedin_connections", state="reconnect_needed") == 1
    # Only the active one that no refresh token will renew.
    assert value(samples, "syndicate_linkedin_tokens_expiring") == 1


def test_nothing_due_means_no_lag(client):
    samples = scrape(client)
    assert value(samples, "syndicate_dispatcher_lag_seconds") == 0
    assert value(samples, "syndicate_outbox_lag_seconds") == 0


def test_unreadable_database_still_answers_with_counters(tmp_path):
    app = create_unreachable_app(tmp_path)
    client = app.test_client()
    client.get("/healthz")
    samples = scrape(client)
    assert value(samples, "syndicate_database_up") == 0
    assert value(samples, "syndicate_http_requests_total",
                 route="/healthz", method="GET", status="200") == 1
    app.extensions["database"].engine.dispose()


def create_unreachable_app(tmp_path: Path) -> Flask:
    from syndicate import create_app

    missing = tmp_path / "no-such-directory" / "db.sqlite"
    return create_app(app_config(f"sqlite:///{missing}", INSTANCE_PATH=str(tmp_path / "i")))


# --- who may read /metrics ---------------------------------------------------------------


def test_remote_clients_get_404(client):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 404


def test_loopback_through_a_proxy_is_not_local(client):
    response = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 404
    response = client.get("/metrics", headers={"Forwarded": "for=203.0.113.9"})
    assert response.status_code == 404


def test_ipv6_loopback_is_local(client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200


def test_bearer_token_opens_metrics_from_anywhere(app, client):
    app.config["METRICS_TOKEN"] = "scrape-" + "s" * 30
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    ok = client.get("/metrics", environ_base=remote,
                    headers={"Authorization": "Bearer scrape-" + "s" * 30})
    assert ok.status_code == 200
    wrong = client.get("/metrics", environ_base=remote, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    basic = client.get("/metrics", environ_base=remote, headers={"Authorization": "Basic eDp5"})
    assert basic.status_code == 403
    assert client.get("/metrics", environ_base=remote).status_code == 404


# --- counters shared between processes ---------------------------------------------------


def test_processes_sharing_a_directory_see_each_others_counts(tmp_path):
    prepare_directory(tmp_path / "m")
    first, second = Counters(tmp_path / "m"), Counters(tmp_path / "m")
    first.inc("syndicate_http_requests_total", route="/a", method="GET", status="200")
    second.inc("syndicate_http_requests_total", 2, route="/a", method="GET", status="200")
    second.flush()
    total, processes = first.collect()
    assert total[("syndicate_http_requests_total",
                  (("method", "GET"), ("route", "/a"), ("status", "200")))] == 3
    assert processes == 2


def test_a_dead_workers_counts_are_kept_once(tmp_path):
    directory = tmp_path / "m"
    prepare_directory(directory)
    key = ("syndicate_http_requests_total", (("method", "GET"), ("route", "/a"),
                                             ("status", "200")))
    (directory / "4242-abc.json").write_text(
        '[["syndicate_http_requests_total", [["method", "GET"], ["route", "/a"], '
        '["status", "200"]], 5]]'
    )
    live = Counters(directory)
    live.inc("syndicate_http_requests_total", route="/a", method="GET", status="200")
    before, _ = live.collect()
    fold_dead_process(directory, 4242)
    fold_dead_process(directory, 4242)  # a second call finds nothing more to fold
    after, _ = live.collect()
    assert before[key] == after[key] == 6
    assert not list(directory.glob("4242-*.json"))


def test_a_new_run_starts_from_zero(tmp_path):
    directory = tmp_path / "m"
    prepare_directory(directory)
    (directory / "1-x.json").write_text('[["syndicate_http_requests_total", [], 9]]')
    prepare_directory(directory)
    assert Counters(directory).collect()[0] == {}


def test_counters_are_flushed_by_the_process_itself(tmp_path, monkeypatch):
    monkeypatch.setattr(metrics, "FLUSH_SECONDS", 0.01)
    directory = tmp_path / "m"
    prepare_directory(directory)
    counting = Counters(directory)
    counting.inc("syndicate_http_requests_total", route="/a", method="GET", status="200")
    deadline = time.monotonic() + 5
    while not list(directory.glob(f"{os.getpid()}-*.json")) and time.monotonic() < deadline:
        time.sleep(0.01)
    reader = Counters(directory)
    assert sum(reader.collect()[0].values()) == 1


def test_label_values_are_escaped():
    text = metrics.render({("syndicate_http_requests_total",
                            (("route", 'a"b\\c\nd'),)): 1.0})
    assert 'route="a\\"b\\\\c\\nd"' in text
    assert parse(text)


# --- the real server: gunicorn with several workers -------------------------------------


def gunicorn_app() -> Flask:
    """What gunicorn serves in the test below (wsgi:app plus the operations hooks)."""
    from syndicate import create_app

    app = create_app()
    # Until config.py lists SYNDICATE_METRICS_DIR, resolve() drops it.
    app.config.setdefault("METRICS_DIR", os.environ.get("SYNDICATE_METRICS_DIR", ""))
    return app


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_workers_share_counters_and_log_json_lines(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "SYNDICATE_ENV": "testing",
        "SYNDICATE_DATABASE_URL": url,
        "SYNDICATE_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATE_BIND": f"127.0.0.1:{port}",
        "SYNDICATE_WORKERS": "3",
        "SYNDICATE_LOG_FORMAT": "json",
    }
    env.pop("SYNDICATE_METRICS_DIR", None)
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
         "tests.web.test_metrics:gunicorn_app()"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server, tmp_path / "gunicorn.log")

        def probe(i: int) -> str:
            answer = requests.get(f"{base}/healthz?token=secret-{i}", timeout=5,
                                  headers={"X-Request-ID": f"probe-{i}"})
            assert answer.status_code == 200
            return answer.headers["X-Request-ID"]

        # Concurrent batches until at least two workers have served some (the others may
        # still be loading the app when the first one answers).
        sent = 0
        ids: set[str] = set()
        deadline = time.monotonic() + 20
        while len(_serving_pids(tmp_path / "gunicorn.log")) < 2 and time.monotonic() < deadline:
            with ThreadPoolExecutor(max_workers=12) as pool:
                ids |= set(pool.map(probe, range(sent, sent + 24)))
            sent += 24
        assert ids == {f"probe-{i}" for i in range(sent)}
        with requests.Session() as browser:
            counted = 0.0
            deadline = time.monotonic() + 10
            while counted < sent and time.monotonic() < deadline:
                samples = parse(browser.get(f"{base}/metrics", timeout=5).text)
                counted = value(samples, "syndicate_http_requests_total",
                                route="/healthz", method="GET", status="200") or 0
                time.sleep(0.2)
        assert counted == sent, f"workers' counters did not add up: {counted} of {sent}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    lines = (tmp_path / "gunicorn.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
    access = [e for e in entries if e["logger"] == "syndicate.access" and e["path"] == "/healthz"]
    assert {e["request_id"] for e in access} == ids
    assert len({e["pid"] for e in access}) >= 2, "expected several workers to serve requests"
    assert all(e["time"].endswith("Z") and e["status"] == 200 for e in access)
    assert "secret-" not in "\n".join(lines)
    assert any(e["logger"] == "gunicorn.error" for e in entries)


def _serving_pids(log: Path) -> set[int]:
    pids = set()
    for line in log.read_text().splitlines():
        if '"syndicate.access"' in line and '"/healthz"' in line:
            pids.add(json.loads(line)["pid"])
    return pids


def _wait_until_up(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited: {log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail(f"gunicorn did not come up: {log.read_text()[-3000:]}")
